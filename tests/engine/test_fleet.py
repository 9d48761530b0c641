"""Fleet upgrades on real servers (engine/fleet/): instances are databases of the small product, on
the session server and a server of another major when one is installed; the coordinator is one
more database. Each instance's own migration_logs and upgrade_runs say what happened to it."""
from __future__ import annotations

import threading

import pytest
from psycopg import conninfo

from pgferry.engine.definitions.catalog import load
from pgferry.engine.events import Collector
from pgferry.engine.fleet.coordinator import Coordinator, FleetOptions
from pgferry.engine.events import Baking, InstanceClaimed, InstanceFinished
from pgferry.engine.fleet.inventory import load_inventory
from pgferry.engine.fleet.report import build_fleet_report, to_markdown
from pgferry.engine.fleet.state import open_store
from pgferry.engine.run.runner import RunOptions
from pgferry.engine.upgrade.planning import Connections
from pgferry.engine.upgrade.upgrade import Upgrade
from tests.conftest import OTHER_BINDIRS
from tests.fleet_support import (applied_twice, break_migration, clone_fleet, install_template, upgrade_runs,
                                 write_inventory)
from tests.support import SMALL, allow_create_in_public, applied_ids, as_role, cli, clone_database, execute

UPGRADED = [("1.0.0", "1.2.0", "succeeded")]  # each instance's upgrade_runs after the template's install
FAST = RunOptions(poll=0.05)


@pytest.fixture(scope="module")
def servers(pg_server, request):
    """[(server, template at 1.0.0)]: the session server, and PostgreSQL 15 when installed (cheap: a
    session fixture other tests start anyway)."""
    out = [(pg_server, install_template(pg_server))]
    if 15 in OTHER_BINDIRS:
        other = request.getfixturevalue("_other_servers")(15)
        out.append((other, install_template(other)))
    return out


@pytest.fixture(scope="module")
def defs():
    return load(SMALL)


def run_fleet(defs, inventory, *, on_event=None, ring=None, bake=None) -> object:
    store = open_store(inventory.coordinator)
    try:
        return Coordinator(defs, inventory, store, FleetOptions("1.2.0", ring=ring, bake_seconds=bake, run=FAST, poll=0.05),
                           on_event=on_event or (lambda e: None)).run()
    finally:
        store.conn.close()


def later_runs(dsn: str) -> list[tuple]:
    return upgrade_runs(dsn)[1:]  # the first is the template's install at 1.0.0


def test_32_instances_go_ring_by_ring_and_the_paused_one_is_untouched(defs, servers, pg_server, tmp_path):
    instances = clone_fleet(servers, {"canary": 2, "early": 8, "general": 22})
    instances[-1]["paused"] = "frozen for the quarter close"
    inventory = load_inventory(write_inventory(tmp_path / "big.yaml", pg_server.create_database("coord"), instances))
    result = run_fleet(defs, inventory)

    assert result.ok and result.run.status == "finished"
    states = {s.name: s for s in result.states}
    frozen = instances[-1]
    assert (states[frozen["name"]].status, states[frozen["name"]].reason) == ("skipped", "frozen for the quarter close")
    assert later_runs(frozen["dsn"]) == [] and 13 not in applied_ids(frozen["dsn"], "main")
    for i in instances[:-1]:
        assert later_runs(i["dsn"]) == UPGRADED, i["name"]
        assert applied_twice(i["dsn"]) == []
        assert (states[i["name"]].status, states[i["name"]].from_version, states[i["name"]].reached_version) == \
            ("succeeded", "1.0.0", "1.2.0")
        assert states[i["name"]].verified_at is not None  # readiness and preflight ran after its ring
    by_ring = {ring: [s for s in result.states if s.ring == ring and s.started_at] for ring in inventory.rings}
    for before, after in zip(inventory.rings, inventory.rings[1:]):
        assert max(s.finished_at for s in by_ring[before]) <= min(s.started_at for s in by_ring[after])
    report = to_markdown(build_fleet_report(defs, inventory, result.run, list(result.states)))
    assert "- status: **finished**" in report and "## Ring general" in report
    assert f"| {instances[0]['name']} | 1.0.0 → 1.2.0 |" in report
    assert f"- {frozen['name']} (skipped): frozen for the quarter close" in report


