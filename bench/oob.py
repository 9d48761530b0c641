"""oob-throughput: pgferry's batched out-of-band runner against one set-based UPDATE.

The table, built afresh (same data) before every timed rewrite, then VACUUM ANALYZE + CHECKPOINT:

    CREATE TABLE t (id bigserial PRIMARY KEY, src int, dst int);      -- N rows, dst NULL
    CREATE INDEX t_todo ON t (id) WHERE dst IS NULL;                  -- what is left to do

The partial index is what a well-written batched migration ships with: it finds the next batch
(and `min(id)` of the rest) without walking over the rows already done, and it shrinks as the
work gets done. Every variant runs on the same table shape, the set-based UPDATE included
(there it costs nothing extra: new row versions have dst set, so they get no entry in it; the
update is non-HOT either way since dst is in the index predicate).

Variants (each runs once per run, in an order rotated from run to run):
  set    one `UPDATE t SET dst = src * 2` through psycopg (autocommit): the floor
  in     BackgroundRunner, up.sql = `... WHERE id IN (SELECT id FROM t WHERE dst IS NULL ORDER BY id
         LIMIT %(batch_size)s)` (the shape of the bundled out-of-band migrations)
  array  the same with `id = ANY (ARRAY(SELECT ...))`: one word changed, and the batch is found by
         primary-key probes instead of a hash semi-join over the whole table (see info.explain)
  range  BackgroundRunner, up.sql = keyset/range batch: from the first id still to do, the next
         %(batch_size)s ids by primary-key range (GitLab's batched migrations use this shape)
Both batched variants: progress.sql `count(dst)/count(*)` (the bundled convention, a full scan),
batchSize 1000 to start, the default target batch duration (0.5 s).

Per batched run the wall time is split into: batch SQL (sum of OobProgress.batch_seconds),
progress.sql (timed by wrapping BackgroundRunner.measure), and the rest (bookkeeping updates,
the pause check, Python). Ramp-up = the batches before the first one reaching half the target.
"""
from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from .common import Result, percentile

SIZES = {"tiny": 20_000, "full": 2_000_000}
RATIO_TARGET = 0.70
START_BATCH = 1000

PROGRESS_SQL = "SELECT CASE WHEN count(*) = 0 THEN 1 ELSE count(dst)::float8 / count(*) END FROM t;\n"
VARIANTS = {
    "in": (
        "UPDATE t SET dst = src * 2\n"
        "WHERE id IN (SELECT id FROM t WHERE dst IS NULL ORDER BY id LIMIT %(batch_size)s);\n"
    ),
    "array": (
        "UPDATE t SET dst = src * 2\n"
        "WHERE id = ANY (ARRAY(SELECT id FROM t WHERE dst IS NULL ORDER BY id LIMIT %(batch_size)s));\n"
    ),
    "range": (
        "WITH lo AS (SELECT min(id) AS id FROM t WHERE dst IS NULL)\n"
        "UPDATE t SET dst = src * 2 FROM lo\n"
        "WHERE t.id >= lo.id AND t.id < lo.id + %(batch_size)s AND t.dst IS NULL;\n"
    ),
}
SETTINGS = ("server_version", "shared_buffers", "work_mem", "maintenance_work_mem", "max_wal_size", "fsync",
            "synchronous_commit", "full_page_writes", "autovacuum")


def server_facts(dsn: str) -> tuple[str, dict]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        settings = {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in SETTINGS}
    return settings.pop("server_version"), settings


def build_table(conn: psycopg.Connection, rows: int) -> None:
    conn.execute("DROP TABLE IF EXISTS t")
    conn.execute("CREATE TABLE t (id bigserial PRIMARY KEY, src int, dst int)")
    conn.execute("INSERT INTO t (src) SELECT g FROM generate_series(1, %s) AS g", [rows])
    conn.execute("CREATE INDEX t_todo ON t (id) WHERE dst IS NULL")
    conn.execute("VACUUM ANALYZE t")
    try:
        conn.execute("CHECKPOINT")  # start each timed rewrite with no dirty buffers from the build
    except psycopg.errors.InsufficientPrivilege:
        pass


