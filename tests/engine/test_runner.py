"""The runner on a real PostgreSQL: the seven running semantics of docs/design.md §7.

Crash tests run the command line in a subprocess and SIGKILL it at a moment observed in the
server's own views (pg_stat_activity, pg_stat_progress_create_index), then run the same
command again. Every wait is a poll with a deadline, never a bare sleep.
"""
from __future__ import annotations

import os
import signal
import threading
import time

import psycopg
import pytest

from pgferry.engine.bookkeeping.bookkeeping import MigrationLog
from pgferry.engine.definitions.catalog import load
from pgferry.engine.errors import ConnectionLost, MigrationFailed
from pgferry.engine.events import (
    Collector, IndexRepaired, LockRetry, LockWait, MigrationFinished, Retrying, StaleAttempt, WaitingForBuild,
    WaitingForLock,
)
from pgferry.engine.locks import LockWaitTimeout, lock_key
from pgferry.engine.run.runner import RunOptions
from tests.support import (
    FAILING_UP, INDEX, LOCKY, SMALL, add_migration, backend_alive, chain, cic_waiting, cli_args, columns, execute, exists,
    index_valid, log_rows, migrate, old_snapshot, query, run_cli, say, state, up_to, wait_for,
)


TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def report_timings(request):
    """Show what the crash tests measured (the numbers docs/faults.md quotes) after the run."""
    yield
    if TIMINGS:
        say(request, "\n" + "\n".join(f"runner timing: {what}: {seconds:.2f}s" for what, seconds in TIMINGS.items()))


@pytest.fixture
def second_database(pg_server):
    dsn = pg_server.create_database()
    yield dsn
    pg_server.drop_database(dsn)


def shape(dsn: str) -> dict[str, list[tuple]]:
    """What a person would call 'the schema': columns, indexes, constraints, views, extensions."""
    skip = "migration_logs"
    return {
        "columns": query(dsn, """
            SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default
            FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> %s ORDER BY 1, 3""",
                         [skip]),
        "indexes": query(dsn, "SELECT tablename, indexname, indexdef FROM pg_indexes "
                              "WHERE schemaname = 'public' AND tablename <> %s ORDER BY 2", [skip]),
        "constraints": query(dsn, """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> %s ORDER BY 2""", [skip]),
        "views": query(dsn, "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1"),
        "extensions": query(dsn, "SELECT extname FROM pg_extension ORDER BY 1"),
        "users": query(dsn, "SELECT count(*), count(DISTINCT email) FROM users"),
    }


# -- 1. the diamond: order and targets ---------------------------------------------------------


def test_diamond_up_down_and_to_set_follow_order_and_targets(database, small_defs):
    g = small_defs.schemas["main"]

    result, _ = migrate(database, g, up_to(g, [12]))  # the right branch only
    assert result.applied == [10, 12]
    assert log_rows(database, "main") == [
        (10, True, True, False), (1, True, True, True), (2, True, True, True), (3, True, True, True),
        (12, True, True, False),
    ]
    assert "slug" in columns(database, "orgs") and "bio" not in columns(database, "users")

    result, _ = migrate(database, g, up_to(g, [13]))  # the merge pulls in the left branch first
    assert result.applied == [11, 13]
    assert "bio" in columns(database, "users") and exists(database, "user_profiles")

    result, _ = migrate(database, g, lambda a: g.down(a, [11]))  # 11 stays: only its descendant goes
    assert (result.applied, result.reverted) == ([], [13])
    assert not exists(database, "user_profiles") and "bio" in columns(database, "users")

    result, _ = migrate(database, g, lambda a: g.down(a, [10]))  # both branches, newest id first
    assert result.reverted == [12, 11]
    assert "bio" not in columns(database, "users") and "slug" not in columns(database, "orgs")
    assert exists(database, "users")  # the target itself stays applied

    result, _ = migrate(database, g, lambda a: g.to_set(a, [13]))
    assert (result.applied, result.reverted) == ([11, 12, 13], [])
    result, _ = migrate(database, g, lambda a: g.to_set(a, [11]))  # reverts first, applies nothing
    assert (result.applied, result.reverted) == ([], [13, 12])
    result, _ = migrate(database, g, lambda a: g.to_set(a, [12]))  # across the diamond: 11 out, 12 in
    assert (result.applied, result.reverted) == ([12], [11])
    assert "slug" in columns(database, "orgs") and "bio" not in columns(database, "users")
    assert state(database, "main").applied == {1, 2, 3, 10, 12}

    directions = [(v, up) for v, up, success, backfilled in log_rows(database, "main") if not backfilled]
    assert directions == [(10, True), (12, True), (11, True), (13, True),
        (13, False), (12, False), (11, False), (11, True), (12, True), (13, True),
        (13, False), (12, False), (11, False), (12, True),
    ]
    assert all(success for _, _, success, _ in log_rows(database, "main"))


