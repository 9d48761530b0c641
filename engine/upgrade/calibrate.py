"""`pgferry calibrate`: measure this server's throughputs for the cost model (docs/design.md §6).

On a TEMP table (any role may make one: no CREATE privilege needed, nothing left behind, invisible
to other sessions) of about the requested size: a sequential scan, a rewrite (ALTER COLUMN TYPE),
an index build, out-of-band style UPDATE batches and a few statements that change only the catalog. The figures are stored in the
calibrations bookkeeping table with the server's version and the time; later plans use the newest.

A temporary table writes no WAL and lives in the session's own buffers. A logged table writes each
new row version to the WAL too: about twice the bytes. So the figures that write rows (rewrite,
batches) are stored divided by WAL_FACTOR (measured by the accuracy benchmark, bench/estimate.py:
out-of-band batches on the demo's tables ran at 0.44x the temporary table's rate; with the factor
the estimates land within 1.5x).
"""
from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Callable

from ..connection import connect

if TYPE_CHECKING:  # the bookkeeping's modules are imported when measuring: `pgferry --help` shows DEFAULT_SIZE_MB
    from ..bookkeeping.calibration import Throughputs

MB = 1024 * 1024
DEFAULT_SIZE_MB = 32
ROW_BYTES = 110  # a generated row below: 8 + 4 + 65-byte text + the tuple header and pointer
CATALOG_SAMPLES = 5
BATCH_ROWS = 5000
WAL_FACTOR = 2.0


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return max(time.perf_counter() - started, 1e-6)


def measure(conn, size_mb: int = DEFAULT_SIZE_MB) -> tuple[Throughputs, int]:
    """The five figures over a scratch temporary table of about `size_mb`, and its size in bytes."""
    conn.execute("SET temp_buffers = '256MB'")  # before the session's first temporary table, or refused
    conn.execute("CREATE TEMP TABLE pgferry_calibration (id bigint, n int, label text)")
    try:
        rows = max(1000, size_mb * MB // ROW_BYTES)
        conn.execute("INSERT INTO pgferry_calibration SELECT g, g %% 1000, md5(g::text) || md5((-g)::text) "
                     "FROM generate_series(1, %s) AS g", [rows])
        conn.execute("SELECT count(*) FROM pgferry_calibration")  # a first read sets hint bits
        scan = _timed(lambda: conn.execute("SELECT count(*) FROM pgferry_calibration WHERE n >= 0"))
        rewrite = _timed(lambda: conn.execute("ALTER TABLE pgferry_calibration ALTER COLUMN n TYPE bigint"))
        heap = conn.execute("SELECT pg_relation_size('pg_temp.pgferry_calibration')").fetchone()[0]
        index = _timed(lambda: conn.execute("CREATE INDEX ON pgferry_calibration (label)"))
        conn.execute("CREATE UNIQUE INDEX ON pgferry_calibration (id)")
        total = conn.execute("SELECT pg_total_relation_size('pg_temp.pgferry_calibration')").fetchone()[0]
        batch_rows, batch_s = _batches(conn, rows)
        catalog = statistics.median(
            _timed(lambda: conn.execute(f"ALTER TABLE pgferry_calibration ADD COLUMN extra_{i} int"))
            for i in range(CATALOG_SAMPLES))
    finally:
        conn.execute("DROP TABLE IF EXISTS pg_temp.pgferry_calibration")
    mb = heap / MB
    from ..bookkeeping.calibration import Throughputs

    figures = Throughputs(scan_mb_s=round(mb / scan, 1), rewrite_mb_s=round(mb / rewrite / WAL_FACTOR, 1),
                          index_mb_s=round(mb / index, 1), catalog_s=round(catalog, 4),
                          batch_mb_s=round(batch_rows * total / rows / MB / batch_s / WAL_FACTOR, 1))
    return figures, heap


def _batches(conn, rows: int) -> tuple[int, float]:
    """An eighth of the rows updated in batches found by key, as the bundled out-of-band migrations
    do (each batch its own transaction): (rows updated, seconds)."""
    size, done, last = BATCH_ROWS, 0, 0
    started = time.perf_counter()
    while done < rows // 8:
        done += conn.execute(
            "UPDATE pgferry_calibration SET n = n + 1 WHERE id = ANY (ARRAY("
            "SELECT id FROM pgferry_calibration WHERE id > %s ORDER BY id LIMIT %s))", [last, size]).rowcount
        last += size
    return done, max(time.perf_counter() - started, 1e-6)


def calibrate(dsn: str, bookkeeping_schema: str = "public", size_mb: int = DEFAULT_SIZE_MB) -> Throughputs:
    """Measure on the server of `dsn` and store the figures there (stamped with version and time)."""
    from ..bookkeeping.calibration import CalibrationLog

    with connect(dsn, role="calibrate") as conn:
        figures, heap = measure(conn, size_mb)
        return CalibrationLog(conn, bookkeeping_schema).record(figures, heap)
