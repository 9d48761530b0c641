"""The recovery walkthrough on a real server: a migration whose SQL fails under `pgferry up`, and an
index build killed mid-way; each is walked through from the overview's `x` to a verified, clean
database, with the transcript exported."""
from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import socket
import stat
from datetime import datetime, timezone

import psycopg
import pytest
from rich.console import Console
from textual.widgets import Input, OptionList, RichLog, Static

from pgferry import __version__
from tests.support import (
    FAILING_UP, INDEX, SMALL, add_migration, index_valid, kill_mid_index_build, migrate, query, up_to,
)
from pgferry.tui.app import PgferryApp, Source
from pgferry.tui.app.base import KeyReasons
from pgferry.tui.app.confirm import TypedConfirm
from pgferry.tui.app.recovery import RecoveryScreen
from pgferry.tui.app.recovery_model import load_walkthrough
from pgferry.tui.app.savefile import SaveText
from pgferry.tui.cli import main

SIZE = (80, 24)
SECRET = "hunter2-Pa55"


@pytest.fixture(autouse=True)
def operator(monkeypatch):
    monkeypatch.setenv("PGFERRY_OPERATOR", "alice")


def plain(renderable) -> str:
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def shown(app, selector: str) -> str:
    return plain(app.screen.query_one(selector, Static).content)


def log_text(app) -> str:
    return "\n".join(line.text for line in app.screen.query_one("#log", RichLog).lines)


def reasons(app) -> str:
    return str(app.screen.query_one(KeyReasons).render())


async def settle(app, pilot) -> None:
    for _ in range(4):
        await app.workers.wait_for_complete()
        await pilot.pause()


def failing_aux_4(dsn: str, migrations, up: str = FAILING_UP) -> None:
    """aux 4's third statement fails: `pgferry up` exits 1, the attempt is recorded as failed."""
    add_migration(migrations, "aux", 4, "failing", up, "DROP TABLE IF EXISTS fail_a, fail_b, fail_c;\n",
                  parents=[3])
    assert main(["up", "--dsn", dsn, "--migrations", str(migrations), "--schema", "aux", "--no-progress"]) == 1


def log_rows(dsn: str) -> int:
    return query(dsn, "SELECT count(*) FROM migration_logs")[0][0]


async def open_recovery(app, pilot) -> RecoveryScreen:
    await settle(app, pilot)
    await pilot.press("x")  # from the overview's dirty banner
    await settle(app, pilot)
    assert isinstance(app.screen, RecoveryScreen)
    return app.screen


def failed_run(dsn: str) -> int:
    """The upgrade run that stopped on aux 4, as the engine records it."""
    from pgferry.engine.bookkeeping.runs import RunStore

    with psycopg.connect(dsn, autocommit=True) as conn:
        store = RunStore(conn)
        store.ensure()
        run_id = store.create({}, "upgrade", "1.1.0", "1.2.0", 5, None)
        store.progress(run_id, 2, "aux 4")
        store.finish(run_id, "failed", "aux migration 4 failed at migrations/aux/4_failing/up.sql:5")
    return run_id


def banner(app) -> str:
    return str(app.screen.query_one("#banner", Static).render()) if app.screen.query_one("#banner").display else ""


