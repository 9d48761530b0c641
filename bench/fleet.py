"""fleet: `pgferry fleet upgrade` of many instances against the same upgrades one at a time.

Instances are databases cloned from one holding the small test product at 1.0.0 (tests/fixtures/
small), each upgraded to 1.2.0 (8 migrations, a 20k-row insert and a concurrent index build among
them). The coordinator is one more database on the same server; bake time 0, one ring.

  wall          the `pgferry fleet upgrade` process, start to exit (interpreter start included)
  singles_sum   the sum of single upgrades of the same instances, one after the other, in this
                process (no interpreter start each): measured on a sample, times the instance count
  speedup       singles_sum / wall
  coordinator   peak RSS of the fleet process (VmHWM), every instance's upgrade running in it
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

from .common import ROOT, Result, run_measured

SMALL = ROOT / "tests" / "fixtures" / "small"
SIZES = {"tiny": (6, 3, 2), "full": (200, 8, 20)}  # instances, max_parallel, singles sampled


def _dsn(admin: str, name: str) -> str:
    return conninfo.make_conninfo(admin, dbname=name)


def _clones(admin: str, template: str, n: int) -> list[str]:
    names = [f"fleet_{uuid.uuid4().hex[:10]}" for _ in range(n)]
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    return names


def _drop(admin: str, names: list[str]) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _inventory(path: Path, admin: str, coordinator: str, names: list[str], parallel: int) -> Path:
    lines = [f"coordinator: '{_dsn(admin, coordinator)}'", "rings: [all]",
             f"defaults: {{max_parallel: {parallel}, halt_after_failures: 1, bake_minutes: 0}}", "instances:"]
    lines += [f"  - {{name: {name}, ring: all, dsn: '{_dsn(admin, name)}'}}" for name in names]
    path.write_text("\n".join(lines) + "\n")
    return path


def _singles(defs, admin: str, names: list[str]) -> list[float]:
    """Each instance upgraded alone, one after the other, as `pgferry upgrade --yes` does it."""
    from pgferry.engine.fleet.instance import upgrade_instance
    from pgferry.engine.fleet.inventory import Instance
    from pgferry.engine.run.runner import RunOptions

    out = []
    for name in names:
        start = time.perf_counter()
        outcome = upgrade_instance(defs, Instance(name, "all", _dsn(admin, name), None), "1.2.0", RunOptions(),
                                   on_started=lambda _: None, on_run=lambda _: None, pause_asked=lambda: False)
        if outcome.status != "succeeded":
            raise RuntimeError(f"single upgrade of {name}: {outcome.reason}")
        out.append(time.perf_counter() - start)
    return out


def run(*, size: str = "full", runs: int = 5, new_database=None, log=print, **_) -> Result:
    from pgferry.engine.definitions.catalog import load
    from pgferry.engine.upgrade.planning import Connections
    from pgferry.engine.upgrade.upgrade import Upgrade

    count, parallel, sample = SIZES[size]
    res = Result("fleet", {"size": size, "runs": runs, "instances": count, "max_parallel": parallel, "sampled": sample})
    res.metric("wall", f"fleet upgrade of {count}, max_parallel {parallel}", "s")
    res.metric("singles", f"sum of {count} single upgrades (from {sample})", "s")
    res.metric("speedup", "singles sum / fleet wall", "ratio", higher_is_better=True)
    res.metric("rss", "coordinator peak RSS", "MiB")
    defs = load(SMALL)
    template_dsn = new_database(keep=True)
    Upgrade(defs, Connections({s: template_dsn for s in defs.schemas})).run("1.0.0")
    template = conninfo.conninfo_to_dict(template_dsn)["dbname"]
    admin = _dsn(template_dsn, "postgres")
    with tempfile.TemporaryDirectory(prefix="pgferry-bench-fleet-") as tmp:
        for n in range(runs):
            names, coordinator = _clones(admin, template, count), f"fleet_coord_{uuid.uuid4().hex[:8]}"
            singles = _clones(admin, template, sample)
            try:
                _drop(admin, [coordinator])
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(coordinator)))
                inventory = _inventory(Path(tmp) / "fleet.yaml", admin, coordinator, names, parallel)
                fleet = run_measured([sys.executable, "-m", "pgferry", "fleet", "upgrade", "--inventory", str(inventory),
                                      "--migrations", str(SMALL), "--to", "1.2.0", "--yes"], cwd=ROOT)
                if fleet["exit"] != 0:
                    raise RuntimeError(f"fleet upgrade exited {fleet['exit']}: {fleet['stderr']}")
                each = statistics.mean(_singles(defs, admin, singles))
            finally:
                _drop(admin, names + singles + [coordinator])
            res.add("wall", fleet["wall_s"])
            res.add("singles", each * count)
            res.add("speedup", each * count / fleet["wall_s"])
            res.add("rss", fleet["maxrss_kib"] / 1024)
            log(f"run {n + 1}: fleet {fleet['wall_s']:.1f} s, single upgrade {each:.2f} s each, "
                f"peak RSS {fleet['maxrss_kib'] / 1024:.0f} MiB")
    return res
