"""The overview screen driven by Textual's pilot on a real database, plus one SVG snapshot."""
from __future__ import annotations

import asyncio
import dataclasses

import psycopg
import pytest
from textual.widgets import DataTable, Static

from tests.support import SMALL, empty_status, fail_main_16, loaded
from pgferry.engine.errors import ExitCode, PgferryError
from pgferry.tui.app import Overview, PgferryApp, Source
from pgferry.tui.app.help import HelpScreen
from pgferry.tui.app.themes import ThemeFileError, load_all, load_file
from pgferry.tui.cli import main

SIZE = (80, 24)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def rows(app) -> list[list[str]]:
    table = app.screen.query_one("#schemas", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def test_overview_shows_versions_and_counts(installed):
    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=installed))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            assert app.theme == "pgferry-dark"
            got = {r[0]: r for r in rows(app)}
            assert got["main"][:5] == ["main", "1.2.0", "10", "0", "0"]  # 1..3 (squashed into 10), 10..16
            assert got["aux"][:5] == ["aux", "1.2.0", "3", "0", "0"]
            assert got["main"][5] == "✓ up to date"
            summary = text_of(app, "#summary")
            assert "PostgreSQL" in summary and "database version: 1.2.0" in summary
            assert "main: " in text_of(app, "#connections")
            assert not app.screen.query_one("#banner").display
            await pilot.press("r")
            await loaded(app, pilot)
            assert len(rows(app)) == 2

    asyncio.run(go())


def test_help_opens_and_escape_closes_then_q_quits(installed):
    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=installed))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            for key in ("question_mark", "f1"):
                await pilot.press(key)
                assert isinstance(app.screen, HelpScreen)
                assert "any other key closes" in app.screen.query_one("#help-text").source
                await pilot.press("escape")
                assert not isinstance(app.screen, HelpScreen)
            await pilot.press("q")
            await pilot.pause()
        assert app.return_code == 0
        assert not app.is_running

    asyncio.run(go())


def test_footer_bindings_have_ids_and_descriptions():
    from pgferry.tui.app.overview import OverviewScreen

    for b in [*PgferryApp.BINDINGS, *OverviewScreen.BINDINGS]:
        assert b.id and b.description and b.tooltip


def test_dirty_database_shows_banner(installed):
    fail_main_16(installed)

    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=installed))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            banner = app.screen.query_one("#banner")
            assert banner.display
            text = text_of(app, "#banner")
            assert "✗ dirty database" in text and "main 16 failed" in text and "pgferry recover" in text
            assert rows(app)[0][4] == "1" and rows(app)[0][5].startswith("✗ failed: 16")

    asyncio.run(go())


def test_an_edited_applied_migration_shows_in_the_banner_and_holds_the_target(database, small_copy):
    assert main(["up", "--dsn", database, "--migrations", str(small_copy)]) == 0
    up = small_copy / "main" / "11_users_bio" / "up.sql"
    up.write_text(up.read_text() + "ALTER TABLE users ADD COLUMN nickname text;\n")

    async def go():
        app = PgferryApp(Source(migrations=str(small_copy), dsn=database))
        async with app.run_test(size=(160, 48)) as pilot:
            await loaded(app, pilot)
            text = " ".join(text_of(app, "#banner").split())
            assert "✗ main 11 (users bio (left of the diamond)): migrations/main/11_users_bio/up.sql changed" in text
            assert "--accept-changed 11 --reason TEXT" in text
            assert rows(app)[0][5] == "✗ changed since applied: 11"
            assert app.screen.disabled_reason("choose_target").startswith("an applied migration changed")

    asyncio.run(go())


def test_connection_error_shows_panel_without_password():
    secret = "s3cr3t-Pa55"
    dsn = f"postgresql://alice:{secret}@127.0.0.1:1/nowhere?connect_timeout=2"

    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=dsn))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            panel = app.screen.query_one("#error")
            assert panel.display
            text = text_of(app, "#error")
            assert "✗ cannot read the status" in text and "cannot connect" in text
            assert "Traceback" not in text
            screen_text = "".join(str(w.render()) for w in app.screen.query(Static))
            assert secret not in screen_text and secret not in app.export_screenshot()
            assert app.is_running  # the error did not end the app

    asyncio.run(go())


def test_themes_load_and_no_color_gives_mono(monkeypatch, tmp_path):
    themes, problems = load_all()
    assert {"pgferry-dark", "pgferry-light", "pgferry-high-contrast", "pgferry-mono"} <= {t.name for t in themes}
    assert problems == []
    (tmp_path / "mine.yaml").write_text("name: mine\nprimary: '#123456'\ndark: false\n")
    (tmp_path / "bad.yaml").write_text("name: bad\nprimary: notacolour\n")
    mine, problems = load_all([tmp_path])
    assert [t.name for t in mine] == ["mine"] and "bad.yaml" in problems[0]
    with pytest.raises(ThemeFileError) as refused:
        load_file(tmp_path / "bad.yaml")
    # bad input, mapped by the command line like every other: exit 2 with the file named
    assert isinstance(refused.value, PgferryError) and refused.value.exit_code == ExitCode.USAGE
    assert refused.value.message == "bad.yaml: primary: not a colour: 'notacolour'"
    monkeypatch.setenv("NO_COLOR", "1")
    assert PgferryApp().theme == "pgferry-mono"
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert PgferryApp(theme="pgferry-high-contrast").theme == "pgferry-high-contrast"


def test_user_theme_from_config_dir(monkeypatch, tmp_path):
    monkeypatch.setattr("pgferry.tui.app.themes.user_dir", lambda: tmp_path)
    (tmp_path / "mine.yaml").write_text("name: mine\nprimary: '#123456'\n")
    assert PgferryApp(theme="mine").theme == "mine"


