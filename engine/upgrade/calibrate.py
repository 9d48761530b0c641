"""`pgferry calibrate`: measure this server's throughputs for the cost model (docs/design.md §6).

On a TEMP table (any role may make one: no CREATE privilege needed, nothing left behind, invisible
to other sessions) of about the requested size: a sequential scan, a rewrite (ALTER COLUMN TYPE),
an index build, and a few statements that change only the catalog. The figures are stored in the
calibrations bookkeeping table with the server's version and the time; later plans use the newest.

A temporary table writes no WAL and lives in the session's own buffers, so the rewrite figure is
on the fast side of what a logged table of the same size sees; the accuracy benchmark
(bench/estimate.py) measures how far the estimates land from real runs.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

from ..bookkeeping.calibration import CalibrationLog, Throughputs
from ..connection import connect

MB = 1024 * 1024
DEFAULT_SIZE_MB = 32
ROW_BYTES = 110  # a generated row below: 8 + 4 + 65-byte text + the tuple header and pointer
CATALOG_SAMPLES = 5


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return max(time.perf_counter() - started, 1e-6)


def measure(conn, size_mb: int = DEFAULT_SIZE_MB) -> tuple[Throughputs, int]:
    """The four figures over a scratch temporary table of about `size_mb`, and its size in bytes."""
    conn.execute("SET temp_buffers = '256MB'")  # before the session's first temporary table, or refused
    conn.execute("CREATE TEMP TABLE pgferry_calibration (id bigint, n int, label text)")
    try:
        rows = max(1000, size_mb * MB // ROW_BYTES)
        conn.execute("INSERT INTO pgferry_calibration SELECT g, g %% 1000, md5(g::text) || md5((-g)::text) "
                     "FROM generate_series(1, %s) AS g", [rows])
        heap = conn.execute("SELECT pg_relation_size('pg_temp.pgferry_calibration')").fetchone()[0]
        conn.execute("SELECT count(*) FROM pgferry_calibration")  # a first read sets hint bits
        scan = _timed(lambda: conn.execute("SELECT count(*) FROM pgferry_calibration WHERE n >= 0"))
        rewrite = _timed(lambda: conn.execute("ALTER TABLE pgferry_calibration ALTER COLUMN n TYPE bigint"))
        heap = conn.execute("SELECT pg_relation_size('pg_temp.pgferry_calibration')").fetchone()[0]
        index = _timed(lambda: conn.execute("CREATE INDEX ON pgferry_calibration (label)"))
        catalog = statistics.median(
            _timed(lambda: conn.execute(f"ALTER TABLE pgferry_calibration ADD COLUMN extra_{i} int"))
            for i in range(CATALOG_SAMPLES))
    finally:
        conn.execute("DROP TABLE IF EXISTS pg_temp.pgferry_calibration")
    mb = heap / MB
    figures = Throughputs(scan_mb_s=round(mb / scan, 1), rewrite_mb_s=round(mb / rewrite, 1),
                          index_mb_s=round(mb / index, 1), catalog_s=round(catalog, 4))
    return figures, heap


def calibrate(dsn: str, bookkeeping_schema: str = "public", size_mb: int = DEFAULT_SIZE_MB) -> Throughputs:
    """Measure on the server of `dsn` and store the figures there (stamped with version and time)."""
    with connect(dsn, role="calibrate") as conn:
        figures, heap = measure(conn, size_mb)
        return CalibrationLog(conn, bookkeeping_schema).record(figures, heap)
