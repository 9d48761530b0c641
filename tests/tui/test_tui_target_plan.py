"""Choose target and plan review, driven by Textual's pilot on a real database, plus SVG snapshots."""
from __future__ import annotations

import asyncio
import json
import os
import stat

import pytest
from textual.widgets import DataTable, Input, Static, Tree

from pgferry.engine.definitions.catalog import bundled_migrations_dir
from pgferry.engine.upgrade.choices import DatabaseState, read_state
from pgferry.tui.app import PgferryApp, Source
from pgferry.tui.app.export import ExportScreen
from pgferry.tui.app.plan import PlanScreen
from pgferry.tui.app.target import TargetScreen
from pgferry.tui.cli import main
from tests.support import loaded

SIZE = (80, 24)
BIG = (160, 48)


@pytest.fixture(scope="module")
def at_3_20(pg_server):
    """The bundled product installed at its oldest release; tests here only read it."""
    dsn = pg_server.create_database("tp")
    assert main(["upgrade", "--to", "3.20.0", "--yes", "--dsn", dsn]) == 0
    yield dsn
    pg_server.drop_database(dsn)


class RecordingApp(PgferryApp):
    """The privileged and run screens are someone else's: record that the plan screen handed over."""

    proceeded: list = []

    def proceed(self, plan) -> None:
        self.proceeded.append(plan)


def table_rows(app) -> dict[str, list[str]]:
    table = app.screen.query_one("#releases", DataTable)
    return {str(table.get_row_at(i)[1]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}


def _walk(node):
    for child in node.children:
        yield child
        yield from _walk(child)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def test_target_then_plan_then_export_then_continue(at_3_20, tmp_path):
    async def go():
        app = RecordingApp(Source(dsn=at_3_20))
        app.proceeded = []
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            await pilot.press("t")
            await loaded(app, pilot)
            assert isinstance(app.screen, TargetScreen)
            rows = table_rows(app)
            assert len(rows) == 16
            assert rows["3.20.0"][0] == "▶" and rows["3.20.0"][-1] == "● current"
            assert rows["4.2.0"][2] == "↑ upgrade" and int(rows["4.2.0"][3]) > 50 and rows["4.2.0"][7] == "2"
            assert rows["3.30.0"][-1] == "✗ pulled"
            assert rows["4.3.0-rc.1"][-1] == "✗ insiders"
            table = app.screen.query_one("#releases", DataTable)
            assert str(table.get_row_at(table.cursor_row)[1]) == "4.2.0"  # latest stable
            assert "Roles and permissions" in text_of(app, "#notes")
            await pilot.press("k", "k", "k", "k")  # 3.30.0, pulled: dimmed key with its reason; Enter says why
            assert "✗ cannot choose: release 3.30.0 was pulled" in text_of(app, "#notes")
            reasons = str(app.screen.query_one("KeyReasons").render())
            assert "⏎ review plan" in reasons and "3.30.0 cannot be chosen (pulled" in reasons
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, TargetScreen)
            assert any("3.30.0 cannot be chosen: release 3.30.0 was pulled" in n.message
                       for n in app._notifications)
            await pilot.press("j", "j", "j", "j")
            await pilot.press("enter")
            await loaded(app, pilot)
            plan_screen = app.screen
            assert isinstance(plan_screen, PlanScreen) and plan_screen.plan.to_version == "4.2.0"
            assert "upgrade 3.20.0 → 4.2.0" in text_of(app, "#summary") and "2 stops" in text_of(app, "#summary")
            tree = plan_screen.query_one("#steps", Tree)
            heads = [str(n.label) for n in tree.root.children]
            assert heads[0].startswith("⏸ stop at 3.23.0 · finish ⟳ 1, 2")
            assert heads[1].startswith("⏸ stop at 3.30.1") and heads[2].startswith("→ upgrade to 4.2.0")
            labels = [str(tree.get_node_at_line(i).label) for i in range(tree.last_line + 1)]
            assert any(" ⧗ " in l or "⧗" in l for l in labels) and any("⟳" in l and "out-of-band 1" in l for l in labels)
            assert any("⚿" in l for l in labels)

            def sql_shown() -> str:
                from rich.console import Console

                console = Console(width=200, no_color=True)
                with console.capture() as cap:
                    console.print(plan_screen.query_one("#sql", Static).content)
                return cap.get()

            first = tree.cursor_node.data
            assert first.n == 1 and first.step.step.script.text.strip().split()[0] in sql_shown()
            await pilot.press("down", "down")
            third = tree.cursor_node.data
            assert third.n == 3 and "CONCURRENTLY" in sql_shown()
            # the plan's impact was read from the database: the lower pane shows it first (test_tui_plan_impact.py)
            assert "impact of frontend " + str(third.id) in text_of(app, "#caption")
            await pilot.press("v")
            assert "SQL of frontend " + str(third.id) in text_of(app, "#caption")
            await pilot.press("v")  # details: metadata and the graph around the step
            meta, graph = text_of(app, "#meta"), text_of(app, "#graph")
            assert f"#3 ↑ apply · frontend {third.id}" in meta and "⧗ concurrent index" in meta
            assert "file: migrations/frontend/" in meta
            assert "parents" in graph and "↑ #2" in graph and "children" in graph and "↑ #4" in graph
            await pilot.press("v")

            # / narrows to privileged steps; Esc brings everything back
            await pilot.press("slash")
            await pilot.press(*"privileged")
            await pilot.pause()
            steps = [n.data for n in _walk(tree.root) if hasattr(n.data, "n")]
            assert steps and all(s.step.step.migration.privileged for s in steps)
            assert f"{len(steps)} of {len(plan_screen.items)} steps" in text_of(app, "#summary")
            assert tree.cursor_node.data is steps[0] and f"of frontend {steps[0].id}" in text_of(app, "#caption")
            await pilot.press("enter")  # back to the tree, filter kept
            assert tree.has_focus
            await pilot.press("escape")
            await pilot.pause()
            assert len([n for n in _walk(tree.root) if hasattr(n.data, "n")]) == len(plan_screen.items)
            await pilot.press("slash", *"oob")
            await pilot.pause()
            assert {n.data.step.kind for n in _walk(tree.root) if hasattr(n.data, "n")} == {"out_of_band"}
            await pilot.press("escape")
            await pilot.pause()
            assert not plan_screen.query_one("#filter").display

            # e exports: SQL (the default), then JSON and Markdown chosen in the dialog
            written = {}
            for fmt, downs in (("sql", 0), ("json", 1), ("markdown", 2)):
                await pilot.press("e")
                await pilot.pause()
                assert isinstance(app.screen, ExportScreen)
                for _ in range(downs):  # the radio set has focus: right moves, enter picks
                    await pilot.press("right")
                await pilot.press("enter")
                chosen = app.screen.query_one(f"#fmt-{fmt}").label
                assert str(chosen).endswith(" ✓")  # not by colour alone
                path_box = app.screen.query_one("#path", Input)
                assert path_box.value.startswith("pgferry-plan-4.2.0.")
                path_box.value = str(tmp_path / path_box.value)
                path_box.focus()
                await pilot.press("enter")
                await pilot.pause()
                assert app.screen is plan_screen
                written[fmt] = tmp_path / f"pgferry-plan-4.2.0.{ {'sql': 'sql', 'json': 'json', 'markdown': 'md'}[fmt]}"
            for path in written.values():
                assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            assert "CREATE INDEX CONCURRENTLY" in written["sql"].read_text()
            data = json.loads(written["json"].read_text())
            assert data["to"] == "4.2.0" and [s["release"] for s in data["stops"]] == ["3.23.0", "3.30.1"]
            assert written["markdown"].read_text().startswith("# Upgrade plan: 3.20.0 → 4.2.0")

            await pilot.press("c")
            await pilot.pause()
            assert [p.to_version for p in app.proceeded] == ["4.2.0"]
            await pilot.press("escape")
            assert isinstance(app.screen, TargetScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, TargetScreen)

    asyncio.run(go())


