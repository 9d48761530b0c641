"""A run whose process died while its row said 'running' (found by test_crash.py under load: a kill
after the last step committed, before RunStore.finish). The next command settles it from what the
database records, whichever path it takes, says so once, and never touches a live run."""
from __future__ import annotations

import psycopg
import pytest

from pgferry.engine.bookkeeping.runs import RunStore
from pgferry.engine.connection import Connections
from pgferry.engine.upgrade.planning import make_plan
from pgferry.engine.upgrade.report import build_report
from pgferry.engine.upgrade.upgrade import Upgrade
from tests.support import SMALL, cli, query

DEAD_PID = 2_000_000_000  # above any pid_max: no backend has it


def upgrade(capsys, dsn: str, to: str) -> tuple[int, str]:
    rc, _, err = cli(capsys, "upgrade", "--to", to, "--yes", "--no-progress", "--dsn", dsn, "--migrations", str(SMALL))
    return rc, err


def killed_before_finish(dsn: str, backend_pid: int = DEAD_PID) -> int:
    """The latest run as a process killed between its last commit and RunStore.finish leaves it."""
    (run_id,), = query(dsn, "UPDATE upgrade_runs SET status = 'running', finished_at = NULL, backend_pid = %s "
                            "WHERE id = (SELECT max(id) FROM upgrade_runs) RETURNING id", [backend_pid])
    return run_id


def run_row(dsn: str, run_id: int) -> tuple:
    (row,) = query(dsn, "SELECT status, error, finished_at IS NOT NULL FROM upgrade_runs WHERE id = %s", [run_id])
    return row


def test_nothing_to_do_settles_a_run_that_did_everything(database, capsys):
    assert upgrade(capsys, database, "1.2.0")[0] == 0
    run_id = killed_before_finish(database)

    rc, err = upgrade(capsys, database, "1.2.0")
    assert rc == 0 and "already at 1.2.0: nothing to do" in err
    status, note, finished = run_row(database, run_id)
    assert status == "succeeded" and finished
    assert "process ended before recording the end" in note and "every step it planned is recorded done" in note
    assert err.count(f"note: run {run_id} to 1.2.0 settled as succeeded: its process ended") == 1
    assert build_report({"main": database}, run_id=run_id).as_dict()["status"] == "succeeded"  # report --json

    rc, err = upgrade(capsys, database, "1.2.0")  # told once
    assert rc == 0 and "note:" not in err
    assert query(database, "SELECT count(*) FROM upgrade_runs WHERE status NOT IN ('succeeded', 'resumed')") == [(0,)]


def test_a_run_whose_backend_is_alive_is_never_touched(database, capsys):
    assert upgrade(capsys, database, "1.2.0")[0] == 0
    with psycopg.connect(database, autocommit=True) as other:  # another migrator, right now
        pid = other.execute("SELECT pg_backend_pid()").fetchone()[0]
        run_id = killed_before_finish(database, pid)
        query(database, "UPDATE upgrade_runs SET started_at = now() WHERE id = %s", [run_id])
        rc, err = upgrade(capsys, database, "1.2.0")
        assert rc == 0 and "note:" not in err
        assert run_row(database, run_id) == ("running", None, False)


def test_nothing_to_do_marks_an_unfinished_run_interrupted_and_the_next_move_continues_it(database, small_defs, capsys):
    """Killed half-way to 1.2.0; the database is at 1.1.0, where the next command asks to go."""
    conns = Connections({"main": database, "aux": database})
    Upgrade(small_defs, conns).run("1.1.0")
    plan = make_plan(small_defs, conns, "1.2.0")
    with psycopg.connect(database, autocommit=True) as conn:
        store = RunStore(conn)
        run_id = store.create(plan.as_dict(), plan.direction, plan.from_version, plan.to_version, len(plan.steps), None)
    query(database, "UPDATE upgrade_runs SET backend_pid = %s, position = 1 WHERE id = %s", [DEAD_PID, run_id])

    rc, err = upgrade(capsys, database, "1.1.0")
    assert rc == 0
    status, note, _ = run_row(database, run_id)
    assert status == "interrupted" and f"at step 1/{len(plan.steps)}" in note
    assert err.count(f"note: run {run_id} to 1.2.0 settled as interrupted: its process ended") == 1

    rc, err = upgrade(capsys, database, "1.2.0")  # continues it, as after any interruption
    assert rc == 0 and f"(continues run {run_id})" in err
    assert run_row(database, run_id)[0] == "resumed"
    assert query(database, "SELECT status FROM upgrade_runs WHERE resumed_from = %s", [run_id]) == [("succeeded",)]
    stopped = [w for w in build_report({"main": database}).warnings if f"run {run_id}" in w]  # said once, with why
    assert len(stopped) == 1 and stopped[0].startswith(f"run {run_id} stopped: its process ended at step 1/"), stopped


def test_a_new_move_settles_a_run_that_did_everything_instead_of_continuing_it(database, small_defs):
    conns = Connections({"main": database, "aux": database})
    _, first = Upgrade(small_defs, conns).run("1.1.0")
    killed_before_finish(database)
    settled = []
    _, second = Upgrade(small_defs, conns, on_event=settled.append).run("1.2.0")
    assert run_row(database, first)[0] == "succeeded"
    assert query(database, "SELECT resumed_from, status FROM upgrade_runs WHERE id = %s", [second]) == [(None, "succeeded")]
    assert [(e.run_id, e.status) for e in settled if type(e).__name__ == "StaleRunSettled"] == [(first, "succeeded")]


@pytest.mark.parametrize("status", ["failed", "paused"])
def test_only_runs_left_running_are_settled(database, capsys, status):
    """A run that recorded its own end (failed, paused) keeps it: the next run continues it."""
    assert upgrade(capsys, database, "1.2.0")[0] == 0
    run_id = killed_before_finish(database)
    query(database, "UPDATE upgrade_runs SET status = %s WHERE id = %s", [status, run_id])
    rc, err = upgrade(capsys, database, "1.2.0")
    assert rc == 0 and "note:" not in err and run_row(database, run_id)[0] == status


def test_a_fleet_instance_with_nothing_to_do_settles_it_too(database, small_defs, capsys):
    from pgferry.engine.fleet.inventory import Instance
    from pgferry.engine.fleet.instance import upgrade_instance
    from pgferry.engine.run.runner import RunOptions

    assert upgrade(capsys, database, "1.2.0")[0] == 0
    run_id = killed_before_finish(database)
    outcome = upgrade_instance(small_defs, Instance("a", "canary", database, None), "1.2.0", RunOptions(),
                               on_started=lambda _: None, on_run=lambda _: None, pause_asked=lambda: False)
    assert outcome.status == "succeeded" and f"run {run_id} left running by a dead process settled as succeeded" in outcome.reason
    assert run_row(database, run_id)[0] == "succeeded"