def test_failed_statement_fixed_then_retried_verified_and_exported(database, small_copy, tmp_path):
    failing_aux_4(database, small_copy)
    run_id = failed_run(database)
    source = Source(migrations=str(small_copy), dsn=database + f" password={SECRET}")

    async def go():
        app = PgferryApp(source)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert f"✗ upgrade run {run_id} failed at step 2/5" in banner(app) and "✗ dirty database" in banner(app)
            screen = await open_recovery(app, pilot)
            # step 1: what happened, and the one fix the evidence points to
            what = shown(app, "#what-text")
            assert "★ recommended: r  retry: run up.sql again" in what
            assert "because none of what up.sql creates is there (table fail_a absent" in what
            assert "✗ FAILED  aux 4 failing (up) on" in what
            assert 'column "no_such_column" does not exist (SQLSTATE 42703) at migrations/aux/4_failing/up.sql:5' in what
            assert "▶ 5 │        no_such_column" in what and "  4 │ SELECT id," in what  # marked, in its statement
            assert "backend alive: no" in what and "○ absent   table fail_a (line 1)" in what
            why = screen.disabled_reason("choose('down')")
            assert why.startswith("not applicable: aux 4 is not applied and its last attempt left nothing")
            assert "d revert" in reasons(app) and why in reasons(app)  # said above the footer
            assert screen.check_action("choose", ("repair-index",)) is False  # not an index: hidden

            # step 2: the choices, the highlighted one's exact SQL
            await pilot.press("enter")
            assert screen.step == 2
            sql = shown(app, "#sql-text")
            assert "retry aux 4 (failing)" in sql and "4_failing/up.sql, in one transaction" in sql
            assert "no_such_column" in sql
            assert "★ recommended because none of what up.sql creates is there" in sql
            await pilot.press("down")  # to mark reverted (revert and mark applied do not apply: skipped)
            assert "INSERT INTO" in shown(app, "#sql-text") and "'alice'" in shown(app, "#sql-text")
            assert screen.highlighted_choice().kind == "mark-reverted"
            assert screen.disabled_reason("choose('mark-applied')").startswith(
                "not applicable: aux 4 cannot be marked applied: the catalog shows table fail_a absent")

            # step 3: a wrong word neither acts nor cancels; Esc cancels; nothing changed
            rows = log_rows(database)
            await pilot.press("m")
            assert isinstance(app.screen, TypedConfirm) and app.screen.expected == "4"
            await pilot.press("5", "enter")
            assert isinstance(app.screen, TypedConfirm)
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is screen and screen.step == 2 and log_rows(database) == rows

            # the operator fixes the file, reloads, retries
            up_sql = small_copy / "aux" / "4_failing" / "up.sql"
            up_sql.write_text(FAILING_UP.replace("no_such_column", "id AS fixed"))
            await pilot.press("l")
            await settle(app, pilot)
            await pilot.press("r")
            confirm = app.screen
            assert isinstance(confirm, TypedConfirm) and "id AS fixed" in plain(confirm.body)
            await pilot.press("4", "enter")
            await settle(app, pilot)
            # steps 4 and 5: acted, verified, clean
            log = log_text(app)
            assert "▶ retry aux 4 (failing)" in log and "typed '4', by alice" in log
            assert "✓ retry aux 4 (failing): done" in log and "verified: yes" in log
            assert "✓ nothing left to recover" in log
            assert screen.step == 5 and "✓ clean after your action" in shown(app, "#state")
            assert SECRET not in log and SECRET not in app.export_screenshot()

            await pilot.press("e")
            assert isinstance(app.screen, SaveText)
            target = tmp_path / "recover.md"
            app.screen.query_one(Input).value = str(target)
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press("escape")  # clean: back to the overview, which reads the status again
            await settle(app, pilot)
            assert not isinstance(app.screen, RecoveryScreen)
            # the run's old failure is gone from the banner; what is left is to go on
            assert "✗" not in banner(app) and "dirty" not in banner(app)
            assert f"! upgrade run {run_id} stopped at step 2/5: 1.1.0 → 1.2.0; upgrade to 1.2.0 again" in banner(app)
            assert app.screen.disabled_reason("choose_target") is None
            return target

    target = asyncio.run(go())
    assert 4 in {r[0] for r in query(database, "SELECT version FROM migration_logs WHERE schema = 'aux' AND success")}
    assert query(database, "SELECT count(*) FROM fail_c") == [(0,)]
    text = target.read_text()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert SECRET not in text and "password=****" in text
    assert "✗ FAILED  aux 4 failing" in text and "## Action: retry aux 4 (failing)" in text
    assert "id AS fixed" in text and "typed '4', by alice" in text and "verified: yes" in text
    assert "## Findings after the action" in text and "nothing to recover" in text