# -- 2. squash on an empty database, originals on a half-migrated one --------------------------


def test_squash_on_empty_database_and_originals_on_half_migrated_give_the_same_schema(
        database, second_database, small_defs):
    g = small_defs.schemas["main"]
    fresh, half = database, second_database

    result, _ = migrate(fresh, g, up_to(g, g.leaves()))
    assert result.applied == [10, 11, 12, 13, 14, 15, 16]
    rows = log_rows(fresh, "main")
    assert [r for r in rows if r[0] in (1, 2, 3)] == [(1, True, True, True), (2, True, True, True),
                                                       (3, True, True, True)]
    assert [r[0] for r in rows if not r[3]] == [10, 11, 12, 13, 14, 15, 16]

    result, _ = migrate(half, g, up_to(g, [1]))
    assert result.applied == [1]
    result, _ = migrate(half, g, up_to(g, g.leaves()))
    assert result.applied == [2, 3, 11, 12, 13, 14, 15, 16]
    assert not [r for r in log_rows(half, "main") if r[0] == 10]  # the squash never ran here
    assert not [r for r in log_rows(half, "main") if r[3]]  # and nothing was backfilled
    assert g.normalize(state(half, "main").applied) == g.normalize(state(fresh, "main").applied)

    a, b = shape(fresh), shape(half)
    assert a["columns"] and a["indexes"] and a["constraints"] and a["views"]
    for key in a:
        assert a[key] == b[key], key


# -- 3. a failing statement ----------------------------------------------------------------------


def test_failing_statement_rolls_back_reports_its_line_and_is_retried(database, small_copy):
    add_migration(small_copy, "aux", 4, "failing", FAILING_UP, "DROP TABLE IF EXISTS fail_a, fail_b, fail_c;\n",
                  parents=[3])
    g = load(small_copy).schemas["aux"]

    with pytest.raises(MigrationFailed) as info:
        migrate(database, g, up_to(g, g.leaves()))
    failure = info.value.failure
    assert (failure.migration_id, failure.line, failure.sqlstate) == (4, 5, "42703")
    assert "aux/4_failing/up.sql:5:" in str(info.value) and "no_such_column" in str(info.value)
    assert "rolled back" in str(info.value)
    # the earlier statements of the migration rolled back with it; the earlier migrations stayed
    assert not exists(database, "fail_a") and not exists(database, "fail_b")
    assert state(database, "aux").applied == {1, 2, 3}
    assert query(database, "SELECT count(*) FROM migration_logs WHERE success IS NULL") == [(0,)]
    failed = log_rows(database, "aux", "version", "success", "error_sqlstate", "error_line", "error_statement")
    assert [r[:4] for r in failed if r[0] == 4] == [(4, False, "42703", 5)]
    assert "no_such_column" in failed[-1][4]
    assert set(state(database, "aux").failed) == {4}

    # the next run retries it (and fails the same way while the SQL is unchanged)
    again = Collector()
    with pytest.raises(MigrationFailed):
        migrate(database, g, up_to(g, g.leaves()), on_event=again)
    assert [e.migration_id for e in again.of(Retrying)] == [4]
    # fixed: the run retries it and completes
    (small_copy / "aux" / "4_failing" / "up.sql").write_text(FAILING_UP.replace("no_such_column", "id AS fixed"))
    g = load(small_copy).schemas["aux"]
    result, seen = migrate(database, g, up_to(g, g.leaves()))
    assert result.applied == [4]
    assert [e.migration_id for e in seen.of(Retrying)] == [4]
    assert "no_such_column" in seen.of(Retrying)[0].previous_error
    assert all(exists(database, t) for t in ("fail_a", "fail_b", "fail_c"))
    s = state(database, "aux")
    assert s.applied == {1, 2, 3, 4} and not s.failed and not s.dirty
    assert [r[1] for r in log_rows(database, "aux") if r[0] == 4] == [True, True, True]  # up, up, up
    assert [r[2] for r in log_rows(database, "aux") if r[0] == 4] == [False, False, True]


