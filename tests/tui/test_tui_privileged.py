"""The privileged-steps screen on a real server, as a real low-privilege role (no superuser, no
CREATEROLE, no CREATE on the database), with a superuser doing the grant: once through the `g`
dialog, once as a DBA running the bundle from outside and the operator pressing `v`."""
from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import stat

import psycopg
import pytest
from psycopg import conninfo, sql
from rich.console import Console
from textual.widgets import Input, Static

from pgferry.engine.privileges.grant import check_bundle, in_database_of, record_check
from pgferry.engine.privileges.privileges import build_bundle, hold_grants
from pgferry.engine.upgrade.planning import make_plan
from tests.support import SMALL, query
from pgferry.tui.app import PgferryApp, Source
from pgferry.tui.app.base import KeyReasons
from pgferry.tui.app.confirm import TypedConfirm
from pgferry.tui.app.grant_dialog import GrantDialog
from pgferry.tui.app.privileged import PrivilegedScreen
from pgferry.tui.app.savefile import SaveText

SIZE = (80, 24)
SECRET = "hunter2-Pa55"


@pytest.fixture(autouse=True)
def operator(monkeypatch):
    monkeypatch.setenv("PGFERRY_OPERATOR", "olga")


def with_password(dsn: str) -> str:
    return dsn + f" password={SECRET}"  # the trust-auth test server ignores it: it proves it is never shown


def reasons(app) -> str:
    return str(app.screen.query_one(KeyReasons).render())


def plain(renderable) -> str:
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def screen_text(app) -> str:
    """Every Static's content as plain text, plus the screenshot (what is drawn, masks included)."""
    return "\n".join(plain(w.content) for w in app.screen.query(Static)) + app.export_screenshot()


async def settle(app, pilot) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def open_privileged(app, pilot, plan) -> PrivilegedScreen:
    await settle(app, pilot)
    app.proceed(plan)  # the app decides: this role cannot run step 14, so the privileged screen
    await settle(app, pilot)
    assert isinstance(app.screen, PrivilegedScreen)
    return app.screen


def plan_for(source: Source):
    return make_plan(source.definitions(), source.connections(), "1.2.0", downgrade=False)


def started_runs(app) -> list:
    calls: list = []
    app.confirm_and_run = calls.append  # the run screen is another engineer's; we check the hand-over
    return calls


def test_grant_with_a_superuser_connection_in_the_dialog(app_db, app_role, database, tmp_path):
    source = Source(migrations=str(SMALL), dsn=with_password(app_db), superuser_dsn=with_password(database))
    plan = plan_for(source)

    async def go():
        app = PgferryApp(source)
        calls = started_runs(app)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_privileged(app, pilot, plan)
            assert screen.check_action("continue", ()) is None
            assert screen.disabled_reason("continue") == "verify first: 1 statement(s) not yet found in the catalog"
            assert "c continue" in reasons(app) and "verify first: 1 statement(s) not yet found" in reasons(app)
            text = screen_text(app)
            assert "CREATE EXTENSION IF NOT EXISTS pg_trgm;" in text and "✗ not found in the catalog" in text
            assert f"role {app_role} cannot" in text and screen.bundle.token in text
            assert "pgferry privileged --to 1.2.0 --out" in text and "pgferry privileged verify --to 1.2.0" in text

            await pilot.press("y")  # OSC 52, and the notification says so and names the fallback
            assert app.clipboard == screen.bundle.to_sql() and "pg_trgm" in app.clipboard
            note = app._notifications  # noqa: SLF001 - what the user read
            assert any("OSC 52" in n.message and "press s to save" in n.message for n in note)

            await pilot.press("s")
            assert isinstance(app.screen, SaveText)
            assert app.screen.query_one(Input).value == "pgferry-privileged-1.2.0.sql"
            target = tmp_path / "bundle.sql"
            app.screen.query_one(Input).value = str(target)
            await pilot.press("enter")
            await pilot.pause()
            assert target.read_text() == screen.bundle.to_sql()
            assert stat.S_IMODE(os.stat(target).st_mode) == 0o600

            await pilot.press("g")
            dialog = app.screen
            assert isinstance(dialog, GrantDialog)
            field = dialog.query_one(Input)
            assert field.password and field.value == with_password(database)  # prefilled, masked
            assert SECRET not in app.export_screenshot()
            await pilot.press("enter")
            await settle(app, pilot)
            assert app.screen is screen
            assert screen.check_action("continue", ()) is True, reasons(app)
            assert "c continue" not in reasons(app)
            assert "✓ found in the catalog" in screen_text(app)
            assert screen.check_action("grant", ()) is None  # nothing left to grant
            assert SECRET not in screen_text(app)
            assert all(SECRET not in n.message for n in app._notifications)  # noqa: SLF001
            await pilot.press("c")
            await pilot.pause()
        assert calls == [plan]

    asyncio.run(go())
    assert query(database, "SELECT version, applied_at IS NULL, confirmed_by FROM privileged_grants") == [
        (14, True, "olga via a superuser connection as postgres (verified in the catalog)")]
    assert query(database, "SELECT r.rolname FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner "
                           "WHERE extname = 'pg_trgm'") == [("postgres",)]


