"""Out-of-band progress measured now (engine/run/progress.py): a database's progress.sql files in one
read-only statement, each on its own when one of them fails, never ending a caller's transaction."""
from __future__ import annotations

import psycopg

from pgferry.engine.run.progress import MEASURED, measure_all
from tests.support import bundled

OOBS = bundled().out_of_band  # 1 reads repo.stars, 2 lsif_uploads.indexer_name


def test_one_failing_progress_sql_counts_alone_as_not_started(database):
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE TABLE repo (stars int); INSERT INTO repo VALUES (1), (NULL), (3), (4)")
        both = measure_all(conn, [OOBS[1], OOBS[2]])  # lsif_uploads is not there
        assert both[1] == (0.75, True, MEASURED)
        assert both[2][:2] == (0.0, False) and "lsif_uploads" in both[2][2]
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # out of the failed transaction
        assert measure_all(conn, [OOBS[1]]) == {1: (0.75, True, MEASURED)}


def test_measuring_inside_a_transaction_leaves_it_open(database):
    with psycopg.connect(database) as conn:  # not autocommit: the first statement opens a transaction
        conn.execute("CREATE TABLE repo (stars int)")
        assert measure_all(conn, [OOBS[1]]) == {1: (1.0, True, MEASURED)}  # no rows: nothing to do
        conn.rollback()
        assert conn.execute("SELECT to_regclass('repo')").fetchone() == (None,)  # the caller's to roll back
