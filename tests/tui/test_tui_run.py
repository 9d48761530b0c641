"""The run screen on a real server: a detached run process, reattaching, pause, watch, report.

Each test starts a real `pgferry upgrade` child process from the app (as a user's keypress
would) against a copy of the small product whose migration 15 sleeps, so the run lasts long
enough to be seen, left and found again.
"""
from __future__ import annotations

import asyncio
import os
import stat

import psycopg
import pytest

from pgferry.engine.upgrade.upgrade import make_plan
from pgferry.tui.app import PgferryApp, Source
from pgferry.tui.app.overview import OverviewScreen
from pgferry.tui.app.report import ReportScreen
from pgferry.tui.app.run import RunScreen
from pgferry.tui.cli import main
from tests.support import SMALL, until

SIZE = (100, 32)
pytestmark = pytest.mark.usefixtures("state_dir")  # journals in the test's own directory


def source_for(dsn, product, **kw) -> Source:
    return Source(migrations=str(product), dsn=dsn, **kw)


def run_status(dsn: str) -> tuple[int, str, int | None] | None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT id, status, os_pid FROM upgrade_runs ORDER BY id DESC LIMIT 1").fetchone()
    return row


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def start_run(app, pilot, source) -> RunScreen:
    """What Enter on the confirmation does: the run in its own process, and its screen once it runs."""
    await pilot.pause()
    app.start_run(make_plan(source.definitions(), source.connections(), "1.2.0"))
    await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.status == "running",
                what="the run to start")
    return app.screen


def test_run_to_the_end_then_report(at_110, slow_product):
    source = source_for(at_110, slow_product)

    async def go():
        app = PgferryApp(source)
        async with app.run_test(size=SIZE) as pilot:
            screen = await start_run(app, pilot, source)  # mid-run: the live view shows it running
            assert screen.check_action("report", ()) is None  # dimmed until the run ends
            assert "the run has not ended" in str(screen.query_one("KeyReasons").render())
            assert screen.disabled_reason("resume") == "the run is still running"
            # While 15 sleeps, its session shows the statement and `now:` names 15, not 14 before it.
            await until(pilot, lambda: "pg_sleep" in str(screen.query_one("#now").render()), what="main 15 running")
            now = str(screen.query_one("#now").render()).splitlines()[0]
            assert now == "now: main 15 events table with rows", now
            await until(pilot, lambda: screen.status == "succeeded", what="the run to succeed")
            await pilot.pause(1.5)  # the journal's last lines
            reasons = str(screen.query_one("KeyReasons").render())
            assert "has not stopped" not in reasons and "u resume: the run succeeded: nothing left to resume" in reasons
            assert "p pause: the run has ended (succeeded)" in reasons
            assert "now:" not in str(screen.query_one("#now").render())
            log = "\n".join(str(line.text) for line in screen.query_one("#log").lines)
            assert "run " in log and "succeeded" in log  # from the child's journal
            assert "main 15" in log
            assert screen.check_action("report", ()) is True
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ReportScreen) and app.screen.markdown, what="the report")
            report = app.screen.markdown
            assert "status: **succeeded**" in report and "1.1.0 → 1.2.0" in report
            assert "| main | 15 |" in report  # the slowest step is the sleeping one
            await pilot.press("s")
            await pilot.pause()
            saved = app.screen.saved
            assert saved.exists() and stat.S_IMODE(saved.stat().st_mode) == 0o600
            assert saved.read_text() == report

    asyncio.run(go())
    assert run_status(at_110)[1] == "succeeded"
    assert main(["status", "--dsn", at_110, "--migrations", str(slow_product)]) == 0


