"""Fleet upgrades under faults, through the command line: a coordinator SIGKILLed mid-ring and run
again, bad inventories, an unreachable instance, pause and resume. The fault server speaks scram
over TCP, so every instance's DSN takes its password from ${FLEET_PW}, which must never show."""
from __future__ import annotations

import signal

import pytest

from tests.faults.harness import in_process, no_traceback, spawn
from tests.faults.pg import SUPERUSER, SUPERUSER_PASSWORD
from tests.fleet_support import applied_twice, install_template, upgrade_runs, write_inventory
from tests.support import SMALL, applied_ids, query, wait_for

PW = "FLEET_PW"


class FaultServer:
    """The fault server as tests/fleet_support.py wants a server: create_database returns a DSN."""

    def __init__(self, server):
        self.server = server

    def create_database(self, prefix: str = "f") -> str:
        return self.server.dsn(self.server.create_database(prefix))


@pytest.fixture(scope="module")
def template(fault_server):
    return install_template(FaultServer(fault_server))


@pytest.fixture
def fleet(fault_server, template, tmp_path, monkeypatch):
    """make(rings, **inventory options) -> (inventory path, instances, coordinator admin DSN)."""
    monkeypatch.setenv(PW, SUPERUSER_PASSWORD)

    def make(rings: dict[str, int], **options):
        instances, n = [], 0
        for ring, count in rings.items():
            for _ in range(count):
                name = fault_server.create_database("fl", template=template)
                dsn = f"postgresql://{SUPERUSER}:${{{PW}}}@127.0.0.1:{fault_server.port}/{name}"
                instances.append({"name": f"f{n:02d}", "ring": ring, "dsn": dsn, "db": name, "admin": fault_server.dsn(name)})
                n += 1
        coordinator = fault_server.create_database("coord")
        path = write_inventory(tmp_path / "fleet.yaml", f"postgresql://{SUPERUSER}:${{{PW}}}@127.0.0.1:"
                               f"{fault_server.port}/{coordinator}", instances, rings=tuple(rings), **options)
        return path, instances, fault_server.dsn(coordinator)

    return make


@pytest.fixture
def slow_small(small_copy):
    """The small product whose main 15 sleeps first: an instance's upgrade is still running when looked at."""
    up = small_copy / "main" / "15_events" / "up.sql"
    up.write_text("SELECT pg_sleep(0.4);\n" + up.read_text())
    return small_copy


def statuses(coordinator: str) -> dict[str, str]:
    """Each instance's status in the coordinator (nothing before the coordinator made its tables)."""
    if query(coordinator, "SELECT to_regclass('fleet_instances')") == [(None,)]:
        return {}
    return dict(query(coordinator, "SELECT name, status FROM fleet_instances"))


def fleet_cli(action: str, inventory, *more: str, migrations=SMALL) -> tuple[int, str, str]:
    code, out, err = in_process("fleet", action, "--inventory", str(inventory), "--migrations", str(migrations), *more)
    assert SUPERUSER_PASSWORD not in out + err and no_traceback(out, err)
    return code, out, err


