"""The fleet's inventory (engine/fleet/inventory.py): loaded with every problem on one line naming the
file, the line and the fix; DSNs from the environment, never a password in the file."""
from __future__ import annotations

import textwrap

import pytest

from pgferry.engine.errors import ExitCode, InventoryError, UsageError
from pgferry.engine.fleet.inventory import load_inventory, parse_selectors

GOOD = """\
name: acme
rings: [canary, early, general]
defaults: {max_parallel: 8, halt_after_failures: 2, bake_minutes: 0.5}
instances:
  - name: acme-eu-1
    ring: canary
    dsn: postgresql://app@db1/product
    labels: {region: eu, tier: paid}
  - name: acme-us-1
    ring: general
    schemas: {main: "host=db2 dbname=main", aux: "host=db2 dbname=aux"}
    labels: {region: us}
    paused: frozen for the quarter close
    superuser_dsn_env: ACME_US_1_SU
  - name: acme-eu-2
    ring: early
    dsn: "postgresql://app:${ACME_PW}@db3/product"
    labels: {region: eu}
"""


def write(tmp_path, text: str):
    path = tmp_path / "fleet.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert caught.value.exit_code == ExitCode.USAGE
    return str(caught.value).splitlines()


def test_a_good_inventory_loads_with_its_rings_defaults_and_instances(tmp_path, monkeypatch):
    monkeypatch.setenv("ACME_PW", "s3cret-pw")
    inv = load_inventory(write(tmp_path, GOOD))
    assert (inv.name, inv.rings, inv.defaults.max_parallel, inv.defaults.halt_after_failures,
            inv.defaults.bake_minutes) == ("acme", ("canary", "early", "general"), 8, 2, 0.5)
    assert [i.name for i in inv.select()] == ["acme-eu-1", "acme-eu-2", "acme-us-1"]  # ring order
    assert [i.name for i in inv.select(selectors=parse_selectors(["region=eu"]))] == ["acme-eu-1", "acme-eu-2"]
    assert [i.name for i in inv.select("general")] == ["acme-us-1"]
    us = inv.instances[1]
    assert us.paused == "frozen for the quarter close" and us.dsns(["main", "aux"])["aux"] == "host=db2 dbname=aux"
    eu2 = inv.instances[2]
    assert eu2.dsn == "postgresql://app:s3cret-pw@db3/product"  # expanded for libpq
    with pytest.raises(UsageError, match="no instance 'acme-eu-9'"):
        inv.instance("acme-eu-9")
    with pytest.raises(UsageError, match="--ring 'late' is not a ring"):
        inv.select("late")


@pytest.mark.parametrize("change, line, says, fix", [
    (("ring: early", "ring: eraly"), 16, "instance acme-eu-2: unknown ring 'eraly'", "rings: canary, early, general"),
    (("name: acme-eu-2", "name: acme-eu-1"), 15, "duplicate instance name 'acme-eu-1' (also on line 5)", "its own name"),
    (('    dsn: "postgresql://app:${ACME_PW}@db3/product"\n', ""), 15, "instance acme-eu-2: no dsn", "give dsn:"),
    (("max_parallel: 8", "max_parallel: 0"), 3, "defaults.max_parallel is 0", "1 or more"),
    (("bake_minutes: 0.5", "bake_mins: 5"), 3, "unknown default 'bake_mins'", "known: max_parallel"),
    (("${ACME_PW}", "hunter2"), 17, "the DSN holds a password (postgresql://app:****@db3/product)", "${VARIABLE}"),
    (("${ACME_PW}", "${ACME_UNSET}"), 17, "the DSN names ${ACME_UNSET}, which is not set", "export ACME_UNSET"),
    (("    labels: {region: us}\n", "\tlabels: {region: us}\n"), 12, "invalid YAML", "tab"),
])
def test_each_problem_is_one_line_with_the_file_the_line_and_the_fix(tmp_path, monkeypatch, change, line, says, fix):
    monkeypatch.setenv("ACME_PW", "s3cret-pw")
    lines = problems(tmp_path, GOOD.replace(*change))
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{tmp_path / 'fleet.yaml'}:{line}: "), lines[0]
    assert says in lines[0] and fix in lines[0]
    assert "hunter2" not in lines[0]


def test_every_problem_of_a_file_is_listed(tmp_path):
    lines = problems(tmp_path, """\
        rings: [canary]
        instances:
          - {name: a, ring: canary, dsn: "host=x"}
          - {name: a, ring: canary, dsn: "host=y"}
          - {name: b, ring: late, dsn: "host=z"}
        """)
    assert [line.split(": ", 1)[1].split(" (fix")[0] for line in lines] == [
        "duplicate instance name 'a' (also on line 3)", "instance b: unknown ring 'late'"]


def test_a_passfile_is_handed_to_libpq(tmp_path):
    inv = load_inventory(write(tmp_path, """\
        passfile: /etc/pgferry/pgpass
        rings: [r]
        instances: [{name: a, ring: r, dsn: "host=db1 user=app"}]
        """))
    assert "passfile=/etc/pgferry/pgpass" in inv.instances[0].dsn


def test_schemas_must_be_the_products(tmp_path):
    inv = load_inventory(write(tmp_path, """\
        rings: [r]
        instances:
          - name: a
            ring: r
            schemas: {main: "host=x", extra: "host=y"}
        """))
    with pytest.raises(InventoryError, match=r"fleet.yaml:3: instance a: schemas lacks aux; names unknown extra"):
        inv.check_schemas(["main", "aux"])


def test_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read the inventory"):
        load_inventory(tmp_path / "nope.yaml")
