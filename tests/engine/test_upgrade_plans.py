"""How often one upgrade plans: once for the operator to confirm, and again under the lock only when
another migrator moved the database in between (then the run says so). And the errors a move raises:
each an engine error with its exit code, so the command line needs no case of its own for any."""
from __future__ import annotations

from pgferry.engine import errors
from pgferry.engine.definitions.catalog import load
from pgferry.engine.plan.planner import Planner
from pgferry.engine.upgrade.planning import Connections, make_plan
from pgferry.engine.upgrade.upgrade import Replanned, UpgradeStarted, Upgrade
from pgferry.tui.cli import main
from pgferry.tui.lines import describe
from tests.support import SMALL, applied_ids, migrate, up_to

DEFS = load(SMALL)


def at_oldest(dsn: str) -> Connections:
    conns = Connections({s: dsn for s in DEFS.schemas})
    Upgrade(DEFS, conns).run("1.0.0")
    return conns


def test_one_upgrade_plans_once(database, monkeypatch):
    at_oldest(database)
    plans = []
    plan = Planner.plan
    monkeypatch.setattr(Planner, "plan", lambda self, *a, **k: plans.append(a[1]) or plan(self, *a, **k))
    assert main(["upgrade", "--to", "1.1.0", "--yes", "--no-progress", "--dsn", database,
                 "--migrations", str(SMALL)]) == 0
    assert plans == ["1.1.0"]  # the CLI's, for the confirmation; the run under the lock kept it
    assert applied_ids(database, "aux") == {1, 2}


def test_a_database_moved_since_the_confirmation_is_planned_again(database):
    conns = at_oldest(database)
    confirmed = make_plan(DEFS, conns, "1.1.0", downgrade=False)
    g = DEFS.schemas["main"]
    migrate(database, g, up_to(g, [11]))  # another migrator, between the confirmation and the lock
    seen = []
    plan, _ = Upgrade(DEFS, conns, on_event=seen.append).run("1.1.0", downgrade=False, confirmed=confirmed)
    replanned = [e for e in seen if isinstance(e, Replanned)]
    assert replanned == [Replanned("1.0.0", plan.from_label, "1.1.0", len(plan.steps))]
    assert len(plan.steps) == len(confirmed.steps) - 1 and plan.from_label != "1.0.0"
    assert [e.steps for e in seen if isinstance(e, UpgradeStarted)] == [len(plan.steps)]
    assert "another migrator moved the database" in describe(replanned[0])
    assert applied_ids(database, "main") >= {10, 11, 12, 13}


def test_the_errors_of_a_move_carry_their_exit_codes():
    moved = (errors.PlanError, errors.PreflightFailed, errors.OutOfBandPaused, errors.RunStopped, errors.DumpFailed)
    assert all(issubclass(cls, errors.PgferryError) for cls in moved)
    assert [cls.exit_code for cls in moved] == [errors.ExitCode.USAGE] + [errors.ExitCode.FAILURE] * 4
    stopped = errors.RunStopped("pause", "olga", 3, 7, "1.2.0")
    assert stopped.status == "paused" and "paused at step 3/7 as olga asked" in stopped.message


def test_a_new_plan_under_the_lock_is_checked_for_drift_again(database, small_copy, small_shapes):
    """The gate's drift check runs before the lock and defers what it sees while another migrator is
    at work; when the run plans again under the lock, the database it will move is checked again."""
    import pytest

    from pgferry.engine.repair.expected import render
    from tests.support import ADOPTED, execute

    (small_copy / "expected").mkdir(exist_ok=True)
    (small_copy / "expected" / f"{ADOPTED}.json").write_text(render(small_shapes))
    defs = load(small_copy)
    conns = Connections({s: database for s in defs.schemas})
    Upgrade(defs, conns).run("1.0.0")
    confirmed = make_plan(defs, conns, "1.2.0", downgrade=False)
    Upgrade(defs, conns).run(ADOPTED)  # another migrator, between the confirmation and the lock...
    execute(database, "CREATE INDEX users_username ON users (username)")  # ...and a hand-made index
    with pytest.raises(errors.DriftFound, match="users_username"):
        Upgrade(defs, conns).run("1.2.0", downgrade=False, confirmed=confirmed, check_drift=True)
    assert {15, 16} & applied_ids(database, "main") == set()  # nothing of 1.2.0 ran
