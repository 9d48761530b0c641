"""The plan screen shows each step's impact: a panel for the highlighted step or group, the estimate
in each stop's header, noticeable steps marked with glyph and word; at 80×24 (a view of the lower
pane, scrollable) and 160×48 (beside the tree). Impacts constructed in tests/impact_data.py."""
from __future__ import annotations

import asyncio
from io import StringIO

import pytest
from rich.console import Console
from textual.widgets import Static, Tree

from pgferry.engine.definitions.catalog import bundled_migrations_dir, load
from pgferry.engine.plan.impact import Basis
from pgferry.tui.app.plan import PlanScreen
from tests.impact_data import bundled_plan, with_impacts
from tests.support import loaded
from tests.tui.test_tui_target_plan import BIG, SIZE, ScreenApp, at_3_20  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def applied():
    defs = load(bundled_migrations_dir())
    release = defs.release("3.20.0")
    return {s: frozenset(defs.required(release, s)) for s in defs.schemas}


def shown(app, selector: str, width: int = 76) -> str:
    """What a Static draws, as plain text at `width` (its renderable may be a Group of lines)."""
    out = StringIO()
    Console(file=out, width=width, no_color=True).print(app.screen.query_one(selector, Static).content)
    return out.getvalue()


def screen_app(plan, applied) -> ScreenApp:
    return ScreenApp(lambda app: PlanScreen(app.source, plan, applied=applied))


def test_impact_panel_marks_and_totals_at_80x24(applied):
    plan = with_impacts(bundled_plan())

    async def go():
        app = screen_app(plan, applied)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            assert "impact: ~3.0 min in all · default estimates: run `pgferry calibrate`" in shown(app, "#summary", 80)
            tree = app.screen.query_one("#steps", Tree)
            assert str(tree.get_node_at_line(0).label).endswith("(21 steps) · ~1.7 min")
            steps = [str(tree.get_node_at_line(n).label) for n in range(3, 8)]
            assert "#2    1602903617 ✗ blocks reads+writes ~3.1 s Add repository stars" in steps[1]
            assert "#5    1602914417 ! blocks writes ~1.5 s Add billing customer id" in steps[4]
            assert "blocks" not in steps[0] + steps[2] + steps[3]  # under the threshold: no mark
            await pilot.press("down")  # #2: the lower pane shows its impact first
            assert "impact of frontend 1602903617 · v shows SQL" in shown(app, "#caption", 80)
            panel = shown(app, "#impact")
            assert "impact of #2: ~3.1 s · rewrite · default estimates: run `pgferry calibrate`" in panel
            assert "✗ blocks reads+writes on public.repo ~3.1 s (≥ 1 s: noticeable)" in panel
            assert "  ✗ ACCESS EXCLUSIVE on public.repo: blocks reads and writes ~3.1 s" in panel
            assert "  public.repo: 60,000 rows, 4.9 MB" in panel
            assert "  add-column-volatile-default (warning): ADD COLUMN stars" in panel
            assert "    fix: add the column without a default" in panel
            # the panel is taller than the pane at 80×24: the pane scrolls to what is below
            detail = app.screen.query_one("#detail")
            assert detail.max_scroll_y > 0
            detail.focus()
            await pilot.press("end")
            await pilot.pause()
            assert detail.scroll_y == detail.max_scroll_y
            tree.focus()
            await pilot.press("down", "down")  # #4 creates a table: said so, size 0
            panel = shown(app, "#impact")
            assert "public.feature_flags: created by this plan (empty)" in panel and "noticeable" not in panel
            await pilot.press("v")
            assert "SQL of frontend 1602910817 · v shows details" in shown(app, "#caption", 80)
            assert not app.screen.query_one("#impact").display
            await pilot.press("v", "v")
            assert app.screen.query_one("#impact").display
            tree.cursor_line = 0  # the stop: its total and what it blocks
            await pilot.pause()
            panel = shown(app, "#impact")
            assert "impact of this group: ~1.7 min · default estimates" in panel
            assert "  reads and writes to public.repo blocked ~3.1 s" in panel
            assert "  writes to public.users blocked ~1.5 s" in panel

    asyncio.run(go())


