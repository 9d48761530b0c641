"""online-index: the write latency an application sees while an index is built on its table.

The table, built afresh before every build (same data), then VACUUM ANALYZE + CHECKPOINT:

    CREATE TABLE w (id bigserial PRIMARY KEY, k int NOT NULL, v int NOT NULL DEFAULT 0);   -- N rows

The application: pgbench (the embedded server's), a custom script of one-row updates, at a fixed
rate (`-R`, so a blocked client's queue shows up as latency, as it would for real users):

    \\set id random(1, N)
    UPDATE w SET v = v + 1 WHERE id = :id;

Per run, for each variant (order alternating between runs), pgbench starts, runs alone for a lead
time (the baseline), then the index is built on `w (k)`, then pgbench runs on for a tail:

  cic    `pgferry up` of a product whose second migration is
         `CREATE INDEX CONCURRENTLY w_k ON w (k)` (createIndexConcurrently: true); the build
         window is that migration's attempt row in migration_logs (started_at .. finished_at).
  plain  the embedded psql running `CREATE INDEX w_k ON w (k)`; the window is the psql process.

Latency of a transaction = pgbench's per-transaction log value (schedule lag included). The
transactions "during the build" are those whose [end - latency, end] overlaps the build window.
pgbench's duration is fixed up front (-T): a calibration build (plain, no load) sizes it.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import yaml

from . import peers as peers_mod
from .apply1k import libpq_env, pgferry_argv
from .common import Result, percentile, run_measured

SIZES = {"tiny": dict(rows=50_000, rate=100, clients=2, lead=0.8, tail=0.8),
         "full": dict(rows=2_000_000, rate=200, clients=4, lead=2.0, tail=2.0)}
SCRIPT = "\\set id random(1, {rows})\nUPDATE w SET v = v + 1 WHERE id = :id;\n"


def build_table(dsn: str, rows: int, product: Path | None = None) -> None:
    """The table, filled. With `product`, pgferry creates it (its migration 1), so the database is
    pgferry's before it holds data: pgferry refuses a database holding its tables with nothing recorded."""
    if product is not None:
        r = run_measured([*pgferry_argv(), "upto", "--schema", "app", "--target", "1", "--migrations", str(product),
                          "--dsn", dsn, "--no-progress"])
        if r["exit"] != 0:
            raise RuntimeError(f"pgferry upto exited {r['exit']}: {r['stderr'][-500:]}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        if product is None:
            conn.execute("DROP TABLE IF EXISTS w")
            conn.execute("CREATE TABLE w (id bigserial PRIMARY KEY, k int NOT NULL, v int NOT NULL DEFAULT 0)")
        conn.execute("INSERT INTO w (k) SELECT (random() * 1e9)::int FROM generate_series(1, %s)", [rows])
        conn.execute("VACUUM ANALYZE w")
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            pass


def drop_index(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP INDEX IF EXISTS w_k")


def write_product(root: Path) -> Path:
    for mid, parents, up, down, meta in (
        (1, [], "CREATE TABLE IF NOT EXISTS w (id bigserial PRIMARY KEY, k int NOT NULL, v int NOT NULL DEFAULT 0);\n",
         "DROP TABLE IF EXISTS w;\n", {}),
        (2, [1], "CREATE INDEX CONCURRENTLY w_k ON w (k);\n", "DROP INDEX IF EXISTS w_k;\n",
         {"createIndexConcurrently": True}),
    ):
        d = root / "app" / f"{mid}_m{mid}"
        d.mkdir(parents=True)
        (d / "metadata.yaml").write_text(yaml.safe_dump({"name": f"m{mid}", "parents": parents, **meta}))
        (d / "up.sql").write_text(up)
        (d / "down.sql").write_text(down)
    (root / "releases.yaml").write_text(yaml.safe_dump({"releases": [{"version": "1.0.0", "leaves": {"app": [2]}}]}))
    return root


def pgbench(dsn: str, script: Path, prefix: Path, spec: dict, seconds: int) -> subprocess.Popen:
    env = {**os.environ, **libpq_env(dsn)}
    argv = [str(peers_mod.pg_bin("pgbench")), "-n", "-f", str(script), "-c", str(spec["clients"]), "-j", "1",
            "-R", str(spec["rate"]), "-T", str(seconds), "-l", "--log-prefix", str(prefix)]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def read_log(prefix: Path) -> list[tuple[float, float]]:
    """(end epoch seconds, latency seconds) of every transaction pgbench logged."""
    out = []
    for f in prefix.parent.glob(prefix.name + ".*"):
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) < 6 or parts[2] == "skipped":
                continue
            latency_us, epoch, us = int(parts[2]), int(parts[4]), int(parts[5])
            out.append((epoch + us / 1e6, latency_us / 1e6))
        f.unlink()
    return out


def build_cic(dsn: str, product: Path) -> tuple[float, float, float]:
    """pgferry up of the CIC migration: (window start, window end, process wall seconds)."""
    r = run_measured([*pgferry_argv(), "up", "--migrations", str(product), "--dsn", dsn, "--no-progress"])
    if r["exit"] != 0:
        raise RuntimeError(f"pgferry up exited {r['exit']}: {r['stderr'][-500:]}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT extract(epoch FROM started_at), extract(epoch FROM finished_at) FROM migration_logs "
                           "WHERE version = 2 AND success ORDER BY id DESC LIMIT 1").fetchone()
        conn.execute("DELETE FROM migration_logs WHERE version = 2")
    return float(row[0]), float(row[1]), r["wall_s"]


def build_plain(dsn: str) -> tuple[float, float, float]:
    argv = [str(peers_mod.pg_bin("psql")), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "CREATE INDEX w_k ON w (k)", dsn]
    t0 = time.time()
    r = run_measured(argv)
    t1 = time.time()
    if r["exit"] != 0:
        raise RuntimeError(f"psql CREATE INDEX exited {r['exit']}: {r['stderr'][-500:]}")
    return t0, t1, r["wall_s"]


def during(txns: list[tuple[float, float]], lo: float, hi: float) -> list[float]:
    return [lat for end, lat in txns if end >= lo and end - lat <= hi]


def run(*, size: str = "full", runs: int = 5, new_database=None, log=print, **_) -> Result:
    assert new_database is not None, "online-index needs a server"
    spec = SIZES[size]
    res = Result("online-index", {"size": size, "runs": runs, **spec, "script": SCRIPT.format(rows=spec["rows"])})
    for v, label in (("cic", "pgferry up: CREATE INDEX CONCURRENTLY"), ("plain", "psql: plain CREATE INDEX")):
        res.metric(f"{v}_p99", f"{label}: write p99 during build", "s")
        res.metric(f"{v}_max", f"  {v}: write max during build", "s")
        res.metric(f"{v}_build", f"  {v}: build time", "s")
    res.metric("base_p99", "baseline (no build): write p99", "s")
    tmp = Path(tempfile.mkdtemp(prefix="pgferry-bench-cic-"))
    try:
        product = write_product(tmp / "product")
        script = tmp / "update.sql"
        script.write_text(SCRIPT.format(rows=spec["rows"]))
        dsn = new_database()
        log(f"  online-index: building the {spec['rows']:,}-row table; calibration build (no load)")
        build_table(dsn, spec["rows"])
        _, _, calib = build_plain(dsn)
        drop_index(dsn)
        res.info["calibration_build_s"] = round(calib, 3)
        seconds = max(3, int(spec["lead"] + 6 * calib + spec["tail"] + 2))
        res.info["pgbench_seconds"] = seconds
        for i in range(runs):
            order = ("cic", "plain") if i % 2 == 0 else ("plain", "cic")
            per = {}
            for v in order:
                log(f"  online-index run {i + 1}/{runs}: {v} (pgbench {seconds}s at {spec['rate']} tx/s)")
                dsn = new_database()
                build_table(dsn, spec["rows"], product if v == "cic" else None)
                prefix = tmp / f"pgbench_{i}_{v}"
                bench = pgbench(dsn, script, prefix, spec, seconds)
                t_start = time.time()
                time.sleep(spec["lead"])
                lo, hi, wall = build_cic(dsn, product) if v == "cic" else build_plain(dsn)
                _, err = bench.communicate(timeout=seconds + 120)
                if bench.returncode != 0:
                    raise RuntimeError(f"pgbench exited {bench.returncode}: {err.decode()[-500:]}")
                txns = read_log(prefix)
                ended = max(e for e, _ in txns)
                if ended < hi:
                    log(f"  online-index: warning: pgbench ended {hi - ended:.1f}s before the build did")
                lat = during(txns, lo, hi)
                base = [l for e, l in txns if t_start + 0.3 <= e - l and e < lo]
                per[v] = {"window_s": round(hi - lo, 3), "process_s": round(wall, 3), "txns_during": len(lat),
                          "p50_ms": round(1000 * statistics.median(lat), 2) if lat else None,
                          "p99_ms": round(1000 * percentile(lat, 99), 2) if lat else None,
                          "max_ms": round(1000 * max(lat), 2) if lat else None,
                          "baseline_p99_ms": round(1000 * percentile(base, 99), 2) if base else None,
                          "pgbench_covered_build": ended >= hi}
                if lat:
                    res.add(f"{v}_p99", percentile(lat, 99))
                    res.add(f"{v}_max", max(lat))
                res.add(f"{v}_build", hi - lo)
                if base:
                    res.add("base_p99", percentile(base, 99))
            res.info.setdefault("runs", []).append({"order": list(order), **per})
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
