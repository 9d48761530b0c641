"""The overview's adoption offer (issue 15 §2), driven by the pilot on a real database, plus a snapshot."""
from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Static

from pgferry.engine.repair.adopt import Adoption, DatabaseAdoption
from pgferry.engine.repair.differences import compare
from pgferry.engine.repair.expected import load_expected
from pgferry.tui.app import PgferryApp, Source
from pgferry.tui.app.adopt import AdoptScreen
from pgferry.tui.app.confirm import TypedConfirm
from pgferry.tui.app.overview import OverviewScreen
from tests.support import ADOPTED, SMALL, bundled, install_unrecorded, loaded, query

SIZE = (100, 32)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def test_overview_offers_adoption_compares_and_records(capsys, database, small_copy, small_shapes, monkeypatch):
    install_unrecorded(capsys, database, small_copy, small_shapes)
    monkeypatch.setenv("PGFERRY_OPERATOR", "carol")

    async def go():
        app = PgferryApp(Source(migrations=str(small_copy), dsn=database))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            assert "press d to adopt it at its release" in text_of(app, "#banner")
            assert app.screen.disabled_reason("choose_target").endswith("adopt the database first (d)")
            await pilot.press("d")
            assert isinstance(app.screen, AdoptScreen)
            assert app.screen.disabled_reason("record") == "compare with a release first (⏎)"
            await pilot.press("enter")  # the cursor starts on the newest release, 1.2.0: not this database's
            await loaded(app, pilot)
            assert "DIFFERS from release 1.2.0" in text_of(app, "#result")
            assert "table events: missing" in text_of(app, "#result")
            assert app.screen.disabled_reason("record").startswith("the database differs from 1.2.0")
            await pilot.press("up", "enter")
            await loaded(app, pilot)
            assert "matches release 1.1.0" in text_of(app, "#result")
            assert app.screen.disabled_reason("record") is None
            await pilot.press("c")
            assert isinstance(app.screen, TypedConfirm)
            await pilot.press(*ADOPTED, "enter")
            await loaded(app, pilot)
            await loaded(app, pilot)  # back on the overview, which reads the status again
            assert isinstance(app.screen, OverviewScreen)
            assert "database version: 1.1.0" in text_of(app, "#summary")
            assert app.screen.check_action("adopt", ()) is False  # nothing left to adopt: the key is gone

    asyncio.run(go())
    assert query(database, "SELECT count(*), bool_and(backfilled AND confirmed_by = 'carol') FROM migration_logs") \
        == [(9, True)]


def test_overview_of_a_recorded_database_does_not_offer_adoption(capsys, database):
    from tests.support import cli

    assert cli(capsys, "up", "--dsn", database, "--migrations", str(SMALL))[0] == 0

    async def go():
        app = PgferryApp(Source(migrations=str(SMALL), dsn=database))
        async with app.run_test(size=SIZE) as pilot:
            await loaded(app, pilot)
            assert app.screen.check_action("adopt", ()) is False
            assert "adopt" not in text_of(app, "KeyReasons")

    asyncio.run(go())


def fixed_adoption() -> Adoption:
    """The bundled product at 4.1.0 compared with a live database missing a column and holding an extra index."""
    defs = bundled()
    expected = load_expected(defs, "4.1.0")
    merged = {**expected["frontend"], "tables": dict(expected["frontend"]["tables"])}
    live = {**merged, "tables": {**merged["tables"]}}
    repo = {**live["tables"]["repo"], "columns": dict(live["tables"]["repo"]["columns"]),
            "indexes": dict(live["tables"]["repo"]["indexes"])}
    del repo["columns"]["stars"]
    repo["indexes"]["repo_name_extra"] = {"definition": "CREATE INDEX repo_name_extra ON public.repo USING btree (name)",
                                          "valid": True}
    live["tables"]["repo"] = repo
    db = DatabaseAdoption("app@db.example/prod", "", ["frontend"], {"frontend": tuple(range(1, 80))},
                          compare(merged, live))
    return Adoption("4.1.0", "carol", [db])


@pytest.mark.parametrize("theme", ["pgferry-dark", None])
def test_adopt_screen_snapshot(snap_compare, monkeypatch, theme):
    if theme is None:
        monkeypatch.setenv("NO_COLOR", "1")

    async def before(pilot):
        pilot.app.push_screen(AdoptScreen(Source(), fixed_adoption()))
        await pilot.pause()

    from tests.support import empty_status
    from pgferry.tui.app import Overview

    app = PgferryApp(overview=Overview(empty_status(), None, "PostgreSQL 17.2"), theme=theme)
    assert snap_compare(app, terminal_size=SIZE, run_before=before)