def test_dba_runs_the_bundle_then_verify_enables_continue(app_db, database):
    source = Source(migrations=str(SMALL), dsn=app_db)
    plan = plan_for(source)

    async def go():
        app = PgferryApp(source)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_privileged(app, pilot, plan)
            await pilot.press("v")  # before the DBA: still missing, nothing recorded
            await settle(app, pilot)
            assert screen.check_action("continue", ()) is None
            assert "verify first: 1 statement(s) not yet found in the catalog" in reasons(app)
            assert query(database, "SELECT to_regclass('migration_logs')") == [(None,)]  # nothing written
            with psycopg.connect(database, autocommit=True) as dba:  # the DBA, at another terminal
                dba.execute(screen.bundle.to_sql())
            await pilot.press("v")
            await settle(app, pilot)
            assert screen.check_action("continue", ()) is True
            assert "✓ verified in the catalog and held as granted" in screen_text(app)

    asyncio.run(go())
    assert query(database, "SELECT version, confirmed_by FROM privileged_grants") == [
        (14, "olga (verified in the catalog)")]


def test_a_failed_grant_shows_the_refusal_without_the_password(app_db, database):
    source = Source(migrations=str(SMALL), dsn=app_db)
    plan = plan_for(source)

    async def go():
        app = PgferryApp(source)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_privileged(app, pilot, plan)
            await pilot.press("g")
            assert app.screen.query_one(Input).value == ""  # no superuser known: nothing prefilled
            app.screen.query_one(Input).value = with_password(app_db)  # not a superuser after all
            await pilot.press("enter")
            await settle(app, pilot)
            panel = screen.query_one("#error", Static)
            assert panel.display and "permission denied" in str(panel.render())
            assert SECRET not in screen_text(app)
            assert screen.check_action("continue", ()) is None

    asyncio.run(go())
    assert query(database, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'") == [(0,)]


def add_unverifiable_step(product) -> None:
    """main 17: a privileged step whose effect the catalog cannot show (only a grant vouches for it)."""
    d = product / "main" / "17_comment_trgm"
    d.mkdir()
    (d / "metadata.yaml").write_text("name: document pg_trgm\nparents: [16]\nprivileged: true\n")
    (d / "up.sql").write_text("COMMENT ON EXTENSION pg_trgm IS 'trigram matching';\n")
    (d / "down.sql").write_text("COMMENT ON EXTENSION pg_trgm IS NULL;\n")
    (product / "releases.yaml").write_text((product / "releases.yaml").read_text().replace("main: [16]", "main: [17]"))


def test_unverifiable_step_is_confirmed_with_the_token(app_db, database, small_copy):
    add_unverifiable_step(small_copy)
    source = Source(migrations=str(small_copy), dsn=app_db)
    plan = plan_for(source)

    async def go():
        app = PgferryApp(source)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_privileged(app, pilot, plan)
            with psycopg.connect(database, autocommit=True) as dba:
                dba.execute(screen.bundle.to_sql())
            await pilot.press("v")
            await settle(app, pilot)
            confirm = app.screen
            assert isinstance(confirm, TypedConfirm) and confirm.expected == screen.bundle.token
            await pilot.press(*"pgf-wrong", "enter")
            assert isinstance(app.screen, TypedConfirm)  # a typo neither acts nor cancels
            confirm.query_one(Input).value = screen.bundle.token
            await pilot.press("enter")
            await settle(app, pilot)
            assert screen.check_action("continue", ()) is True
            return screen.bundle.token

    token = asyncio.run(go())
    assert query(database, "SELECT version, confirmed_by FROM privileged_grants ORDER BY version") == [
        (14, "olga (verified in the catalog)"), (17, f"olga (token {token})")]


def test_a_grant_held_in_another_bookkeeping_schema_is_not_asked_for_again(app_db, app_role, database, small_copy):
    """With --bookkeeping-schema the app reads that schema's grant log (it once read public's, and sent
    the operator back to the privileged screen for a step already granted)."""
    add_unverifiable_step(small_copy)
    with psycopg.connect(database, autocommit=True) as dba:
        dba.execute(sql.SQL("CREATE SCHEMA ledger AUTHORIZATION {}").format(sql.Identifier(app_role)))
        dba.execute("CREATE EXTENSION pg_trgm")  # step 14, run by a DBA: the catalog shows it
    source = Source(migrations=str(small_copy), dsn=app_db, bookkeeping_schema="ledger")
    plan = plan_for(source)
    dsns = dict(source.connections().dsns)
    unknowable = [i for i in build_bundle(plan, dsns).items if i.migration_id == 17]
    assert hold_grants(unknowable, dsns, "olga (token)", bookkeeping_schema="ledger") == [17]

    async def go():
        app = PgferryApp(source)
        calls = started_runs(app)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            app.proceed(plan)
            await settle(app, pilot)
            assert not isinstance(app.screen, PrivilegedScreen)
        assert calls == [plan]

    asyncio.run(go())


def test_engine_check_refuses_to_record_what_is_missing(app_db):
    from pgferry.engine.errors import PrivilegeRequired

    source = Source(migrations=str(SMALL), dsn=app_db)
    dsns = dict(source.connections().dsns)
    check = check_bundle(plan_for(source), dsns)
    assert [v.item.migration_id for v in check.missing] == [14] and not check.complete()
    with pytest.raises(PrivilegeRequired):
        record_check(check, dsns, "olga")
    moved = conninfo.conninfo_to_dict(in_database_of("postgresql://postgres@h:5/postgres", "dbname=shop user=app"))
    assert moved == {"user": "postgres", "host": "h", "port": "5", "dbname": "shop"}


# -- snapshots: fixed data, no database names, role or timestamps ----------------------------------


def fixed_screen(app_db, database, *, done: bool):
    source = Source(migrations=str(SMALL), dsn=app_db)
    plan = plan_for(source)
    dsns = dict(source.connections().dsns)
    bundle = build_bundle(plan, dsns)
    if done:
        with psycopg.connect(database, autocommit=True) as dba:
            dba.execute(bundle.to_sql())
    check = check_bundle(plan, dsns)
    items = tuple(dataclasses.replace(i, database="app@db.example:5432/shop") for i in bundle.items)
    bundle = dataclasses.replace(bundle, items=items, role="app")
    return source, plan, bundle, check


class Shot(PgferryApp):
    def __init__(self, source, plan, bundle, check, theme):
        super().__init__(source, theme=theme)
        self.args = (source, plan, bundle, check)

    def on_mount(self, event) -> None:  # straight to the screen under test, with given data
        event.prevent_default()  # not the overview (PgferryApp.on_mount)
        source, plan, bundle, check = self.args
        self.push_screen(PrivilegedScreen(source, plan, bundle=bundle, check=check))


SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
THEMES = pytest.mark.parametrize("theme", ["pgferry-dark", "pgferry-high-contrast", "no-color"])


def theme_for(name: str, monkeypatch) -> str | None:
    """'no-color' runs as a user with NO_COLOR set would: no --theme, the app picks pgferry-mono."""
    if name == "no-color":
        monkeypatch.setenv("NO_COLOR", "1")
        return None
    return name


@SIZES
@THEMES
def test_privileged_snapshot(app_db, database, snap_compare, size, theme, monkeypatch):
    app = Shot(*fixed_screen(app_db, database, done=False), theme_for(theme, monkeypatch))
    assert snap_compare(app, terminal_size=size)


def test_privileged_snapshot_token_confirm(app_db, database, snap_compare):
    source, plan, bundle, check = fixed_screen(app_db, database, done=True)
    app = Shot(source, plan, bundle, check, "pgferry-dark")

    async def before(pilot):
        pilot.app.push_screen(TypedConfirm("Confirm with the bundle's token", "COMMENT ON EXTENSION pg_trgm …",
                                           bundle.token, "record them as done"))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_privileged_snapshot_grant_dialog(app_db, database, snap_compare):
    source, plan, bundle, check = fixed_screen(app_db, database, done=False)
    app = Shot(source, plan, bundle, check, "pgferry-dark")

    async def before(pilot):
        pilot.app.push_screen(GrantDialog(bundle, ["app@db.example:5432/shop"], f"postgresql://postgres:{SECRET}@db"))
        await pilot.pause()
        assert SECRET not in pilot.app.export_screenshot()  # masked as typed

    assert snap_compare(app, terminal_size=SIZE, run_before=before)