def test_a_failing_canary_halts_the_fleet_before_the_next_ring(defs, servers, pg_server, tmp_path):
    instances = clone_fleet(servers[:1], {"canary": 2, "early": 2, "general": 1}, prefix="h")
    break_migration(instances[0]["dsn"])
    inventory = load_inventory(write_inventory(tmp_path / "halt.yaml", pg_server.create_database("coord"), instances))
    result = run_fleet(defs, inventory)

    assert not result.ok and result.run.status == "halted"
    assert result.run.reason.startswith("halted after ring canary: 1 failed instance(s) reached halt_after_failures 1; "
                                        "first: h00 (canary): main migration 15 failed at ")
    assert 'column "user_id" of relation "events" does not exist' in result.run.reason
    assert later_runs(instances[1]["dsn"]) == UPGRADED  # the other canary went
    for i in instances[2:]:  # the next rings did not start
        assert later_runs(i["dsn"]) == [] and {s.name: s.status for s in result.states}[i["name"]] == "pending"
    report = to_markdown(build_fleet_report(defs, inventory, result.run, list(result.states)))
    assert "- status: **halted** (halted after ring canary" in report
    assert "- h00 (failed): main migration 15 failed at " in report

    execute(instances[0]["dsn"], "DROP TABLE events")  # the operator fixes the canary, runs the fleet again
    again = run_fleet(defs, inventory)
    assert again.ok and again.run.id == result.run.id and again.run.status == "finished"
    assert all(later_runs(i["dsn"])[-1] == UPGRADED[0] for i in instances)


def test_two_coordinators_at_once_upgrade_each_instance_exactly_once(defs, servers, pg_server, tmp_path):
    instances = clone_fleet(servers, {"canary": 2, "early": 4, "general": 6}, prefix="t")
    inventory = load_inventory(write_inventory(tmp_path / "two.yaml", pg_server.create_database("coord"), instances,
                                               max_parallel=2))
    results, claims = [], Collector()
    coordinators = [threading.Thread(target=lambda: results.append(run_fleet(defs, inventory, on_event=claims)))
                    for _ in range(2)]
    for t in coordinators:
        t.start()
    for t in coordinators:
        t.join(120)
    assert len(results) == 2 and all(r.ok for r in results)
    assert results[0].run.id == results[1].run.id  # one fleet run, shared
    assert sorted(e.name for e in claims.of(InstanceClaimed)) == sorted(i["name"] for i in instances)  # each once
    for i in instances:
        assert later_runs(i["dsn"]) == UPGRADED, i["name"]
        assert applied_twice(i["dsn"]) == []


def test_pause_and_resume_an_instance_and_the_fleet(defs, servers, pg_server, tmp_path):
    instances = clone_fleet(servers[:1], {"canary": 1, "early": 3}, prefix="p")
    inventory = load_inventory(write_inventory(tmp_path / "pause.yaml", pg_server.create_database("coord"), instances,
                                               max_parallel=1))
    control = open_store(inventory.coordinator)

    def operator(event) -> None:
        run = control.current(inventory.name)
        if isinstance(event, InstanceClaimed) and event.name == "p01":  # asked while claimed: never starts
            assert control.pause_instance(run.id, "p01", "ops") == "claimed"
        if isinstance(event, InstanceFinished) and event.name == "p02":  # the whole fleet, between instances
            assert control.pause_run(run.id, "ops")

    first = run_fleet(defs, inventory, on_event=operator)
    status = {s.name: (s.status, s.reason) for s in first.states}
    assert first.stopped == "paused by ops" and first.run.status == "paused"
    assert status == {"p00": ("succeeded", None), "p01": ("paused", "paused before its upgrade started"),
                      "p02": ("succeeded", None), "p03": ("pending", None)}
    assert later_runs(instances[1]["dsn"]) == [] and later_runs(instances[3]["dsn"]) == []

    held = run_fleet(defs, inventory)  # a paused fleet stays paused for every coordinator
    assert held.stopped == "paused by ops" and later_runs(instances[3]["dsn"]) == []

    run = control.current(inventory.name)
    assert control.resume_run(run.id) and control.resume_instance(run.id, "p01")
    done = run_fleet(defs, inventory)
    assert done.ok and done.run.status == "finished"
    assert all(later_runs(i["dsn"]) == UPGRADED for i in instances)

    again = run_fleet(defs, inventory)  # already at the target: a no-op for every instance
    assert again.ok and again.run.id != done.run.id
    assert {s.reason for s in again.states} == {"already at 1.2.0: nothing to do"}
    assert all(later_runs(i["dsn"]) == UPGRADED for i in instances)
    control.conn.close()