def verify(conn: psycopg.Connection, rows: int) -> None:
    bad, n = conn.execute("SELECT count(*) FILTER (WHERE dst IS DISTINCT FROM src * 2), count(*) FROM t").fetchone()
    assert n == rows and bad == 0, f"rewrite incomplete: {bad} of {n} rows wrong"


def make_oob(tmp: Path, oid: int, up: str):
    from pgferry.engine.definitions.outofband import load_out_of_band
    from tests.fixtures.synthetic import write_out_of_band

    root = tmp / f"migrations-{oid}"
    write_out_of_band(root, oid, schema="app", introduced="1.0.0", slug="rewrite_t", progress=PROGRESS_SQL, up=up,
                      down=None, nonDestructive=True, batchSize=START_BATCH)
    findings: list = []
    oobs = load_out_of_band(root, findings)
    assert not findings and oid in oobs, [str(f) for f in findings]
    return oobs[oid]


def run_set_based(conn: psycopg.Connection, rows: int) -> float:
    t = time.perf_counter()
    n = conn.execute("UPDATE t SET dst = src * 2").rowcount
    elapsed = time.perf_counter() - t
    assert n == rows, n
    return elapsed


def run_batched(dsn: str, conn: psycopg.Connection, oob, rows: int) -> dict:
    from pgferry.engine.events import OobProgress
    from pgferry.engine.run.background import BackgroundRunner

    class TimedRunner(BackgroundRunner):
        measure_s = 0.0
        measures = 0

        def measure(self, c):
            t = time.perf_counter()
            try:
                return super().measure(c)
            finally:
                self.measure_s += time.perf_counter() - t
                self.measures += 1

    # A fresh record: a stored batch_size would carry the previous run's tuning over.
    if conn.execute("SELECT to_regclass('public.out_of_band_migrations') IS NOT NULL").fetchone()[0]:
        conn.execute("DELETE FROM public.out_of_band_migrations WHERE id = %s", [oob.id])
    events: list = []
    runner = TimedRunner(dsn, oob, on_event=events.append)
    t = time.perf_counter()
    status = runner.run()
    wall = time.perf_counter() - t
    assert status == "complete", status
    batches = [e for e in events if isinstance(e, OobProgress) and e.batch_rows > 0]
    done = sum(e.batch_rows for e in batches)
    assert done == rows, (done, rows)
    secs = [e.batch_seconds for e in batches]
    target = oob.target_batch_seconds
    ramp = next((i for i, e in enumerate(batches) if e.batch_seconds >= target / 2), len(batches))
    steady = batches[ramp:]
    steady_secs = sum(e.batch_seconds for e in steady)
    return {
        "wall_s": wall, "rows_per_s": rows / wall, "batches": len(batches),
        "batch_p50_s": statistics.median(secs), "batch_p95_s": percentile(secs, 95), "batch_max_s": max(secs),
        "batches_over_target": sum(s > target for s in secs), "batches_over_2x_target": sum(s > 2 * target for s in secs),
        "batch_sql_s": sum(secs), "measure_s": runner.measure_s, "measures": runner.measures,
        "other_s": wall - sum(secs) - runner.measure_s,
        "ramp_batches": ramp, "ramp_s": sum(e.batch_seconds for e in batches[:ramp]),
        "steady_batch_size_p50": statistics.median(e.batch_rows for e in steady) if steady else None,
        "steady_sql_rows_per_s": (sum(e.batch_rows for e in steady) / steady_secs) if steady_secs else None,
        "target_batch_s": target,
    }


def explain(conn: psycopg.Connection, rows: int, batch_sizes: dict[str, int]) -> dict:
    """Plan of one steady-size batch per variant (EXPLAIN ANALYZE, rolled back), on a fresh table."""
    out = {}
    for name, up in VARIANTS.items():
        build_table(conn, rows)
        size = int(batch_sizes.get(name) or START_BATCH)
        with conn.transaction(force_rollback=True):
            lines = conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON, SUMMARY ON) " + up.rstrip().rstrip(";"),
                                 {"batch_size": size}).fetchall()
        out[name] = {"batch_size": size, "plan": [r[0] for r in lines]}
    conn.execute("DROP TABLE IF EXISTS t")
    return out