# -- snapshots: fixed data (the state read once, server version pinned), no database name on screen --

@pytest.fixture(scope="module")
def fixed_state(at_3_20) -> DatabaseState:
    import dataclasses

    from pgferry.engine.definitions.catalog import load
    from pgferry.engine.upgrade.upgrade import Connections

    defs = load(bundled_migrations_dir())
    state = read_state(defs, Connections({name: at_3_20 for name in defs.schemas}))
    return dataclasses.replace(state, server="17.2")


class ScreenApp(PgferryApp):
    """Opens straight on one screen (no overview, no database)."""

    def __init__(self, make, **kw) -> None:
        super().__init__(Source(), **kw)
        self.make = make

    def on_mount(self, event) -> None:
        event.prevent_default()  # Textual would run PgferryApp.on_mount too, pushing the overview
        self.push_screen(self.make(self))


def plan_to(state: DatabaseState, version: str):
    from pgferry.engine.upgrade.choices import choose

    defs = Source().definitions()
    return choose(defs, state, defs.release(version)).plan


THEMES = [pytest.param("pgferry-dark", id="dark"), pytest.param("pgferry-high-contrast", id="contrast"),
          pytest.param(None, id="nocolor")]
SIZES = [pytest.param(SIZE, id="80x24"), pytest.param(BIG, id="160x48")]


def themed(theme, monkeypatch) -> dict:
    if theme is None:
        monkeypatch.setenv("NO_COLOR", "1")
        return {}
    monkeypatch.delenv("NO_COLOR", raising=False)
    return {"theme": theme}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("theme", THEMES)