def test_a_coordinator_killed_mid_ring_then_run_again_upgrades_every_instance_once(fleet, slow_small, tmp_path):
    inventory, instances, coordinator = fleet({"canary": 1, "general": 5}, max_parallel=2)
    proc = spawn(["fleet", "upgrade", "--inventory", str(inventory), "--migrations", str(slow_small), "--to", "1.2.0",
                  "--yes", "--bake-seconds", "0"], tmp_path / "coordinator.log", extra_env={PW: SUPERUSER_PASSWORD})
    try:
        wait_for("the coordinator in the middle of ring general", lambda: (
            lambda s: "running" in s.values() and list(s.values()).count("succeeded") >= 2)(statuses(coordinator)),
            timeout=90, interval=0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    cut = statuses(coordinator)
    assert "running" in cut.values()  # killed while upgrading an instance of the ring

    code, out, err = fleet_cli("upgrade", inventory, "--to", "1.2.0", "--yes", "--bake-seconds", "0",
                               migrations=slow_small)
    assert code == 0, err
    assert "(joined)" in err and set(statuses(coordinator).values()) == {"succeeded"}
    for i in instances:
        assert applied_twice(i["admin"]) == [], i["name"]
        assert {13, 16} <= applied_ids(i["admin"], "main")
        # One move: a run the kill cut short is resumed by the next, or (killed after its last step,
        # before recording it) left as it was, the instance found at the target and not moved again.
        runs = [r[2] for r in upgrade_runs(i["admin"])[1:]]
        assert runs.count("succeeded") + runs.count("running") == 1 and set(runs) <= {"succeeded", "resumed", "running"}
    interrupted = [n for n, s in cut.items() if s == "running"]
    attempts = dict(query(coordinator, "SELECT name, attempts FROM fleet_instances"))
    assert all(attempts[n] == 2 for n in interrupted)  # taken over once its coordinator died


@pytest.mark.parametrize("change, line, says", [
    (("ring: general", "ring: generl"), 11, "instance f01: unknown ring 'generl' (fix: rings: canary, general"),
    (("name: f01", "name: f00"), 10, "duplicate instance name 'f00' (also on line 6)"),
    (("postgres:${FLEET_PW}@", f"postgres:{SUPERUSER_PASSWORD}@"), 2, "the coordinator: the DSN holds a password"),
])
def test_a_bad_inventory_is_one_line_naming_its_line_and_nothing_starts(fleet, change, line, says):
    inventory, instances, coordinator = fleet({"canary": 1, "general": 1})
    inventory.write_text(inventory.read_text().replace(*change, 1))
    code, out, err = fleet_cli("upgrade", inventory, "--to", "1.2.0", "--yes")
    assert code == 2 and out == ""
    errors = [x for x in err.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {inventory}:{line}: {says}"), err
    assert query(coordinator, "SELECT to_regclass('fleet_runs')") == [(None,)]  # the coordinator untouched


def test_an_unreachable_instance_is_one_line_and_the_others_go(fleet, fault_server):
    inventory, instances, coordinator = fleet({"canary": 1, "general": 2}, halt_after_failures=5)
    inventory.write_text(inventory.read_text().replace(f"{fault_server.port}/{instances[2]['db']}", "1/nowhere"))
    code, out, err = fleet_cli("status", inventory)
    assert code == 6
    assert [x.split()[1] for x in out.splitlines() if "unreachable" in x and "cannot connect" in x] == ["f02"]
    code, out, err = fleet_cli("plan", inventory, "--to", "1.2.0")
    assert code == 0 and "✗ f02: cannot go: unreachable: cannot connect to postgres@127.0.0.1:1/nowhere" in out
    code, out, err = fleet_cli("upgrade", inventory, "--to", "1.2.0", "--yes", "--bake-seconds", "0")
    assert code == 1 and "✗ f02 (general) failed: cannot connect to postgres@127.0.0.1:1/nowhere" in out
    assert statuses(coordinator) == {"f00": "succeeded", "f01": "succeeded", "f02": "failed"}


def test_pause_resume_and_the_report_from_the_command_line(fleet):
    inventory, instances, coordinator = fleet({"canary": 1, "early": 1, "general": 1})
    assert fleet_cli("pause", inventory)[0] == 2  # no run yet: nothing to pause
    assert fleet_cli("upgrade", inventory, "--to", "1.2.0", "--yes", "--ring", "canary")[0] == 0
    code, _, err = fleet_cli("pause", inventory, "--instance", "f01")
    assert code == 0 and "f01 paused: the fleet will not start it" in err
    code, out, err = fleet_cli("upgrade", inventory, "--to", "1.2.0", "--yes", "--bake-seconds", "0")
    assert code == 1 and "⏸ f01 (early) paused: paused by " in out
    assert upgrade_runs(instances[1]["admin"])[1:] == [] and upgrade_runs(instances[2]["admin"])[1:] != []
    assert fleet_cli("resume", inventory, "--instance", "f01")[0] == 0
    code, out, err = fleet_cli("upgrade", inventory, "--to", "1.2.0", "--yes", "--bake-seconds", "0", "--json")
    assert code == 0 and '"status": "finished"' in out
    code, out, _ = fleet_cli("report", inventory)
    assert code == 0 and out.startswith("# Fleet fleet: run ") and "- status: **finished**" in out
    assert "| f01 | 1.0.0 → 1.2.0 |" in out and "## Ring early" in out


def test_pausing_a_running_instance_stops_its_upgrade_between_migrations(fleet, slow_small, tmp_path):
    inventory, instances, coordinator = fleet({"canary": 1, "general": 1})
    up = slow_small / "main" / "15_events" / "up.sql"
    up.write_text("SELECT pg_sleep(1.5);\n" + up.read_text())  # long enough to be asked to pause while in it
    proc = spawn(["fleet", "upgrade", "--inventory", str(inventory), "--migrations", str(slow_small), "--to", "1.2.0",
                  "--yes", "--bake-seconds", "0"], tmp_path / "coordinator.log", extra_env={PW: SUPERUSER_PASSWORD})
    wait_for("the canary's upgrade run", lambda: statuses(coordinator) and query(
        coordinator, "SELECT upgrade_run_id FROM fleet_instances WHERE name = 'f00'") != [(None,)], timeout=60)
    code, _, err = fleet_cli("pause", inventory, "--instance", "f00", migrations=slow_small)
    assert code == 0 and "f00 is running: asked to pause at its next safe point (between migrations)" in err
    assert proc.wait(60) == 1
    (reason,), = query(coordinator, "SELECT reason FROM fleet_instances WHERE name = 'f00'")
    assert statuses(coordinator)["f00"] == "paused" and reason.startswith("upgrade paused at step ")
    assert upgrade_runs(instances[0]["admin"])[-1][2] == "paused"
    assert applied_twice(instances[0]["admin"]) == []
    assert fleet_cli("resume", inventory, "--instance", "f00")[0] == 0
    code, out, err = fleet_cli("upgrade", inventory, "--to", "1.2.0", "--yes", "--bake-seconds", "0", migrations=slow_small)
    assert code == 0, err
    assert set(statuses(coordinator).values()) == {"succeeded"} and applied_twice(instances[0]["admin"]) == []