def test_privileged_steps_go_to_a_dba_or_run_on_the_instances_superuser_dsn(defs, pg_server, app_role, tmp_path,
                                                                             monkeypatch, capsys):
    """The managed-PostgreSQL shape: the app role cannot create pg_trgm (main 14). An instance with
    superuser_dsn_env has it run there, and the report says who did; one without is planned with a
    bundle for a DBA, and its upgrade fails without touching it while the fleet goes on."""
    template = pg_server.create_database("fleetapp")
    allow_create_in_public(template, app_role)
    Upgrade(defs, Connections({s: as_role(template, app_role) for s in defs.schemas})).run("1.0.0")
    name = conninfo.conninfo_to_dict(template)["dbname"]
    alone, helped = (as_role(clone_database(pg_server, name), app_role) for _ in range(2))
    monkeypatch.setenv("FLEET_SU_HELPED", pg_server.admin_dsn)
    path = write_inventory(tmp_path / "priv.yaml", pg_server.create_database("coord"), [
        {"name": "alone", "ring": "canary", "dsn": alone},
        {"name": "helped", "ring": "canary", "dsn": helped, "superuser_dsn_env": "FLEET_SU_HELPED"}],
        halt_after_failures=2)
    inventory = load_inventory(path)

    rc, out, err = cli(capsys, "fleet", "plan", "--inventory", str(path), "--migrations", str(SMALL), "--to", "1.2.0",
                     "--bundle-dir", str(tmp_path / "bundles"))
    assert rc == 0 and "✓ alone: 1.0.0 → 1.2.0, 8 step(s); privileged for a DBA: main 14" in out, err
    assert "✓ helped: 1.0.0 → 1.2.0, 8 step(s)\n" in out
    assert "CREATE EXTENSION IF NOT EXISTS pg_trgm" in (tmp_path / "bundles" / "alone.sql").read_text()
    assert not (tmp_path / "bundles" / "helped.sql").exists()

    result = run_fleet(defs, inventory)
    states = {s.name: s for s in result.states}
    assert states["alone"].status == "failed" and states["alone"].reason.startswith(
        f"This upgrade has 1 privileged step(s) that role {app_role} cannot run: main 14")
    assert later_runs(alone) == [] and states["helped"].status == "succeeded" and later_runs(helped) == UPGRADED
    report = to_markdown(build_fleet_report(defs, inventory, result.run, list(result.states)))
    assert "| helped | 1.0.0 → 1.2.0 |" in report and "| main 14 confirmed by superuser connection as postgres |" in report


def test_the_next_ring_starts_after_the_bake_and_not_before(defs, servers, pg_server, tmp_path):
    instances = clone_fleet(servers[:1], {"canary": 1, "early": 1}, prefix="b")
    inventory = load_inventory(write_inventory(tmp_path / "bake.yaml", pg_server.create_database("coord"), instances))
    seen = Collector()
    result = run_fleet(defs, inventory, on_event=seen, bake=1.0)
    assert result.ok and [e.ring for e in seen.of(Baking)] == ["canary"]  # not after the last ring
    canary, early = result.states
    assert (early.started_at - canary.finished_at).total_seconds() >= 1.0