# -- 3b. pipelined batches: a later migration never commits after a failure or a stop ---------


def test_failure_mid_batch_keeps_the_ones_before_and_runs_none_after(database, small_copy):
    chain(small_copy,
          "CREATE TABLE batch_a (id int);\n",
          "CREATE TABLE batch_b (id int);\nINSERT INTO batch_b\n  SELECT nope FROM batch_a;\n",
          "CREATE TABLE batch_c (id int);\n")
    g = load(small_copy).schemas["aux"]
    with pytest.raises(MigrationFailed) as info:
        migrate(database, g, up_to(g, g.leaves()))
    failure = info.value.failure
    # the statement that failed, at its own line, though all three were sent before it ran
    assert (failure.migration_id, failure.line, failure.sqlstate) == (5, 3, "42703")
    assert failure.statement.startswith("INSERT INTO batch_b")
    assert exists(database, "batch_a") and not exists(database, "batch_b") and not exists(database, "batch_c")
    s = state(database, "aux")
    assert s.applied == {1, 2, 3, 4} and set(s.failed) == {5}
    assert query(database, "SELECT count(*) FROM migration_logs WHERE version = 6") == [(0,)]


def test_stop_asked_between_migrations_rolls_back_the_one_already_sent(database, small_copy):
    # Migration 5 takes a moment, so its statements are surely on the server (sent with 4's COMMIT)
    # when the sink stops the run at 4's MigrationFinished.
    chain(small_copy,
          "CREATE TABLE stop_a (id int);\n",
          "CREATE TABLE stop_b (id int);\nSELECT pg_sleep(0.3);\n",
          "CREATE TABLE stop_c (id int);\n")
    g = load(small_copy).schemas["aux"]

    class Stop(Exception):
        pass

    def stop_after_first(e):
        if isinstance(e, MigrationFinished) and e.migration_id == 4:
            raise Stop

    with pytest.raises(Stop):
        migrate(database, g, up_to(g, g.leaves()), on_event=stop_after_first)
    assert exists(database, "stop_a") and not exists(database, "stop_b") and not exists(database, "stop_c")
    assert state(database, "aux").applied == {1, 2, 3, 4}
    assert query(database, "SELECT count(*) FROM migration_logs WHERE version IN (5, 6)") == [(0,)]
    # nothing is left holding locks: the next run applies the rest
    result, _ = migrate(database, g, up_to(g, g.leaves()))
    assert result.applied == [5, 6]


# -- 4. a process killed mid-transaction ------------------------------------------------------


SLEEPY_UP = """\
ALTER TABLE aux_jobs ADD COLUMN IF NOT EXISTS note text;
SELECT pg_sleep(30);
CREATE TABLE IF NOT EXISTS sleepy_b (id int);
"""


