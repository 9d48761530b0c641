"""The fleet screen on a real coordinator: a fleet of the small product upgraded (one instance
broken), opened from the fleet to an instance's run screen; pause and resume keys written to the
coordinator; and 200 instance rows at 80×24 reached by scrolling and by the filter."""
from __future__ import annotations

import asyncio
import functools

import psycopg
import pytest
from psycopg import conninfo
from textual.widgets import DataTable

from pgferry.engine.definitions.catalog import load
from pgferry.engine.fleet.coordinator import Coordinator, FleetOptions
from pgferry.engine.fleet.inventory import load_inventory
from pgferry.engine.fleet.state import open_store
from pgferry.engine.run.runner import RunOptions
from pgferry.engine.upgrade.planning import Connections
from pgferry.engine.upgrade.upgrade import Upgrade
from pgferry.tui.app import PgferryApp
from pgferry.tui.app.fleet import FleetScreen
from pgferry.tui.app.fleet_model import FleetFeed, FleetSource
from pgferry.tui.app.run import RunScreen
from tests.fleet_support import break_migration, clone_fleet, install_template, write_inventory
from tests.support import SMALL, cli, query, until

SIZE = (120, 32)


def pilot_test(fn):
    """An async test run to its end in its own event loop (as the other pilot tests do)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        asyncio.run(fn(*args, **kwargs))
    return run


@pytest.fixture(scope="module")
def template(pg_server):
    return [(pg_server, install_template(pg_server))]


def fleet_app(inventory, coordinator: str) -> PgferryApp:
    return PgferryApp(fleet=FleetSource(inventory, coordinator, str(SMALL)))


def keys(app) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [row.key.value for row in table.ordered_rows]


async def to_row(pilot, app, key: str) -> None:
    table = app.screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause()


@pilot_test
async def test_a_fleet_run_shows_failures_first_and_enter_opens_the_instances_run(template, pg_server, tmp_path):
    instances = clone_fleet(template, {"canary": 1, "early": 2}, prefix="t")
    break_migration(instances[1]["dsn"])  # t01 fails in ring early
    coordinator = pg_server.create_database("coord")
    inventory = load_inventory(write_inventory(tmp_path / "ui.yaml", coordinator, instances, halt_after_failures=1))
    store = open_store(coordinator)
    try:
        result = Coordinator(load(SMALL), inventory, store, FleetOptions("1.2.0", run=RunOptions(poll=0.05), poll=0.05)).run()
    finally:
        store.conn.close()
    assert result.run.status == "halted"
    t00_run = query(instances[0]["dsn"], "SELECT max(id) FROM upgrade_runs")[0][0]

    app = fleet_app(inventory, coordinator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FleetScreen) and len(keys(app)) == 5, what="the fleet")
        screen = app.screen
        assert keys(app) == ["ring:canary", "instance:t00", "ring:early", "instance:t01", "instance:t02"]
        run_line = str(screen.query_one("#run").render())
        assert "halted" in run_line and "1 ✗ failed" in run_line and "2 ✓ succeeded" in run_line
        table = screen.query_one(DataTable)
        assert table.get_row("instance:t01")[0].plain == "✗ failed"
        assert "events" in table.get_row("instance:t01")[4].plain  # its first error line
        assert table.get_row("instance:t00")[2].plain == "1.0.0 → 1.2.0"

        await to_row(pilot, app, "ring:early")
        assert screen.disabled_reason("open") == "a ring's line: choose an instance"
        await to_row(pilot, app, "instance:t00")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.status == "succeeded",
                    what="t00's run screen")
        assert app.screen.watched.run.id == t00_run and app.screen.watched.run.to_version == "1.2.0"
        assert app.screen.disabled_reason("resume") is not None  # the fleet's coordinator runs it: read-only
        await pilot.press("escape")
        assert app.screen is screen


@pilot_test
async def test_pause_and_resume_keys_write_to_the_coordinator(template, pg_server, tmp_path):
    instances = clone_fleet(template, {"canary": 1, "early": 1}, prefix="k")
    coordinator = pg_server.create_database("coord")
    inventory = load_inventory(write_inventory(tmp_path / "keys.yaml", coordinator, instances))
    store = open_store(coordinator)
    try:
        run, _ = store.join(inventory, "1.2.0")  # a run with both instances pending, no coordinator working
    finally:
        store.conn.close()

    def instance_status(name):
        return query(coordinator, "SELECT status FROM fleet_instances WHERE name = %s", [name])[0][0]

    def run_status():
        return query(coordinator, "SELECT status FROM fleet_runs WHERE id = %s", [run.id])[0][0]

    app = fleet_app(inventory, coordinator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FleetScreen) and len(keys(app)) == 4, what="the fleet")
        screen = app.screen
        await to_row(pilot, app, "instance:k01")
        assert screen.disabled_reason("resume") == "k01 is pending, not paused"
        await pilot.press("p")
        await until(pilot, lambda: screen.query_one(DataTable).get_row("instance:k01")[0].plain == "⏸ paused",
                    what="k01 shown paused")
        assert instance_status("k01") == "paused"
        await pilot.press("r")
        await until(pilot, lambda: instance_status("k01") == "pending", what="k01 resumed")
        await pilot.press("P")  # the whole fleet run
        await until(pilot, lambda: screen.view.run.status == "paused", what="the run shown paused")
        assert run_status() == "paused"
        assert screen.disabled_reason("pause_fleet") == "the fleet run is paused"
        await to_row(pilot, app, "ring:canary")
        await pilot.press("r")  # on a ring's line: the fleet run
        await until(pilot, lambda: run_status() == "open", what="the run resumed")


def insert_fleet(coordinator: str, names: list[str], rings: list[str]) -> None:
    """A fleet run's rows written as a coordinator writes them: 200 instances, a few failed with a
    first line wider than the terminal."""
    open_store(coordinator).conn.close()  # the tables
    failure = 'main 15: relation "events" already exists (SQLSTATE 42P07), a line wider than the terminal'
    rows = [(n, r, ("canary", "early", "general").index(r), *(("failed", failure) if i % 50 == 7 else ("succeeded", None)))
            for i, (n, r) in enumerate(zip(names, rings))]
    with psycopg.connect(coordinator, autocommit=True) as conn:
        conn.execute("INSERT INTO fleet_runs (id, fleet, to_version, status) VALUES (1, 'big', '1.2.0', 'open')")
        conn.cursor().executemany("INSERT INTO fleet_instances (run_id, name, ring, ring_index, status, reason, "
                                  "from_version, reached_version) VALUES (1, %s, %s, %s, %s, %s, '1.0.0', '1.2.0')", rows)


@pilot_test
async def test_200_instances_at_80x24_scroll_and_filter_to_the_last(database, tmp_path):
    names = [f"inst-{n:03d}" for n in range(200)]
    rings = ["canary"] * 5 + ["early"] * 45 + ["general"] * 150
    insert_fleet(database, names, rings)
    inventory = load_inventory(write_inventory(tmp_path / "big.yaml", database, [
        {"name": n, "ring": r, "dsn": database} for n, r in zip(names, rings)]))

    app = fleet_app(inventory, database)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FleetScreen) and len(keys(app)) == 203, what="200 rows")
        table = app.screen.query_one(DataTable)
        # failures first within the ring: inst-057 ... before the succeeded ones
        general = keys(app)[keys(app).index("ring:general") + 1:]
        assert general[:3] == ["instance:inst-057", "instance:inst-107", "instance:inst-157"]
        await pilot.press("pagedown", "pagedown")  # a page at a time ...
        assert 0 < table.cursor_row < 202 and table.scroll_y > 0
        await pilot.press("ctrl+end")  # ... and to the bottom
        await pilot.pause()
        assert table.cursor_row == 202 and keys(app)[table.cursor_row] == "instance:inst-199"
        assert table.scroll_y > 0 and table.scroll_y == table.max_scroll_y  # scrolled to the very end
        drawn = [table.render_line(y).text for y in range(table.size.height)]
        assert "inst-199" in "".join(drawn[-3:])  # drawn at the bottom (above a horizontal scrollbar, if any)
        await pilot.press("right", "right", "right")  # scrolled right to read the notes: reads leave the view be
        scrolled = (table.scroll_x, table.scroll_y)
        assert scrolled[0] > 0
        before = app.screen.view.snapshot
        await until(pilot, lambda: app.screen.view.snapshot is not before, what="the next read")
        await pilot.pause()
        assert (table.scroll_x, table.scroll_y) == scrolled and table.cursor_row == 202

        await pilot.press("ctrl+home", "slash", *"inst-199", "enter")
        await until(pilot, lambda: keys(app) == ["ring:general", "instance:inst-199"], what="the filter")
        assert "filter 'inst-199': 1 shown" in str(app.screen.query_one("#run").render())
        assert table.has_focus and keys(app)[table.cursor_row] in ("ring:general", "instance:inst-199")
        await pilot.press("escape")  # clears the filter first
        await until(pilot, lambda: len(keys(app)) == 203, what="the filter cleared")
        assert isinstance(app.screen, FleetScreen)


def test_the_feed_reads_a_running_instances_position_from_its_own_upgrade_runs(template, pg_server, tmp_path):
    instances = clone_fleet(template, {"canary": 1}, prefix="f")
    dsn = instances[0]["dsn"]
    gone = conninfo.make_conninfo(dsn, dbname="no_such_database")  # f01: running, but cannot be reached now
    instances.append({"name": "f01", "ring": "canary", "dsn": gone})
    coordinator = pg_server.create_database("coord")
    inventory = load_inventory(write_inventory(tmp_path / "feed.yaml", coordinator, instances))
    store = open_store(coordinator)
    defs = load(SMALL)
    Upgrade(defs, Connections({s: dsn for s in defs.schemas})).run("1.2.0")
    upgrade_run, position, total = query(dsn, "SELECT id, position, total FROM upgrade_runs ORDER BY id DESC LIMIT 1")[0]
    feed = FleetFeed(FleetSource(inventory, coordinator, str(SMALL)))
    try:
        run, _ = store.join(inventory, "1.2.0")
        for name in ("f00", "f01"):  # this session's claims
            assert store.claim(run.id, "canary", [name]) == name and store.started(run.id, name)
            store.upgrade_run(run.id, name, upgrade_run)
        snapshot = feed.read()
        assert [s.effective_status for s in snapshot.states] == ["running", "running"]
        assert snapshot.progress == {"f00": (position, total)} and total > 0  # f01 shown, without a position
        assert list(feed.unreachable) == ["f01"] and "f01" not in feed.readers  # tried again after RETRY_SECONDS
        for name in ("f00", "f01"):
            store.ended(run.id, name, "succeeded", None, "1.0.0", "1.2.0")
        assert feed.read().progress == {} and feed.readers == {}  # its reader closed once it stopped running
    finally:
        feed.close()
        store.conn.close()


def test_fleet_ui_without_a_terminal_says_what_prints_the_fleet_instead(capsys, tmp_path):
    inventory = write_inventory(tmp_path / "none.yaml", "dbname=unused", [{"name": "a", "ring": "canary", "dsn": "dbname=a"}])
    code, out, err = cli(capsys, "fleet", "ui", "--inventory", str(inventory))
    assert code == 2 and out == ""
    assert "error: fleet ui draws on a terminal and this is not one" in err and "pgferry fleet status" in err
