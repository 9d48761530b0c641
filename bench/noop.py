"""no-op: the commands probes and init containers run many times a day, when there is nothing to do.

The bundled product applied (`pgferry up`, untimed) into one database, then per run, interleaved:
  floor         the embedded server's `psql -X -Atc 'select 1'`: a process that connects and asks once
  driver        `python -c` importing psycopg, connecting and asking `select 1` once: pgferry's own
                floor (the same interpreter, driver and DSN; psycopg's import is most of it)
  check         `pgferry check --release V` (V: the newest stable release)
  status        `pgferry status`
  up            `pgferry up --no-progress`: nothing pending
  check (cold)  `check` again with the definitions cache off (a first command on these files)
  dbmate        `dbmate status` and `dbmate up` with nothing pending, on a database dbmate migrated
                with as many migrations (one table each, bench/apply1k.py's), when dbmate is installed
  baseline      with PGFERRY_BENCH_BASELINE set to another checkout's `pgferry` command (e.g. main's
                .venv/bin/pgferry), check, status and up run by it too, in the same rounds
Each is a fresh process (interpreter start-up and imports count), timed wall and cpu (user + system:
on a loaded host the steadier figure); the cache is filled by one untimed
`status` first (engine/definitions/defcache.py), as after any earlier command on the same files.
The out-of-band migrations are not run, so `check` answers 1 (out-of-band incomplete, measured on
the live data): the same reads as a ready answer, and its exit code is recorded.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import peers as peers_mod
from .apply1k import dbmate_url, pgferry_argv, write_dbmate
from .common import ROOT, Result, run_measured

COMMANDS = {  # metric -> (its arguments, cache on)
    "check": (["check", "--release", "{release}"], True),
    "status": (["status"], True),
    "up": (["up", "--no-progress"], True),
    "check_cold": (["check", "--release", "{release}"], False),
}
TITLES = {"floor": "floor: psql -c 'select 1'", "driver": "driver: python, psycopg, connect, select 1",
          "check": "pgferry check --release V", "status": "pgferry status", "up": "pgferry up (nothing pending)",
          "check_cold": "pgferry check --release V, cache off", "dbmate_status": "dbmate status",
          "dbmate_up": "dbmate up (nothing pending)"}
BASELINE = ("check", "status", "up")  # what PGFERRY_BENCH_BASELINE's pgferry runs too
DRIVER = "import os, psycopg; psycopg.connect(os.environ['PGFERRY_DSN']).execute('select 1').fetchall()"


def _newest_stable() -> str:
    from pgferry.engine.definitions.catalog import bundled_migrations_dir, load

    return [r for r in load(bundled_migrations_dir()).releases.releases if r.channel == "stable"][-1].version


def run(*, size: str = "full", runs: int = 5, new_database=None, log=print, work: Path | None = None,
        install: bool = True, **_) -> Result:
    assert new_database is not None, "no-op needs a server"
    release = _newest_stable()
    baseline = shlex.split(os.environ.get("PGFERRY_BENCH_BASELINE", ""))
    res = Result("no-op", {"size": size, "runs": runs, "product": "bundled, every schema in one database",
                           "release": release, "baseline": " ".join(baseline) or None})
    titles = {**TITLES, **{f"{name}_baseline": f"{TITLES[name]} (baseline)" for name in BASELINE if baseline}}
    for name, title in titles.items():
        res.metric(name, title, "s")
    for name, title in titles.items():  # user + system time: what a loaded host changes least
        res.metric(f"{name}_cpu", f"{title}, cpu", "s")
    tmp = Path(tempfile.mkdtemp(prefix="pgferry-bench-noop-"))
    try:
        dsn = new_database(keep=True)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PGFERRY_")}, "PGFERRY_DSN": dsn,
               "PGFERRY_CACHE_DIR": str(tmp)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        argv = pgferry_argv()
        warm = [[*argv, "up", "--no-progress"], [*argv, "status"], *([[*baseline, "status"]] if baseline else [])]
        for setup in warm:  # apply everything; fill the caches
            subprocess.run(setup, env=env, cwd=ROOT, check=True, capture_output=True)
        dbmate = _dbmate(work, install, log, new_database(keep=True), _applied(dsn), tmp, res)
        timed = {"floor": [str(peers_mod.pg_bin("psql")), "-X", "-Atc", "select 1", dsn],
                 "driver": [sys.executable, "-c", DRIVER],
                 **{name: [*argv, *(a.format(release=release) for a in args)] for name, (args, _) in COMMANDS.items()},
                 **{f"dbmate_{verb}": [*dbmate, verb] for verb in ("status", "up") if dbmate},
                 **{f"{name}_baseline": [*baseline, *(a.format(release=release) for a in COMMANDS[name][0])]
                    for name in BASELINE if baseline}}
        for i in range(runs):
            log(f"  no-op run {i + 1}/{runs}")
            for name, command in timed.items():
                cached = COMMANDS.get(name.removesuffix("_baseline"), ([], True))[1]
                r = _timed(command, env if cached else {**env, "PGFERRY_CACHE_DIR": "off"}, res, name)
                res.add(name, r["wall_s"])
                res.add(f"{name}_cpu", r["cpu_s"])
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _applied(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(DISTINCT (schema, version)) FROM migration_logs WHERE success AND up"
                            ).fetchone()[0]


def _dbmate(work: Path | None, install: bool, log, dsn: str, n: int, tmp: Path, res: Result) -> list[str]:
    """dbmate's command on a database it migrated with `n` migrations (untimed), or [] without dbmate."""
    found = peers_mod.dbmate((work or Path(tempfile.gettempdir()) / "pgferry-bench-work") / "peers", install,
                             tmp / "install.log")
    res.info["dbmate"] = found.as_dict()
    if not found.ok:
        log(f"  dbmate: {found.why}")
        return []
    root = write_dbmate(tmp / "dbmate", n)
    command = [str(found.paths["dbmate"]), "--url", dbmate_url(dsn), "--migrations-dir", str(root / "migrations"),
               "--no-dump-schema"]
    subprocess.run([*command, "up"], check=True, capture_output=True)
    res.info["dbmate_migrations"] = n
    return command


def _timed(argv: list[str], env: dict, res: Result, name: str) -> dict:
    r = run_measured(argv, env=env, cwd=ROOT)
    if r["exit"] not in (0, 1):
        raise RuntimeError(f"{name} exited {r['exit']}: {r['stderr'][-500:]}")
    res.info.setdefault("exit_codes", {})[name] = r["exit"]
    return r
