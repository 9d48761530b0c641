"""SVG snapshots of the fleet screen at 80×24 and 160×48, dark and NO_COLOR: a fleet run halted in
its second ring (a failure, a dead coordinator's claim, one running with its progress, one frozen),
given as fixed rows so the pictures depend on nothing live."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from textual.geometry import Region
from textual.widgets._footer import FooterKey

from pgferry.engine.fleet.inventory import Defaults, Instance, Inventory
from pgferry.engine.fleet.state import FleetRun
from pgferry.tui.app import PgferryApp, Source
from pgferry.tui.app.fleet import FleetScreen
from pgferry.tui.app.fleet_model import FleetSnapshot, FleetSource
from tests.tui.test_tui_fleet_model import state

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc)
SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
THEMES = {"dark": "pgferry-dark", "no-color": None}
RINGS = {"canary": 2, "early": 8, "general": 30}


def fleet() -> tuple[FleetSource, FleetSnapshot]:
    instances, states = [], []
    for ring, count in RINGS.items():
        for n in range(count):
            name = f"acme-{ring[:2]}-{n + 1:02d}"
            instances.append(Instance(name, ring, "dbname=x", None, {"region": "eu" if n % 2 else "us"}))
            done = dict(from_version="1.0.0", reached_version="1.2.0", started_at=T0, upgrade_run_id=3,
                        finished_at=T0 + timedelta(seconds=40 + n))
            status = "succeeded" if ring != "general" else "pending"
            states.append(state(name, ring, status, **(done if status == "succeeded" else {})))
    states[4] = state("acme-ea-03", "early", "failed", from_version="1.0.0", upgrade_run_id=3, started_at=T0,
                      finished_at=T0 + timedelta(seconds=12),
                      reason='main 15: relation "events" already exists (SQLSTATE 42P07)')
    states[5] = state("acme-ea-04", "early", "running", alive=False, from_version="1.0.0", upgrade_run_id=4)
    states[6] = state("acme-ea-05", "early", "running", alive=True, from_version="1.0.0", upgrade_run_id=5)
    states[-1] = state("acme-ge-30", "general", "skipped", reason="frozen until the quarter closes")
    run = FleetRun(12, "acme", "1.2.0", "halted", "ring early: 1 failed (halt_after_failures 1): acme-ea-03",
                   T0, None, "ops@box:41", None)
    inventory = Inventory("acme.yaml", "acme", None, tuple(RINGS), Defaults(), tuple(instances))
    snapshot = FleetSnapshot(run, tuple(sorted(states, key=lambda s: s.name)), {"acme-ea-05": (7, 16)}, T0)
    return FleetSource(inventory, "dbname=coordinator"), snapshot


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("theme", THEMES)
def test_fleet_screen_snapshot(size, theme, snap_compare, monkeypatch):
    if THEMES[theme] is None:
        monkeypatch.setenv("NO_COLOR", "1")
    app = PgferryApp(Source(), theme=THEMES[theme], overview=None)
    source, snapshot = fleet()

    async def show(pilot):
        await app.push_screen(FleetScreen(source, given=snapshot))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=show)


def test_every_key_stays_in_sight_at_80_columns():
    """Textual docks the palette's hint over the footer's right end: at 80 columns it hid q Quit and ? Help.
    It gives way there now, and comes back when the terminal is wide enough for it as well."""
    app = PgferryApp(Source(), theme="pgferry-dark", overview=None)
    source, snapshot = fleet()

    def footer() -> dict[str, Region]:
        return {k.key_display: k.region for k in app.screen.query(FooterKey)}

    async def go():
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(FleetScreen(source, given=snapshot))
            await pilot.pause()
            narrow = footer()
            await pilot.resize_terminal(120, 24)
            await pilot.pause()
            return narrow, footer()

    narrow, wide = asyncio.run(go())
    assert list(narrow) == ["⏎", "p", "r", "P", "R", "/", "esc", "q", "?"]
    assert all(r.right <= 80 for r in narrow.values())
    assert "^p" in wide and wide["?"].right < wide["^p"].x