def test_closing_the_app_mid_run_then_reattaching(at_110, slow_product):
    source = source_for(at_110, slow_product)
    started: dict = {}

    async def first():
        app = PgferryApp(source)
        async with app.run_test(size=SIZE) as pilot:
            started["pid"] = (await start_run(app, pilot, source)).launched.pid
            await pilot.press("q")  # asks first: the run goes on without the app
            await pilot.pause()
            assert type(app.screen).__name__ == "QuitWhileRunning"
            await pilot.press("y")

    asyncio.run(first())
    pid = started["pid"]
    row = run_status(at_110)
    assert row[1] == "running" and row[2] == pid and alive(pid), "closing the app must not stop the run"

    async def second():
        app = PgferryApp(source)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, OverviewScreen) and app.screen.overview is not None,
                        what="the overview")
            banner = str(app.screen.query_one("#banner").render())
            assert "in progress" in banner and "press a to attach" in banner
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.status is not None,
                        what="the run screen")
            screen = app.screen
            assert screen.watched.run.id == row[0]
            await until(pilot, lambda: screen.status == "succeeded", what="the reattached run to finish")
            await pilot.pause(1.5)
            log = "\n".join(str(line.text) for line in screen.query_one("#log").lines)
            assert "succeeded" in log  # the journal of a run this app did not start, found by its pid

    asyncio.run(second())
    assert run_status(at_110)[1] == "succeeded"


def test_pause_stops_after_the_current_step_and_resume_finishes(at_110, slow_product):
    source = source_for(at_110, slow_product)

    async def go():
        app = PgferryApp(source)
        async with app.run_test(size=SIZE) as pilot:
            screen = await start_run(app, pilot, source)
            await pilot.press("p")
            await until(pilot, lambda: screen.watched.asked == "pause", what="the pause request")
            assert screen.check_action("pause", ()) is None  # asked once: dimmed, with the reason
            await until(pilot, lambda: screen.status == "paused", what="the run to pause")
            run = screen.watched.run
            assert run.position < run.total and "nothing is half-applied" in (run.error or "")
            with psycopg.connect(at_110, autocommit=True) as conn:
                pending = conn.execute("SELECT count(*) FROM migration_logs WHERE success IS NULL OR NOT success"
                                       ).fetchone()[0]
            assert pending == 0  # stopped between migrations: no attempt left open, nothing failed
            assert screen.check_action("resume", ()) is True
            await pilot.press("u")
            await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen is not screen
                        and app.screen.status == "succeeded", what="the resumed run to finish")
            assert app.screen.watched.run.resumed_from == run.id

    asyncio.run(go())


def test_watch_is_read_only(at_110):
    # The run is watched once it has finished: the small product itself (1.1.0 is the same in
    # `slow_product`), without main 15's five-second sleep.
    assert main(["upgrade", "--to", "1.2.0", "--yes", "--no-progress", "--dsn", at_110,
                 "--migrations", str(SMALL)]) == 0

    async def go():
        app = PgferryApp(source_for(at_110, SMALL, read_only=True), watch_run=0)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.status == "succeeded",
                        what="the watched run")
            screen = app.screen
            assert "watch" in str(screen.query_one("#title").render())
            for action in ("pause", "abort", "resume"):
                assert screen.check_action(action, ()) is None
            assert screen.disabled_reason("resume") == "read-only view (pgferry watch)"
            # Without the journal (another machine), the log is rebuilt from migration_logs... only for
            # changes seen while watching; a finished run shows its state and the report.
            assert screen.check_action("report", ()) is True
            await pilot.press("escape")
            assert isinstance(app.screen, OverviewScreen)
            assert app.screen.check_action("choose_target", ()) is None  # read-only everywhere

    asyncio.run(go())


def test_a_run_that_cannot_start_says_why(at_110, slow_product):
    source = source_for(at_110, slow_product)
    with psycopg.connect(at_110, autocommit=True) as conn:  # applied by something unknown: the child refuses (5)
        conn.execute("INSERT INTO migration_logs (schema, version, up, success, finished_at) "
                     "VALUES ('main', 99, true, true, now())")

    async def go():
        app = PgferryApp(source)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            from pgferry.engine.plan.planner import Planner

            plan = Planner(source.definitions()).plan({"main": frozenset({1, 2, 3, 10, 11, 12, 13}),
                                                       "aux": frozenset({1, 2})}, "1.2.0")
            app.start_run(plan)
            await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.watched.launch_error,
                        what="the launch failure")
            text = str(app.screen.query_one("#failure").render())
            assert "did not start" in text and "99" in text

    asyncio.run(go())