def test_killed_upgrade_mid_index_build_leaves_t_usable_and_recommends_the_retry(database, small_defs, session,
                                                                                  spawn):
    builder = kill_mid_index_build(database, small_defs, session, spawn, "upgrade", "--to", "1.2.0", "--yes")
    source = Source(migrations=str(SMALL), dsn=database)

    async def go():
        app = PgferryApp(source)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            # The next upgrade settles a cut-off index build by itself: not "dirty", and t works.
            text = banner(app)
            assert "dirty" not in text and "recover" not in text
            assert "! main 16: an index build was cut off; the next upgrade checks the index" in text
            assert "interrupted at step" in text and "upgrade to 1.2.0 again to continue" in text
            assert app.screen.disabled_reason("choose_target") is None
            assert app.screen.check_action("choose_target", ()) is True
            assert "t target" not in reasons(app)
            screen = await open_recovery(app, pilot)  # x still opens it, for whoever wants to look
            what = shown(app, "#what-text")
            assert "! STALE  main 16 index events by kind and time (up concurrent index)" in what
            assert f"by backend {builder}" in what and "backend alive: no" in what
            assert "never recorded a result" in what
            assert f"▶ 1 │ CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX}" in what
            assert f"● present  index {INDEX} (line 1, INVALID)" in what
            assert f"★ recommended: r  retry: run up.sql again\n   because index {INDEX} is INVALID and nobody is " \
                   "building it: retry drops it and builds it again (the next upgrade would do the same" in what
            why = screen.disabled_reason("choose('mark-applied')")
            assert why.startswith(f"not applicable: main 16 cannot be marked applied: the catalog shows index {INDEX} "
                                  "present (INVALID)")
            assert "a applied" in reasons(app) and why in reasons(app)
            assert screen.check_action("choose", ("mark-applied",)) is None
            await pilot.press("enter")  # the recommended fix is the first choice, highlighted
            assert screen.highlighted_choice().kind == "retry" and screen.highlighted_choice().recommended
            await pilot.press("enter")
            assert isinstance(app.screen, TypedConfirm)
            assert f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}";' in plain(app.screen.body)
            await pilot.press("1", "6", "enter")
            await settle(app, pilot)
            assert "verified: yes" in log_text(app) and "✓ nothing left to recover" in log_text(app)

    asyncio.run(go())
    assert index_valid(database, INDEX) is True


def test_clean_database_says_so(database, small_defs):
    g = small_defs.schemas["aux"]
    migrate(database, g, up_to(g, g.leaves()))

    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=database))
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            app.open_recovery()  # x is dimmed on a clean overview; the screen still says so itself
            await settle(app, pilot)
            assert "✓ clean: no failed, stale or running attempt" in shown(app, "#state")
            assert app.screen.check_action("next", ()) is None
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, RecoveryScreen)

    asyncio.run(go())


# -- snapshots: a real diagnosis with its times, pids, host and database names fixed ---------------

WHEN = datetime(2026, 3, 14, 9, 26, 53, tzinfo=timezone.utc)


def frozen(text: str) -> str:
    return text.replace(socket.gethostname(), "app-host").replace(f"'{__version__}'", "'0.0.0'")


def fixed_walkthrough(database, small_copy, up: str = FAILING_UP):
    failing_aux_4(database, small_copy, up)
    w = load_walkthrough(Source(migrations=str(small_copy), dsn=database))
    db = "app@db.example:5432/shop"
    items = []
    for item in w.items:
        a = dataclasses.replace(item.problem.attempt, started_at=WHEN, finished_at=WHEN, backend_pid=4242,
                                host="app-host", pgferry_version="0.0.0")
        problem = dataclasses.replace(item.problem, attempt=a, database=db)
        choices = tuple(dataclasses.replace(c, action=dataclasses.replace(c.action, database=db, sql=frozen(c.action.sql)))
                        if c.action else c for c in item.choices)
        items.append(dataclasses.replace(item, problem=problem, choices=choices))
    return dataclasses.replace(w, items=tuple(items))


class Shot(PgferryApp):
    def __init__(self, walkthrough, theme):
        super().__init__(Source(), theme=theme)
        self.walkthrough = walkthrough

    def on_mount(self, event) -> None:
        event.prevent_default()  # straight to the screen under test, not the overview
        self.push_screen(RecoveryScreen(self.source, walkthrough=self.walkthrough))