def run(*, size: str = "full", runs: int = 5, new_database=None, log=print, rows: int | None = None, **_) -> Result:
    assert new_database is not None, "oob-throughput needs a server"
    rows = rows or SIZES[size]
    res = Result("oob-throughput", {"size": size, "runs": runs, "rows": rows, "start_batch_size": START_BATCH,
                                    "variants": VARIANTS, "progress_sql": PROGRESS_SQL})
    res.metric("set", "set-based UPDATE (psycopg)", "rows/s", higher_is_better=True)
    for v in VARIANTS:
        res.metric(f"{v}_rate", f"BackgroundRunner, {v} batches", "rows/s", higher_is_better=True)
        res.metric(f"{v}_ratio", f"  {v}: rate / set-based rate", "ratio", target=RATIO_TARGET, higher_is_better=True)
        res.metric(f"{v}_p50", f"  {v}: batch duration p50", "s")
        res.metric(f"{v}_max", f"  {v}: batch duration max", "s")
        res.metric(f"{v}_sql", f"  {v}: wall share, batch SQL", "%")
        res.metric(f"{v}_measure", f"  {v}: wall share, progress.sql", "%")
        res.metric(f"{v}_other", f"  {v}: wall share, bookkeeping+other", "%")
        res.metric(f"{v}_steady", f"  {v}: steady-batch SQL rate / set-based", "ratio")
    tmp = Path(tempfile.mkdtemp(prefix="pgferry-bench-oob-"))
    try:
        oobs = {v: make_oob(tmp, i + 1, up) for i, (v, up) in enumerate(VARIANTS.items())}
        order = ["set", *VARIANTS]
        last_dsn = None
        for i in range(runs):
            dsn = last_dsn = new_database()
            if "server_version" not in res.info:
                res.info["server_version"], res.info["server_settings"] = server_facts(dsn)
            rotated = order[i % len(order):] + order[: i % len(order)]
            per_run: dict = {}
            with psycopg.connect(dsn, autocommit=True) as conn:
                for v in rotated:
                    log(f"  oob-throughput run {i + 1}/{runs}: {v} ({rows:,} rows)")
                    build_table(conn, rows)
                    if v == "set":
                        per_run["set"] = {"wall_s": run_set_based(conn, rows)}
                        per_run["set"]["rows_per_s"] = rows / per_run["set"]["wall_s"]
                    else:
                        per_run[v] = run_batched(dsn, conn, oobs[v], rows)
                    verify(conn, rows)
                    conn.execute("DROP TABLE t")
            set_rate = per_run["set"]["rows_per_s"]
            res.add("set", set_rate)
            for v in VARIANTS:
                r = per_run[v]
                res.add(f"{v}_rate", r["rows_per_s"])
                res.add(f"{v}_ratio", r["rows_per_s"] / set_rate)
                res.add(f"{v}_p50", r["batch_p50_s"])
                res.add(f"{v}_max", r["batch_max_s"])
                res.add(f"{v}_sql", 100 * r["batch_sql_s"] / r["wall_s"])
                res.add(f"{v}_measure", 100 * r["measure_s"] / r["wall_s"])
                res.add(f"{v}_other", 100 * r["other_s"] / r["wall_s"])
                if r["steady_sql_rows_per_s"]:
                    res.add(f"{v}_steady", r["steady_sql_rows_per_s"] / set_rate)
            res.info.setdefault("runs", []).append(
                {"order": rotated, **{k: {kk: (round(vv, 4) if isinstance(vv, float) else vv) for kk, vv in d.items()}
                                      for k, d in per_run.items()}})
        if size == "full" and last_dsn:
            log("  oob-throughput: EXPLAIN ANALYZE of one steady-size batch per variant (not timed)")
            sizes = {v: statistics.median(r[v]["steady_batch_size_p50"] or START_BATCH for r in res.info["runs"])
                     for v in VARIANTS}
            with psycopg.connect(last_dsn, autocommit=True) as conn:
                res.info["explain"] = explain(conn, rows, sizes)
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
