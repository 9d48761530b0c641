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
from pgferry.tui.render import describe
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