def test_target_snapshot(fixed_state, snap_compare, monkeypatch, theme, size):
    app = ScreenApp(lambda app: TargetScreen(app.source, fixed_state), **themed(theme, monkeypatch))

    async def before(pilot):
        await loaded(pilot.app, pilot)
        await pilot.press("up", "up", "up")  # onto 4.0.0 … 3.30.0 (pulled): its reason in the notes
        await pilot.press("up")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("theme", THEMES)
def test_plan_snapshot(fixed_state, snap_compare, monkeypatch, theme, size):
    plan = plan_to(fixed_state, "4.2.0")
    app = ScreenApp(lambda app: PlanScreen(app.source, plan, applied=fixed_state.applied), **themed(theme, monkeypatch))

    async def before(pilot):
        await loaded(pilot.app, pilot)
        await pilot.press("down", "down")  # #3, a concurrent index build with a parent and a child
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


def test_current_release_gives_an_empty_plan_and_continue_is_dimmed(fixed_state):
    async def go():
        app = ScreenApp(lambda app: PlanScreen(app.source, plan_to(fixed_state, "3.20.0"), applied=fixed_state.applied))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            assert "already at 3.20.0: nothing to do" in text_of(app, "#summary")
            assert app.screen.check_action("proceed", ()) is None
            reasons = str(app.screen.query_one("KeyReasons").render())
            assert "c continue" in reasons and "already at 3.20.0" in reasons
            await pilot.press("e")  # an empty plan still exports (a record that nothing was due)
            assert isinstance(app.screen, ExportScreen)
            await pilot.press("escape")
            assert isinstance(app.screen, PlanScreen)

    asyncio.run(go())


def test_summary_names_the_rebuilds_a_collation_change_adds(fixed_state):
    from dataclasses import replace

    from pgferry.engine.plan.reindex import Reindex

    rebuild = Reindex("demo", "public.repo_name_key", "public.repo", 96 * 1024 * 1024, ("demo",))
    plan = replace(plan_to(fixed_state, "4.2.0"), reindex=(rebuild,))

    async def go():
        app = ScreenApp(lambda app: PlanScreen(app.source, plan, applied=fixed_state.applied))
        async with app.run_test(size=BIG) as pilot:
            await loaded(app, pilot)
            assert "↻ first: rebuild 1 index(es) on changed collations (~3s): public.repo_name_key" \
                in text_of(app, "#summary")

    asyncio.run(go())


def test_export_errors_stay_in_the_dialog(fixed_state, tmp_path):
    async def go():
        plan = plan_to(fixed_state, "4.2.0")
        app = ScreenApp(lambda app: PlanScreen(app.source, plan, applied=fixed_state.applied))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            await pilot.press("e")
            box = app.screen.query_one("#path", Input)
            box.value = str(tmp_path / "missing" / "plan.sql")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert isinstance(app.screen, ExportScreen)
            assert "✗ cannot write" in text_of(app, "#problem") and "No such file" in text_of(app, "#problem")
            existing = tmp_path / "old.sql"
            existing.write_text("keep")
            os.chmod(existing, 0o644)
            box.value = str(existing)
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert "exists: Write again to replace it" in text_of(app, "#problem") and existing.read_text() == "keep"
            await pilot.press("ctrl+s")  # the second Write, by key (a button ignores a click within 0.2 s)
            await pilot.pause()
            assert isinstance(app.screen, PlanScreen)
            assert existing.read_text().startswith("-- pgferry plan") and stat.S_IMODE(existing.stat().st_mode) == 0o600

    asyncio.run(go())


def test_choices_and_outline_without_a_database(small_defs):
    """The engine side: planned from a given applied set; a downgrade is offered, grouping keeps run order."""
    from pgferry.engine.upgrade.choices import DatabaseState, choose
    from pgferry.engine.plan.outline import items, matches, segments

    top = small_defs.releases.releases[-1]
    applied = {s: small_defs.required(top, s) for s in small_defs.schemas}
    state = DatabaseState(applied, {}, "17.2", small_defs.version_of(applied))
    choices = [choose(small_defs, state, r) for r in small_defs.releases.releases]
    assert choices[-1].current and choices[-1].plan.empty and choices[-1].short == "● current"
    first = choices[0]
    assert first.selectable and first.direction == "downgrade" and first.counts.migrations > 0
    its = items(first.plan)
    assert [it.n for it in its] == list(range(1, len(its) + 1))
    grouped = [it.n for seg in segments(first.plan, its) for rg in seg.releases for sg in rg.schemas for it in sg.items]
    assert sorted(grouped) == [it.n for it in its if it.step.kind == "schema"]
    assert all(matches(it, "down") for it in its) and not any(matches(it, "zzz-nothing") for it in its)
