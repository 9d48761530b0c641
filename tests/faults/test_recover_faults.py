"""A recovery action killed mid-way: `pgferry recover --retry` of a concurrent index build SIGKILLed
while the build waits for an old snapshot, then the next command.

The index the killed build left (invalid, its attempt stale) must never read as drift to skip
(exit 5, "--skip-drift-check"): an upgrade that runs the migration settles the attempt itself, as
after a killed upgrade; a move that does not run it stops with exit 4, naming the attempt.
"""
from __future__ import annotations

import os
import signal

import psycopg

from tests.faults.harness import in_process, no_traceback, spawn
from tests.support import query, wait_for

FROM, NEXT, BEFORE = "3.22.0", "3.23.0", "3.21.0"
SCHEMA, CIC = "codeintel", 1608100017  # the first 3.23.0 migration of codeintel: CREATE INDEX CONCURRENTLY
INDEX = "lsif_packages_dump_id"  # frontend has a migration 1608100017 too: the id alone is ambiguous


def building(server, dbname: str):
    rows = server.execute("SELECT pid FROM pg_stat_progress_create_index WHERE datid = (SELECT oid FROM pg_database "
                          "WHERE datname = %s) AND phase LIKE 'waiting for old snapshots%%'", [dbname], dbname=dbname)
    return rows[0][0] if rows else None


def killed_retry(product, fault_server, tmp_path) -> str:
    """A database at 3.22.0 whose codeintel 1608100017 retry was SIGKILLed mid-build; its DSN."""
    name, dsn = product.clone("rr")
    code, _, err = in_process("upgrade", "--to", FROM, "--dsn", dsn, "--yes", "--no-progress")
    assert code == 0, err
    with psycopg.connect(dsn) as blocker:  # an open snapshot: the build waits for it to end
        blocker.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        blocker.execute("SELECT count(*) FROM lsif_packages").fetchone()
        proc = spawn(["recover", "--dsn", dsn, "--retry", str(CIC), "--schema", SCHEMA, "--yes"], tmp_path / "retry.log")
        builder = wait_for("the retried index build", lambda: building(fault_server, name))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # the runner set client_connection_check_interval: the server ends the orphaned build
        wait_for("the orphaned build to end", lambda: not query(dsn, "SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                                                [builder]), timeout=20)
    assert query(dsn, "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [INDEX]) == [(False,)]
    assert query(dsn, "SELECT version FROM migration_logs WHERE schema = %s AND success IS NULL", [SCHEMA]) == [(CIC,)]
    return dsn


def test_killed_retry_then_upgrade_settles_the_attempt(product, fault_server, tmp_path):
    dsn = killed_retry(product, fault_server, tmp_path)
    code, out, err = in_process("upgrade", "--to", NEXT, "--dsn", dsn, "--yes", "--no-progress")
    assert code == 0, err
    assert "--skip-drift-check" not in err and no_traceback(err)
    assert f"index invalid: dropped and rebuilt" in err  # the runner settled the stale attempt, as after an upgrade
    assert query(dsn, "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [INDEX]) == [(True,)]
    assert query(dsn, "SELECT count(*) FROM migration_logs WHERE success IS NULL") == [(0,)]
    code, out, err = in_process("recover", "--dsn", dsn)
    assert code == 0 and "nothing to recover" in out, out + err


def test_killed_retry_then_a_move_that_does_not_run_it_exits_4_naming_the_attempt(product, fault_server, tmp_path):
    dsn = killed_retry(product, fault_server, tmp_path)
    code, out, err = in_process("downgrade", "--to", BEFORE, "--dsn", dsn, "--yes", "--no-progress")
    assert code == 4, err
    assert f"error: the database is dirty: {SCHEMA} {CIC} (Index packages by upload) up was cut off" in err
    assert f"pgferry recover --retry {CIC} --schema {SCHEMA} (index {INDEX} is INVALID" in err
    assert "--skip-drift-check" not in err and no_traceback(err)
    assert query(dsn, "SELECT count(*) FROM migration_logs WHERE success IS NULL") == [(1,)]  # nothing changed