def test_kill_mid_transaction_leaves_nothing_and_the_rerun_completes_quickly(database, small_copy, spawn):
    mig = add_migration(small_copy, "aux", 4, "sleepy", SLEEPY_UP, "DROP TABLE IF EXISTS sleepy_b;\n", parents=[3])
    args = cli_args("up", database, small_copy, "--schema", "aux")
    proc, out = spawn("first", *args)

    sleeper = wait_for("the pg_sleep statement to be running", lambda: query(database, """
        SELECT pid FROM pg_stat_activity
        WHERE state = 'active' AND query LIKE '%%pg_sleep(30)%%' AND application_name LIKE 'pgferry%%'
          AND pid <> pg_backend_pid()"""))[0][0]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed = time.monotonic()
    # Nothing of the migration is recorded, not even as failed or pending: no false "dirty".
    assert not [r for r in log_rows(database, "aux") if r[0] == 4]
    mig.joinpath("up.sql").write_text(SLEEPY_UP.replace("SELECT pg_sleep(30);\n", ""))

    rerun = run_cli(*args, timeout=60)
    TIMINGS["rerun after SIGKILL mid-transaction"] = took = time.monotonic() - killed
    assert rerun.returncode == 0, rerun.stderr
    assert took < 20, f"the rerun took {took:.1f}s: the orphaned backend was not aborted early"
    assert not backend_alive(database, sleeper)
    assert "note" in columns(database, "aux_jobs") and exists(database, "sleepy_b")
    assert [r[:3] for r in log_rows(database, "aux") if r[0] == 4] == [(4, True, True)]
    assert not state(database, "aux").dirty


def test_backend_terminated_mid_migration_reports_connection_lost(database, small_copy):
    """The server side of a crash: the operator sees what happened and what to do, not a driver error."""
    add_migration(small_copy, "aux", 4, "sleepy", SLEEPY_UP, "DROP TABLE IF EXISTS sleepy_b;\n", parents=[3])
    g = load(small_copy).schemas["aux"]
    terminated = []

    def terminate_the_sleeper():
        terminated.append(wait_for("the pg_sleep statement to be running", lambda: query(database, """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE state = 'active' AND query LIKE '%%pg_sleep(30)%%' AND application_name LIKE 'pgferry%%'
              AND pid <> pg_backend_pid()""")))

    killer = threading.Thread(target=terminate_the_sleeper)
    killer.start()
    try:
        with pytest.raises(ConnectionLost, match="run the same command again"):
            migrate(database, g, up_to(g, g.leaves()))
    finally:
        killer.join(timeout=30)
    assert terminated and not [r for r in log_rows(database, "aux") if r[0] == 4]
    (small_copy / "aux" / "4_sleepy" / "up.sql").write_text(SLEEPY_UP.replace("SELECT pg_sleep(30);\n", ""))
    g = load(small_copy).schemas["aux"]
    assert migrate(database, g, up_to(g, g.leaves()))[0].applied == [4]


# -- 5. a CREATE INDEX CONCURRENTLY killed mid-build -------------------------------------------


