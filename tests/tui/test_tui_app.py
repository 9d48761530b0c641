"""App-wide behaviour: the command palette, help for the screen in front, the demo's roles."""
from __future__ import annotations

import asyncio

import psycopg

from tests.support import SMALL, empty_status, fail_main_16, loaded
from pgferry.tui.app import Overview, PgferryApp, Source
from pgferry.tui.app.help import HelpScreen

SIZE = (80, 24)


def test_palette_lists_the_screens_keys_with_reasons(installed):
    fail_main_16(installed)

    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=installed))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            commands = {c.title: c for c in app.get_system_commands(app.screen)}
            target = commands["overview: target (t)"]
            assert target.help.startswith("unavailable: the database is dirty")
            assert commands["overview: recover (x)"].help.startswith("Walk through")
            assert "theme: pgferry-high-contrast" in commands and "theme: textual-dark" not in commands
            target.callback()  # a dimmed command says why instead of doing nothing
            await pilot.pause()
            assert any("dirty" in n.message for n in app._notifications)
            commands["theme: pgferry-high-contrast"].callback()
            await pilot.pause()
            assert app.theme == "pgferry-high-contrast"

    asyncio.run(go())


def test_help_opens_at_the_screen_in_front(installed):
    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=installed))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            await pilot.press("f1")
            assert isinstance(app.screen, HelpScreen) and app.screen.topic == "overview"
            await pilot.press("escape")
            from pgferry.tui.app.report import ReportScreen

            with psycopg.connect(installed, autocommit=True) as conn:
                from pgferry.engine.bookkeeping.runs import RunStore

                store = RunStore(conn)
                store.ensure()
                run_id = store.create({"steps": []}, "upgrade", "1.1.0", "1.2.0", 0, None)
                store.finish(run_id, "succeeded")
            app.push_screen(ReportScreen(app.source, run_id))
            await pilot.pause()
            await pilot.press("question_mark")
            assert app.screen.topic == "report"
            text = app.screen.query_one("#help-text").source
            assert text.startswith("## report")

    asyncio.run(go())


def test_overview_explains_when_there_is_no_plan_to_check(database):
    import psycopg

    # A migration the definitions do not know: no plan can start from here, so nothing to preflight.
    from pgferry.tui.cli import main

    assert main(["upgrade", "--to", "1.1.0", "--yes", "--no-progress", "--dsn", database,
                 "--migrations", str(SMALL)]) == 0
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("INSERT INTO migration_logs (schema, version, up, success, finished_at) "
                     "VALUES ('main', 99, true, true, now())")

    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=database))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            await pilot.pause(0.5)
            text = str(app.screen.query_one("#preflight").render())
            assert "no plan to check" in text
            assert not [n for n in app._notifications if n.severity == "error"]

    asyncio.run(go())


def test_demo_says_how_to_come_back_and_how_a_dba_connects(capsys):
    """The demo's databases are unknown to a plain `pgferry`: it names the command that reopens them,
    says when it reopens rather than installs, and shows the DBA's superuser connection, no password."""
    import shlex
    import shutil
    import tempfile
    from pathlib import Path

    from pgferry.tui.cli import main

    # Not under pytest's tmp_path: run as root, the server runs as another user, who cannot enter it.
    datadir = Path(tempfile.mkdtemp(prefix="pgferry-demo-")) / "pgdata"
    try:
        assert main(["demo", "--no-ui", "--dir", str(datadir), "--migrations", str(SMALL)]) == 0
        first = capsys.readouterr().err
        assert "reopening" not in first and "installing the bundled product" in first
        again = [line for line in first.splitlines() if line.startswith("Open this demo again with: ")]
        assert again == [f"Open this demo again with: pgferry demo --dir {datadir} --migrations {SMALL}"]
        psql = next(line.strip() for line in first.splitlines() if line.strip().startswith("psql "))
        words = shlex.split(psql)
        assert words[0] == "psql" and "user=postgres" in words[1] and "dbname=pgferry_main" in words[1]
        assert "password" not in words[1] and "@" not in psql
        assert dict(pair.split("=", 1) for pair in words[1].split())["host"].startswith("/")  # the unix socket
        with psycopg.connect(words[1]) as conn:  # what the DBA types works: a superuser session
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]

        # The command it names reopens the same databases, and says so.
        assert main([*shlex.split(again[0].removeprefix("Open this demo again with: "))[1:], "--no-ui"]) == 0
        second = capsys.readouterr().err
        assert f"reopening the demo in {datadir}: its databases are kept as they are (at 1.0.0)" in second
        assert "installing" not in second
    finally:
        main(["demo", "--stop", "--dir", str(datadir)])
        shutil.rmtree(datadir.parent, ignore_errors=True)


def test_quitting_mid_run_names_a_way_back_that_works():
    from textual.widgets import Static

    from pgferry.tui.app.run import QuitWhileRunning

    async def go(source: Source) -> str:
        app = PgferryApp(source, overview=Overview(empty_status(), None, "PostgreSQL 17.2"))
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(QuitWhileRunning(7, 4242, source.come_back()))
            await pilot.pause()
            return str(app.screen.query_one(Static).render())

    demo = asyncio.run(go(Source(reopen="pgferry demo --dir /srv/demo")))
    assert "To come back to it, run `pgferry demo --dir /srv/demo` again." in demo and "pgferry again" not in demo
    plain = asyncio.run(go(Source()))
    assert "run pgferry again with the same connection settings, or pgferry watch." in plain