def theme_for(name: str, monkeypatch) -> str | None:
    if name == "no-color":  # as a user with NO_COLOR set: the app picks pgferry-mono
        monkeypatch.setenv("NO_COLOR", "1")
        return None
    return name


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("theme", ["pgferry-dark", "pgferry-high-contrast", "no-color"])
@pytest.mark.parametrize("step", [1, 2])
def test_recovery_snapshot(database, small_copy, snap_compare, size, theme, step, monkeypatch):
    app = Shot(fixed_walkthrough(database, small_copy), theme_for(theme, monkeypatch))

    async def before(pilot):
        await pilot.pause()
        if step == 2:
            await pilot.press("enter")
            await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


def test_recovery_snapshot_confirm(database, small_copy, snap_compare):
    """The retry of a long up.sql at 80x24: the SQL scrolls, the prompt, input and buttons stay on screen."""
    columns = "".join(f"ALTER TABLE aux_jobs ADD COLUMN extra_{i} text;\n" for i in range(25))
    app = Shot(fixed_walkthrough(database, small_copy, columns + FAILING_UP), "pgferry-dark")

    async def before(pilot):
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("4")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


# -- every dialog at 80x24: its prompt, input and buttons on screen, long text scrolling -----------

def long_sql(n: int = 60) -> str:
    return "\n".join(f"ALTER TABLE events ADD COLUMN IF NOT EXISTS extra_{i} text NOT NULL DEFAULT '';" for i in range(n))


def dialogs():
    """One of each ModalScreen of the app, with the longest text it may be given."""
    from pgferry.engine.plan.planner import Plan
    from pgferry.engine.privileges.privileges import Bundle, BundleItem
    from pgferry.engine.definitions.sqlfile import parse_script
    from pgferry.tui.app.export import ExportScreen
    from pgferry.tui.app.grant_dialog import GrantDialog
    from pgferry.tui.app.help import HelpScreen
    from pgferry.tui.app.run import QuitWhileRunning

    script = parse_script("up.sql", long_sql())
    items = tuple(BundleItem("main", 14 + n, "enable extensions", True, f"app@db{n}.example:5432/shop",
                             script.statements, ("superuser",), "main/14/up.sql") for n in range(12))
    return {
        "confirm": TypedConfirm("Step 3 of 5: confirm retry", long_sql(), "4", "run retry"),
        "grant": GrantDialog(Bundle("1.2.0", items, "app"), [i.database for i in items]),
        "save": SaveText("Export the recovery transcript (Markdown)", "pgferry-recover.md", "text"),
        "export": ExportScreen(Plan("1.1.0", "1.1.0", "1.2.0", "upgrade", (), ())),
        "help": HelpScreen("overview"),
        "quit": QuitWhileRunning(7, 4242, "pgferry demo --dir /tmp/pgferry-demo --migrations /tmp/migrations"),
    }


@pytest.mark.parametrize("name", ["confirm", "grant", "save", "export", "help", "quit"])
def test_every_dialog_keeps_its_prompt_input_and_buttons_on_screen_at_80x24(name):
    from textual.app import App
    from textual.containers import VerticalScroll
    from textual.geometry import Region
    from textual.widgets import Button

    dialog = dialogs()[name]
    answers = []

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(dialog, answers.append)

    async def go():
        app = Host()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen_region = Region(0, 0, *SIZE)
            parts = [*dialog.query(Input), *dialog.query(Button), *dialog.query("#confirm-prompt")]
            for w in parts:
                assert screen_region.contains_region(w.region), f"{name}: {w!r} at {w.region} is off screen"
            assert all(w.region.height for w in parts)
            for scroll in dialog.query(VerticalScroll):  # long text is cut to what is left, and scrolls
                assert screen_region.contains_region(scroll.region), f"{name}: {scroll.region}"
            if name == "confirm":
                body = dialog.query_one("#confirm-body", VerticalScroll)
                assert body.max_scroll_y > 0 and dialog.focused is dialog.query_one(Input)
                await pilot.press("pagedown")
                assert body.scroll_y > 0  # the input keeps the focus and the SQL scrolls
                await pilot.press("4", "enter")
                assert answers == [True]
            if name == "grant":
                assert dialog.query_one("#grant-sql", VerticalScroll).max_scroll_y > 0

    asyncio.run(go())
