"""The whole guided upgrade, keyboard only, as a low-privilege role on a real server.

overview → t choose target → ⏎ plan review → c → privileged steps (the role lacks CREATE on
the database, so CREATE EXTENSION needs a superuser) → g grant with the superuser connection →
c → tick the backup, type the version → the run, in its own process, to the end → ⏎ report (with
the backup).
"""
from __future__ import annotations

import asyncio

import psycopg
import pytest

from tests.support import SMALL, until
from pgferry.tui.app import PgferryApp, Source
from pgferry.tui.app.confirm import TypedConfirm
from pgferry.tui.app.plan import PlanScreen
from pgferry.tui.app.privileged import PrivilegedScreen
from pgferry.tui.app.report import ReportScreen
from pgferry.tui.app.run import RunScreen
from pgferry.tui.app.target import TargetScreen
from pgferry.tui.cli import main

pytestmark = pytest.mark.usefixtures("state_dir")


@pytest.fixture
def low_priv(app_db):
    """The app's role where it may create in schema public only, the small product at 1.1.0."""
    assert main(["upgrade", "--to", "1.1.0", "--yes", "--no-progress", "--dsn", app_db,
                 "--migrations", str(SMALL)]) == 0
    return app_db


def test_the_guided_upgrade_end_to_end(low_priv, app_role, database):
    source = Source(migrations=str(SMALL), dsn=low_priv, superuser_dsn=database)

    async def go():
        app = PgferryApp(source)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.screen.check_action("choose_target", ()) is True, "the overview")
            await pilot.press("t")
            await until(pilot, lambda: isinstance(app.screen, TargetScreen)
                        and app.screen.check_action("review", ()) is True, "the target list")
            await pilot.press("enter")  # the cursor starts on the latest stable release: 1.2.0
            await until(pilot, lambda: isinstance(app.screen, PlanScreen), "the plan")
            assert app.screen.plan.to_version == "1.2.0"
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, PrivilegedScreen), "the privileged steps")
            screen = app.screen
            await until(pilot, lambda: screen.disabled_reason("continue") is not None
                        and "verify first" in screen.disabled_reason("continue"), "the dimmed Continue")
            await pilot.press("g")
            await until(pilot, lambda: app.screen is not screen, "the grant dialog")
            await pilot.press("enter")  # the superuser connection is prefilled (masked)
            await until(pilot, lambda: app.screen is screen and screen.check_action("continue", ()) is True,
                        "the grant and its verification", timeout=30)
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, TypedConfirm), "the confirmation")
            await pilot.click("#confirm-option")  # back up first
            app.screen.query_one("#confirm-input").focus()
            await pilot.press(*"1.2.0")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, RunScreen), "the run screen")
            run_screen = app.screen
            await until(pilot, lambda: run_screen.status == "succeeded", "the run to succeed", timeout=90)
            await pilot.pause(1.5)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ReportScreen) and app.screen.markdown, "the report")
            report = app.screen.markdown
            assert "status: **succeeded**" in report and "1.1.0 → 1.2.0" in report
            assert "| main | 14 | Install pg_trgm" in report or "| main | 14 |" in report  # the manual step
            assert "via a superuser connection" in report  # who confirmed it, and how
            assert "## Backups" in report and "/backups/" in report and "- none" not in report.split("## Backups")[1].split("##")[0]
            await pilot.press("escape", "escape")
            await until(pilot, lambda: app.screen.__class__.__name__ == "OverviewScreen"
                        and app.screen.overview is not None and app.screen.overview.status.version.label == "1.2.0",
                        "the overview at 1.2.0")

    asyncio.run(go())
    with psycopg.connect(database, autocommit=True) as conn:
        owner = conn.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'events'::regclass").fetchone()[0]
        ext = conn.execute("SELECT pg_get_userbyid(extowner) FROM pg_extension WHERE extname = 'pg_trgm'").fetchone()[0]
    assert owner == app_role and ext == "postgres"  # the app's tables by the role, the extension by the superuser