def test_killed_index_build_leaves_an_invalid_index_the_next_run_rebuilds(database, small_defs, session, spawn):
    g = small_defs.schemas["main"]
    migrate(database, g, up_to(g, [15]))
    blocker = old_snapshot(session)
    args = cli_args("up", database, SMALL, "--schema", "main")
    proc, out = spawn("first", *args)

    builder, phase = wait_for("the index build to wait for the old snapshot", lambda: cic_waiting(database))
    pending = query(database, "SELECT version, backend_pid FROM migration_logs WHERE success IS NULL")
    assert pending == [(16, builder)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed = time.monotonic()
    # the server notices the dead client (client_connection_check_interval) and aborts the build
    wait_for("the orphaned build to be aborted", lambda: not backend_alive(database, builder), timeout=10)
    TIMINGS["orphaned CIC backend gone after SIGKILL"] = time.monotonic() - killed
    blocker.commit()

    assert index_valid(database, INDEX) is False
    assert query(database, "SELECT version, backend_pid FROM migration_logs WHERE success IS NULL") == [(16, builder)]
    s = state(database, "main")
    assert set(s.stale) == {16} and not s.in_progress and s.stale[16].backend_pid == builder
    assert s.stale[16].alive is False

    t0 = time.monotonic()
    rerun = run_cli(*args, timeout=60)
    TIMINGS["rerun repairing the index"] = time.monotonic() - t0
    assert rerun.returncode == 0, rerun.stderr
    assert f"stale attempt of backend {builder} (gone): index invalid: dropped and rebuilt" in rerun.stderr
    assert f"dropping invalid index {INDEX}" in rerun.stderr
    assert index_valid(database, INDEX) is True
    s = state(database, "main")
    assert 16 in s.applied and not s.dirty and not s.in_progress
    assert log_rows(database, "main", "version", "success")[-2:] == [(16, False), (16, True)]


def test_stale_attempt_events_when_resumed_in_process(database, small_defs, session):
    """The same recovery through the engine API: StaleAttempt then IndexRepaired, in that order."""
    g = small_defs.schemas["main"]
    migrate(database, g, up_to(g, [15]))
    # A build that died after its catalog entry was created: an invalid index and a pending row.
    dead = session(autocommit=True)
    MigrationLog(dead).begin_attempt("main", 16, True, None)
    dead_pid = dead.info.backend_pid
    with pytest.raises(psycopg.errors.UniqueViolation):  # a failed CIC leaves its index behind, invalid
        dead.execute("CREATE UNIQUE INDEX CONCURRENTLY events_kind_created_at ON events (kind)")
    assert index_valid(database, INDEX) is False
    dead.close()
    wait_for("the session to end", lambda: not backend_alive(database, dead_pid))

    result, seen = migrate(database, g, up_to(g, g.leaves()))
    assert result.applied == [16]
    kinds = [type(e).__name__ for e in seen.events if isinstance(e, (StaleAttempt, IndexRepaired, MigrationFinished))]
    assert kinds == ["StaleAttempt", "IndexRepaired", "MigrationFinished"]
    assert seen.of(StaleAttempt)[0].backend_pid == dead_pid
    assert index_valid(database, INDEX) is True


def test_index_build_skipped_by_if_not_exists_is_not_recorded(database, small_defs):
    """IF NOT EXISTS returns quietly over any relation of that name: only a valid index counts."""
    g = small_defs.schemas["main"]
    migrate(database, g, up_to(g, [15]))
    execute(database, f"CREATE TABLE {INDEX} (id int)")

    with pytest.raises(MigrationFailed, match=f"index {INDEX} is not there"):
        migrate(database, g, up_to(g, g.leaves()))
    assert 16 not in state(database, "main").applied and set(state(database, "main").failed) == {16}
    execute(database, f"DROP TABLE {INDEX}")
    result, seen = migrate(database, g, up_to(g, g.leaves()))
    assert result.applied == [16] and seen.of(Retrying) and index_valid(database, INDEX) is True


def test_waiting_for_another_migrators_build_is_bounded_by_lock_wait(database, small_defs, session):
    g = small_defs.schemas["main"]
    migrate(database, g, up_to(g, [15]))
    other = session(autocommit=True)  # a live migrator that recorded its attempt and is building
    MigrationLog(other).begin_attempt("main", 16, True, None)
    other_pid = other.info.backend_pid

    seen = Collector()
    t0 = time.monotonic()
    with pytest.raises(LockWaitTimeout, match=f"main 16 by backend {other_pid}"):
        migrate(database, g, up_to(g, g.leaves()), RunOptions(poll=0.05, lock_wait=1.0), seen)
    assert 1.0 <= time.monotonic() - t0 < 5
    assert seen.of(WaitingForBuild) and {e.builder_pid for e in seen.of(WaitingForBuild)} == {other_pid}
    assert {(e.migration_id, e.index) for e in seen.of(WaitingForBuild)} == {(16, INDEX)}

    other.close()  # it died without a result: its row is stale, and the index was never created
    wait_for("the session to end", lambda: not backend_alive(database, other_pid))
    result, seen = migrate(database, g, up_to(g, g.leaves()))
    assert result.applied == [16]
    assert [e.resolution for e in seen.of(StaleAttempt)] == ["index absent: built again"]
    assert index_valid(database, INDEX) is True


def test_index_being_built_by_someone_else_is_waited_for_then_recorded(database, small_defs, session):
    """A build nobody recorded (a DBA's): the runner waits for it, then takes the valid index as applied."""
    g = small_defs.schemas["main"]
    migrate(database, g, up_to(g, [15]))
    snapshot = old_snapshot(session)
    dba = session(autocommit=True)
    build = threading.Thread(target=dba.execute, args=(f"CREATE INDEX CONCURRENTLY {INDEX} ON events (kind, created_at)",))
    build.start()
    try:
        builder, _ = wait_for("the DBA's build to wait for the old snapshot", lambda: cic_waiting(database))

        def end_snapshot_once_waiting(e):
            if isinstance(e, WaitingForBuild) and not snapshot.closed:
                snapshot.commit()
                snapshot.close()

        # A runner that did not wait would queue its own build behind the DBA's: fail fast, not in 300s.
        result, seen = migrate(database, g, up_to(g, g.leaves()), RunOptions(poll=0.05, cic_lock_timeout=10),
                               end_snapshot_once_waiting)
    finally:
        build.join(timeout=30)
    assert result.applied == [16]
    assert {e.builder_pid for e in seen.of(WaitingForBuild)} == {builder}
    assert [e.note for e in seen.of(MigrationFinished)] == ["index already valid"]
    assert not seen.of(IndexRepaired) and index_valid(database, INDEX) is True


# -- 6. two runners at once --------------------------------------------------------------------


def test_two_runners_at_once_apply_every_migration_exactly_once(database, small_defs, session, spawn):
    # Hold the first schema's lock so that both runners are surely up and waiting before either starts.
    holder = session(autocommit=True)
    key = lock_key("public", "aux")
    holder.execute("SELECT pg_advisory_lock(%s)", [key])
    args = cli_args("up", database, SMALL)
    (a, out_a), (b, out_b) = spawn("a", *args), spawn("b", *args)
    wait_for("both runners to wait for the lock",
             lambda: all("waiting" in o.read_text() and f"pid {holder.info.backend_pid}" in o.read_text()
                         for o in (out_a, out_b)))
    holder.execute("SELECT pg_advisory_unlock(%s)", [key])

    assert a.wait(timeout=60) == 0, out_a.read_text()
    assert b.wait(timeout=60) == 0, out_b.read_text()
    counts = query(database, """
        SELECT schema, version, count(*) FILTER (WHERE success AND NOT backfilled),
               count(*) FILTER (WHERE success AND backfilled), count(*) FILTER (WHERE success IS NOT TRUE)
        FROM migration_logs GROUP BY 1, 2 ORDER BY 1, 2""")
    expected = [("aux", v, 1, 0, 0) for v in (1, 2, 3)]
    expected += [("main", v, 0, 1, 0) for v in (1, 2, 3)] + [("main", v, 1, 0, 0) for v in range(10, 17)]
    assert counts == expected
    assert index_valid(database, INDEX) is True


# -- 7. a second runner while the first builds an index ----------------------------------------


def test_second_runner_during_index_build_waits_without_deadlock(database, small_defs, session, spawn):
    g = small_defs.schemas["main"]
    migrate(database, g, up_to(g, [15]))
    third = old_snapshot(session)
    args = cli_args("up", database, SMALL, "--schema", "main")
    a, out_a = spawn("a", *args)
    builder, _ = wait_for("runner A's index build to wait for the old snapshot", lambda: cic_waiting(database))
    b, out_b = spawn("b", *args)
    wait_for("runner B to see A's build", lambda: f"pid {builder} is building {INDEX}" in out_b.read_text())
    third.commit()

    assert a.wait(timeout=30) == 0, out_a.read_text()
    assert b.wait(timeout=30) == 0, out_b.read_text()
    assert index_valid(database, INDEX) is True
    assert query(database, "SELECT count(*) FROM migration_logs WHERE version = 16 AND success") == [(1,)]
    assert "0 applied" in out_b.read_text() and "1 applied" in out_a.read_text()


# -- 8. DDL blocked by another session's transaction ------------------------------------------


def blocked_setup(database, small_copy, session):
    add_migration(small_copy, "aux", 4, "add_note", "ALTER TABLE aux_jobs ADD COLUMN IF NOT EXISTS note text;\n",
                  "ALTER TABLE aux_jobs DROP COLUMN IF EXISTS note;\n", parents=[3])
    g = load(small_copy).schemas["aux"]
    migrate(database, g, up_to(g, [3]))
    blocker = session()
    blocker.execute("SELECT count(*) FROM aux_jobs").fetchone()  # AccessShareLock until the transaction ends
    return g, blocker


def test_blocked_ddl_reports_the_blocker_and_completes_when_it_releases(database, small_copy, session):
    g, blocker = blocked_setup(database, small_copy, session)
    pid = blocker.info.backend_pid

    def release_on_first_retry(e):
        if isinstance(e, LockRetry) and blocker.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            blocker.commit()

    result, seen = migrate(database, g, up_to(g, g.leaves()), LOCKY, release_on_first_retry)
    assert result.applied == [4]
    assert len(seen.of(LockRetry)) == 1
    waits = seen.of(LockWait)
    assert waits and all(b.pid == pid for w in waits for b in w.blockers)
    assert "SELECT count(*) FROM aux_jobs" in waits[0].blockers[0].query
    assert waits[0].blockers[0].state == "idle in transaction"
    assert [(b.pid, b.query) for b in seen.of(LockRetry)[0].blockers] == [(pid, "SELECT count(*) FROM aux_jobs")]
    assert "note" in columns(database, "aux_jobs")
    assert [r[:3] for r in log_rows(database, "aux") if r[0] == 4] == [(4, True, True)]


def test_blocked_ddl_gives_up_after_its_retries_naming_the_blocker(database, small_copy, session):
    g, blocker = blocked_setup(database, small_copy, session)
    pid = blocker.info.backend_pid

    t0 = time.monotonic()
    seen = Collector()
    with pytest.raises(MigrationFailed) as info:
        migrate(database, g, up_to(g, g.leaves()), LOCKY, seen)
    TIMINGS["blocked DDL giving up (3 x 0.5s)"] = time.monotonic() - t0
    failure = info.value.failure
    assert failure.sqlstate == "55P03"
    assert f"pid {pid}" in str(info.value) and "after 3 attempts" in str(info.value)
    assert "SELECT count(*) FROM aux_jobs" in str(info.value)
    assert [r.attempt for r in seen.of(LockRetry)] == [1, 2]
    assert all([b.pid for b in r.blockers] == [pid] for r in seen.of(LockRetry))
    assert [r[:3] for r in log_rows(database, "aux", "version", "success", "error_sqlstate") if r[0] == 4] == [
        (4, False, "55P03")]
    assert "note" not in columns(database, "aux_jobs")
    blocker.rollback()


# -- the migration lock and stale rows -------------------------------------------------------


def test_waiting_for_the_migration_lock_names_its_holder(database, small_defs, session):
    g = small_defs.schemas["aux"]
    holder = session(autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", [lock_key("public", "aux")])
    holders = []

    def release_when_reported(e):
        if isinstance(e, WaitingForLock):
            holders.append(e.holder)
            if len(holders) == 1:
                holder.execute("SELECT pg_advisory_unlock_all()")

    result, _ = migrate(database, g, up_to(g, g.leaves()), on_event=release_when_reported)
    assert result.applied == [1, 2, 3]
    assert holders[0] is not None and holders[0].pid == holder.info.backend_pid
    assert "pg_advisory_lock" in holders[0].query


def test_pending_row_of_a_dead_backend_is_stale_not_in_progress(database, small_defs, session):
    g = small_defs.schemas["aux"]
    migrate(database, g, up_to(g, [1]))
    live = session(autocommit=True)
    MigrationLog(live).begin_attempt("aux", 2, True, None)
    dead = session(autocommit=True)
    MigrationLog(dead).begin_attempt("aux", 3, True, None)
    dead_pid = dead.info.backend_pid
    dead.close()
    wait_for("the session to end", lambda: not backend_alive(database, dead_pid))

    s = state(database, "aux")
    assert set(s.in_progress) == {2} and s.in_progress[2].alive is True
    assert set(s.stale) == {3} and s.stale[3].alive is False and s.stale[3].backend_pid == dead_pid
    assert s.dirty  # a stale row needs attention; an in-progress one does not
    assert not state(database, "aux").failed



def test_the_live_view_names_a_session_of_the_run_idle_with_locks(database):
    from pgferry.engine.connection import application_name
    from pgferry.engine.upgrade.live import LiveReader
    from pgferry.engine.bookkeeping.runs import RunStore

    with psycopg.connect(database, autocommit=True) as conn:
        store = RunStore(conn)
        store.ensure()
        run_id = store.create({}, "upgrade", None, "1.0.0", 1, None)  # a run of this process
        conn.execute("CREATE TABLE held (id int)")
    # This process's migrator session, as a stopped one leaves it: idle in a transaction, with a lock.
    stopped = psycopg.connect(database, application_name=application_name("migrator"))
    stopped.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
    reader = LiveReader({"main": database})
    try:
        holders = wait_for("the idle holder in the live view", lambda: reader.snapshot(run_id).idle_holders)
        assert [(h.pid, h.state, h.locks) for h in holders] == [
            (stopped.info.backend_pid, "idle in transaction", ("held (AccessExclusiveLock)",))]
    finally:
        reader.close()
        stopped.close()

# -- plain lines while an index build waits (issue 12 §5) ----------------------------------------


def test_plain_output_reports_a_waiting_index_build_at_a_steady_interval(
        database, small_defs, session, spawn, monkeypatch):
    """`up --no-progress` (CI, logs) says, every interval, the build's phase and whom it waits for;
    the wait is told once as it starts, not several times a second."""
    g = small_defs.schemas["main"]
    migrate(database, g, up_to(g, [15]))
    blocker = old_snapshot(session)
    pid = blocker.info.backend_pid
    monkeypatch.setenv("PGFERRY_PROGRESS_INTERVAL", "1")
    proc, out = spawn("cic", *cli_args("up", database, SMALL, "--schema", "main"))

    def pulses():
        return [line for line in out.read_text().splitlines()
                if line.startswith("  … main 16 line 1, ") and "waiting for old snapshots" in line
                and f"waiting for pid {pid}, idle in transaction for " in line and "SELECT count(*) FROM events" in line]

    seen = wait_for("two pulse lines naming the build's phase and the blocker", lambda: len(pulses()) >= 2 and pulses())
    blocker.commit()
    assert proc.wait(timeout=60) == 0, out.read_text()
    told_at_once = [line for line in out.read_text().splitlines() if "waiting" in line and "for a lock held by" in line]
    assert len(told_at_once) == 1 and f"pid {pid}" in told_at_once[0], out.read_text()
    assert seen[0] != seen[1]  # each says how long by then
    assert index_valid(database, INDEX) is True