def test_side_by_side_at_160x48_and_calibrated(applied):
    plan = with_impacts(bundled_plan(), Basis.CALIBRATED)

    async def go():
        app = screen_app(plan, applied)
        async with app.run_test(size=BIG) as pilot:
            await loaded(app, pilot)
            summary = shown(app, "#summary", 160)
            assert "impact: ~3.0 min in all; reads and writes to public.repo blocked ~3.1 s" in summary
            assert "calibrate" not in summary
            await pilot.press("down")
            for pane in ("#impact", "#meta", "#graph", "#sql"):
                assert app.screen.query_one(pane).display
            assert "impact of #2: ~3.1 s · rewrite · calibrated on this server" in shown(app, "#impact")
            reasons = str(app.screen.query_one("KeyReasons").render())
            assert "SQL, details and impact are all shown at this width" in reasons

    asyncio.run(go())


def test_offline_plan_says_there_is_no_estimate(applied):
    async def go():
        app = screen_app(bundled_plan(), applied)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            tree = app.screen.query_one("#steps", Tree)
            assert str(tree.get_node_at_line(0).label).endswith("(21 steps)")
            assert "impact" not in shown(app, "#summary", 80)
            assert "SQL of frontend 1602900017 · v shows details" in shown(app, "#caption", 80)
            await pilot.press("v", "v")
            assert "no estimate: the plan was made without reading the database's sizes" in shown(app, "#impact")
        app = screen_app(bundled_plan(), applied)
        async with app.run_test(size=BIG) as pilot:
            await loaded(app, pilot)
            assert not app.screen.query_one("#impact").display  # side by side: nothing to show

    asyncio.run(go())


def test_plan_read_from_a_live_database_gets_its_impact(at_3_20):  # noqa: F811 (the fixture)
    """The screen reads the applied sets and the impact itself (with_impact): estimates in the stop
    headers and the panel, on the default basis until `pgferry calibrate` ran."""
    from pgferry.engine.upgrade.choices import choose, read_state
    from pgferry.tui.app import Source

    source = Source(dsn=at_3_20)
    defs = source.definitions()
    plan = choose(defs, read_state(defs, source.connections()), defs.release("4.2.0")).plan
    assert plan.impact is None

    async def go():
        app = ScreenApp(lambda app: PlanScreen(source, plan))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            screen = app.screen
            assert screen.plan.impact is not None and len(screen.plan.impact.steps) == len(plan.steps)
            assert "default estimates: run `pgferry calibrate`" in shown(app, "#summary", 80)
            tree = screen.query_one("#steps", Tree)
            assert " · ~" in str(tree.get_node_at_line(0).label) or " · <0.1 s" in str(tree.get_node_at_line(0).label)
            assert screen.query_one("#impact").display  # the pane switched to the impact it read
            assert shown(app, "#impact").startswith("impact of #1: ")
            assert tree.cursor_line == 3  # relabelled, not rebuilt: the cursor stays

    asyncio.run(go())


@pytest.mark.parametrize("size", [pytest.param(SIZE, id="80x24"), pytest.param(BIG, id="160x48")])
def test_plan_impact_snapshot(applied, snap_compare, monkeypatch, size):
    monkeypatch.delenv("NO_COLOR", raising=False)
    plan = with_impacts(bundled_plan())
    app = ScreenApp(lambda app: PlanScreen(app.source, plan, applied=applied), theme="pgferry-dark")

    async def before(pilot):
        await loaded(pilot.app, pilot)
        await pilot.press("down")  # #2: blocks reads and writes on a table for ~3 s, with a lint finding
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)