def test_unknown_theme_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    assert main(["--theme", "nope"]) == 2
    assert "unknown theme 'nope'" in capsys.readouterr().err


def fixed_overview(dsn: str) -> Overview:
    """A real status read from the database, with the random database name replaced."""
    from pgferry.engine.bookkeeping.status import read_status
    from pgferry.engine.definitions.catalog import load

    defs = load(SMALL)
    status = read_status(defs, {name: dsn for name in defs.schemas})
    schemas = tuple(dataclasses.replace(s, database="app@db.example:5432/shop") for s in status.schemas)
    return Overview(dataclasses.replace(status, schemas=schemas), None, "PostgreSQL 17.2")


SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
THEMES = {"dark": "pgferry-dark", "high-contrast": "pgferry-high-contrast", "no-color": None}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("theme", THEMES)
def test_overview_snapshot(installed, snap_compare, monkeypatch, size, theme):
    fail_main_16(installed)
    if THEMES[theme] is None:
        monkeypatch.setenv("NO_COLOR", "1")
    app = PgferryApp(overview=fixed_overview(installed), theme=THEMES[theme])
    assert snap_compare(app, terminal_size=SIZES[size])


@pytest.mark.parametrize("theme", THEMES)
def test_help_snapshot(snap_compare, monkeypatch, theme):
    if THEMES[theme] is None:
        monkeypatch.setenv("NO_COLOR", "1")
    app = PgferryApp(overview=Overview(empty_status(), None, "PostgreSQL 17.2"), theme=THEMES[theme])
    assert snap_compare(app, terminal_size=SIZE, press=["f1"])


def test_interrupted_run_shows_banner(installed):
    from pgferry.engine.bookkeeping.runs import RunStore

    with psycopg.connect(installed, autocommit=True) as conn:  # its backend ends with it: the run is orphaned
        store = RunStore(conn)
        store.ensure()
        run_id = store.create({}, "up", "1.1.0", "1.2.0", 5, None)
        store.progress(run_id, 2, "main 15")

    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=installed))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            text = text_of(app, "#banner")
            assert f"! upgrade run {run_id} interrupted at step 2/5: 1.1.0 → 1.2.0" in text
            assert "dirty" not in text

    asyncio.run(go())


def test_theme_from_the_config_file(monkeypatch, tmp_path):
    monkeypatch.delenv("NO_COLOR", raising=False)
    config = tmp_path / "config.yaml"
    config.write_text("theme: pgferry-light\n")
    monkeypatch.setattr("pgferry.tui.app.themes.config_path", lambda: config)
    assert PgferryApp().theme == "pgferry-light"
    assert PgferryApp(theme="pgferry-high-contrast").theme == "pgferry-high-contrast"  # --theme wins
    monkeypatch.setenv("NO_COLOR", "1")
    assert PgferryApp().theme == "pgferry-mono"  # NO_COLOR beats the config
    config.write_text("theme: [not, a, name\n")  # broken: ignored, the default applies
    monkeypatch.delenv("NO_COLOR")
    assert PgferryApp().theme == "pgferry-dark"


def test_a_run_that_ended_without_the_ui_offers_its_report(database, tmp_path, monkeypatch):
    """An upgrade run from the command line while no UI was open: the overview names it and opens its report."""
    from pgferry.tui.app.report import ReportScreen

    monkeypatch.chdir(tmp_path)
    for to in ("1.1.0", "1.2.0"):
        assert main(["upgrade", "--to", to, "--yes", "--no-progress", "--dsn", database, "--migrations", str(SMALL)]) == 0

    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=database))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            assert "last run 2: upgrade 1.1.0 → 1.2.0, succeeded" in text_of(app, "#summary")
            command = {c.title: c for c in app.get_system_commands(app.screen)}["overview: report (l)"]
            assert not command.help.startswith("unavailable")
            command.callback()  # the palette's way in; the key is the other
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert isinstance(app.screen, ReportScreen) and app.screen.run_id == 2
            assert app.screen.markdown.startswith("# pgferry report: run 2, upgrade 1.1.0 → 1.2.0")
            await pilot.press("escape")
            await loaded(app, pilot)
            await pilot.press("l")
            await pilot.pause()
            assert isinstance(app.screen, ReportScreen)

    asyncio.run(go())


def test_no_run_yet_dims_the_report_key(installed):
    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=installed))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            assert app.screen.disabled_reason("last_report") == "no upgrade run recorded yet"
            assert "last run" not in text_of(app, "#summary")

    asyncio.run(go())


@pytest.fixture(scope="module")
def at_newest_stable(pg_server):
    """The bundled product at 4.2.0, the newest stable release; 4.3.0-rc.1 is on the insiders channel."""
    from pgferry.engine.definitions.catalog import bundled_migrations_dir, load
    from pgferry.engine.upgrade.upgrade import Connections, Upgrade

    dsn = pg_server.create_database()
    defs = load(bundled_migrations_dir())
    Upgrade(defs, Connections({name: dsn for name in defs.schemas})).run("4.2.0")
    yield dsn, defs
    pg_server.drop_database(dsn)


def test_pending_counts_against_the_stable_channel(at_newest_stable):
    from pgferry.engine.bookkeeping.status import read_status

    dsn, defs = at_newest_stable
    dsns = {name: dsn for name in defs.schemas}
    assert all(s.pending for s in read_status(defs, dsns, channel="insiders").schemas)  # the preview is ahead

    async def go():
        app = PgferryApp(Source(dsn=dsn))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            assert [r[3:6] for r in rows(app)] == [["0", "0", "✓ up to date"]] * 3
            assert "database version: 4.2.0\n" in text_of(app, "#summary") + "\n"

    asyncio.run(go())
