"""no-op: the commands probes and init containers run many times a day, when there is nothing to do.

The bundled product applied (`pgferry up`, untimed) into one database, then per run, interleaved:
  floor         the embedded server's `psql -X -Atc 'select 1'`: a process that connects and asks once
  check         `pgferry check --release V` (V: the newest stable release)
  status        `pgferry status`
  up            `pgferry up --no-progress`: nothing pending
  check (cold)  `check` again with the definitions cache off (a first command on these files)
Each is a fresh process (interpreter start-up and imports count); the cache is filled by one untimed
`status` first (engine/definitions/defcache.py), as after any earlier command on the same files.
The out-of-band migrations are not run, so `check` answers 1 (out-of-band incomplete): the same
reads as a ready answer, and its exit code is recorded.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import peers as peers_mod
from .apply1k import pgferry_argv
from .common import ROOT, Result, run_measured

COMMANDS = {  # metric -> (its arguments, cache on)
    "check": (["check", "--release", "{release}"], True),
    "status": (["status"], True),
    "up": (["up", "--no-progress"], True),
    "check_cold": (["check", "--release", "{release}"], False),
}
TITLES = {"floor": "floor: psql -c 'select 1'", "check": "pgferry check --release V", "status": "pgferry status",
          "up": "pgferry up (nothing pending)", "check_cold": "pgferry check --release V, cache off"}


def _newest_stable() -> str:
    from pgferry.engine.definitions.catalog import bundled_migrations_dir, load

    return [r for r in load(bundled_migrations_dir()).releases.releases if r.channel == "stable"][-1].version


def run(*, size: str = "full", runs: int = 5, new_database=None, log=print, **_) -> Result:
    assert new_database is not None, "no-op needs a server"
    release = _newest_stable()
    res = Result("no-op", {"size": size, "runs": runs, "product": "bundled, every schema in one database",
                           "release": release})
    for name, title in TITLES.items():
        res.metric(name, title, "s")
    cache = Path(tempfile.mkdtemp(prefix="pgferry-bench-noop-"))
    try:
        dsn = new_database()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PGFERRY_")}, "PGFERRY_DSN": dsn,
               "PGFERRY_CACHE_DIR": str(cache)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        argv = pgferry_argv()
        for setup in (["up", "--no-progress"], ["status"]):  # apply everything; fill the cache
            subprocess.run([*argv, *setup], env=env, cwd=ROOT, check=True, capture_output=True)
        floor = [str(peers_mod.pg_bin("psql")), "-X", "-Atc", "select 1", dsn]
        for i in range(runs):
            log(f"  no-op run {i + 1}/{runs}")
            res.add("floor", _timed(floor, env, res))
            for name, (args, cached) in COMMANDS.items():
                run_env = env if cached else {**env, "PGFERRY_CACHE_DIR": "off"}
                res.add(name, _timed([*argv, *(a.format(release=release) for a in args)], run_env, res, name))
        return res
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _timed(argv: list[str], env: dict, res: Result, name: str = "floor") -> float:
    r = run_measured(argv, env=env, cwd=ROOT)
    if r["exit"] not in (0, 1):
        raise RuntimeError(f"{name} exited {r['exit']}: {r['stderr'][-500:]}")
    res.info.setdefault("exit_codes", {})[name] = r["exit"]
    return r["wall_s"]
