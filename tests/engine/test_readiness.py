"""`pgferry check --release V` during a rolling update (issue 15 §3): the old application stays ready
while the new schema lands when the new release's `compatible_with` says its schema serves the old one.

The matrix runs on the small product (a copy whose 1.2.0 declares compatible_with ">=1.1.0"), with
the old (1.1.0) and the new (1.2.0) release checked before, during (`upto` an intermediate
migration of 1.2.0) and after the upgrade; then the bundled product's own declarations."""
from __future__ import annotations

import json

import pytest

from pgferry.engine.bookkeeping.bookkeeping import SchemaState
from pgferry.engine.run.readiness import judge
from tests.broken import replace
from tests.bundled import DEFS
from tests.support import cli, query

SERVES_110 = 'compatible_with: ">=1.1.0"\n    postgres: ">=13"'


def check(capsys, product, dsn: str, release: str) -> tuple[int, dict]:
    rc, out, err = cli(capsys, "check", "--release", release, "--dsn", dsn, "--migrations", str(product), "--json")
    return rc, json.loads(out)


def move(capsys, product, dsn: str, *args: str) -> None:
    rc, _, err = cli(capsys, *args, "--dsn", dsn, "--migrations", str(product), "--no-progress")
    assert rc == 0, err


@pytest.fixture
def serving_product(small_copy):
    """The small product whose 1.2.0 (events, an extension, indexes: nothing 1.1.0 uses changes) serves 1.1.0."""
    replace("releases.yaml", 'postgres: ">=13"', SERVES_110)(small_copy)
    return small_copy


def test_rolling_update_matrix(database, serving_product, capsys):
    def cases() -> dict[str, tuple[int, str]]:
        out = {}
        for release in ("1.1.0", "1.2.0"):
            rc, data = check(capsys, serving_product, database, release)
            assert data["ok"] == (rc == 0)
            out[release] = (rc, data["case"])
        return out

    logs = lambda: query(database, "SELECT count(*) FROM migration_logs")  # noqa: E731
    move(capsys, serving_product, database, "upgrade", "--to", "1.1.0", "--yes")
    before = logs()
    assert cases() == {"1.1.0": (0, "exact"), "1.2.0": (1, "behind")}
    assert logs() == before  # strictly read-only
    # during: 1.2.0's main 14 and 15 applied, its main 16 and aux 3 not yet
    move(capsys, serving_product, database, "upto", "--schema", "main", "--target", "15")
    assert cases() == {"1.1.0": (0, "beyond_compatible"), "1.2.0": (1, "behind")}
    rc, data = check(capsys, serving_product, database, "1.1.0")
    assert data["beyond"] == ["1.2.0"] and data["not_serving"] == [] and data["unreleased"] == 0
    assert {s["name"]: s["extra"] for s in data["schemas"]} == {"main": [14, 15], "aux": []}
    move(capsys, serving_product, database, "upgrade", "--to", "1.2.0", "--yes")
    assert cases() == {"1.1.0": (0, "beyond_compatible"), "1.2.0": (0, "exact")}
    # 1.2.0 does not declare 1.0.0, nor does 1.1.0 (the default: only itself): both are named
    rc, data = check(capsys, serving_product, database, "1.0.0")
    assert (rc, data["case"], data["not_serving"]) == (1, "beyond_incompatible", ["1.1.0", "1.2.0"])
    # the text says which release holds the old application back
    rc, out, _ = cli(capsys, "check", "--release", "1.0.0", "--dsn", database, "--migrations", str(serving_product))
    assert rc == 1 and "the schema of 1.1.0, 1.2.0 does not serve 1.0.0" in out


def test_without_compatible_with_a_release_serves_only_itself(database, small_copy, capsys):
    move(capsys, small_copy, database, "upgrade", "--to", "1.2.0", "--yes")
    rc, data = check(capsys, small_copy, database, "1.1.0")
    assert (rc, data["case"], data["beyond"], data["not_serving"]) == (1, "beyond_incompatible", ["1.2.0"], ["1.2.0"])
    rc, out, _ = cli(capsys, "check", "--release", "1.1.0", "--dsn", database, "--migrations", str(small_copy))
    assert rc == 1 and "✗ main: 0 migration(s) of 1.1.0 missing, 3 beyond it" in out


def test_a_failed_migration_beyond_a_served_release_is_not_ready(database, serving_product, capsys):
    (serving_product / "aux" / "3_jobs_state_index" / "up.sql").write_text("SELECT 1 / 0;\n")
    move(capsys, serving_product, database, "upgrade", "--to", "1.1.0", "--yes")
    rc, _, _ = cli(capsys, "upgrade", "--to", "1.2.0", "--yes", "--dsn", database,
                   "--migrations", str(serving_product), "--no-progress")
    assert rc != 0
    rc, data = check(capsys, serving_product, database, "1.1.0")
    assert (rc, data["case"], data["ok"]) == (4, "dirty", False)


def test_migrations_no_release_holds_are_not_served(database, serving_product, capsys):
    (serving_product / "releases.yaml").write_text(
        (serving_product / "releases.yaml").read_text().replace("leaves: {main: [16], aux: [3]}", "leaves: {main: [16], aux: [2]}"))
    move(capsys, serving_product, database, "upgrade", "--to", "1.2.0", "--yes")
    move(capsys, serving_product, database, "up")  # aux 3: in no release (in development)
    rc, data = check(capsys, serving_product, database, "1.1.0")
    assert (rc, data["case"], data["unreleased"], data["not_serving"]) == (1, "beyond_incompatible", 1, [])


def test_an_invalid_range_stops_check_naming_file_and_line(database, small_copy, capsys):
    replace("releases.yaml", 'postgres: ">=13"', 'compatible_with: "1.1 and up"\n    postgres: ">=13"')(small_copy)
    rc, out, err = cli(capsys, "check", "--release", "1.1.0", "--dsn", database, "--migrations", str(small_copy))
    assert rc == 2 and out == ""
    assert "migrations/releases.yaml:14: invalid compatible_with range '1.1 and up'" in err and 'e.g. compatible_with: ">=' in err


# Out-of-band migration 3's data (4.2.0 relies on it): every built-in series backfilled, or none.
BACKFILLED = "UPDATE insight_series SET backfill_completed_at = {} WHERE builtin"


def test_bundled_product_at_newest(newest_db, capsys):
    # 4.2.0 renames phabricator_repos.url, which 4.1.0 reads: old pods must go unready
    rc, out, _ = cli(capsys, "check", "--release", "4.1.0", "--dsn", newest_db, "--json")
    data = json.loads(out)
    assert (rc, data["case"], data["beyond"], data["not_serving"]) == (1, "beyond_incompatible", ["4.2.0"], ["4.2.0"])
    rc, out, _ = cli(capsys, "check", "--release", "4.2.0", "--dsn", newest_db, "--json")
    assert (rc, json.loads(out)["case"]) == (0, "exact")


def test_out_of_band_progress_is_measured_not_read_from_the_record(newest_db, capsys):
    """The record of a finished out-of-band migration says complete; the data it wrote is gone (a
    restore, a downgrade below it and back): the release that relies on it is not ready."""
    query(newest_db, "UPDATE out_of_band_migrations SET progress = 1.0")
    query(newest_db, BACKFILLED.format("NULL"))
    rc, out, _ = cli(capsys, "check", "--release", "4.2.0", "--dsn", newest_db)
    assert rc == 1 and "✗ out-of-band 3: 0%" in out and "✓ out-of-band 1: 100%" in out, out
    query(newest_db, BACKFILLED.format("now()"))
    assert cli(capsys, "check", "--release", "4.2.0", "--dsn", newest_db, "--quiet")[0] == 0


def _ready_pairs(defs) -> set[tuple[str, str]]:
    """(application release, release the schema is at) for every pair where the application is ready."""
    releases = defs.releases.releases
    pairs = set()
    for i, app in enumerate(releases):
        for at in releases[i:]:
            states = {s: SchemaState(s, defs.required(at, s)) for s in defs.schemas}
            progress = {o: 1.0 for o in defs.out_of_band}
            if judge(defs, app, states, progress).ok:
                pairs.add((app.version, at.version))
    return pairs


def test_bundled_declarations():
    """What the bundled releases.yaml declares, read as rolling updates: which older application keeps
    running on which newer schema (renames end a run: 3.24.0, 3.25.0, 3.28.0, 4.0.0, 4.2.0, 4.3.0-rc.1)."""
    beyond = {(a, b) for a, b in _ready_pairs(DEFS) if a != b}
    assert beyond == {
        ("3.20.0", "3.21.0"), ("3.20.0", "3.22.0"), ("3.20.0", "3.23.0"),
        ("3.21.0", "3.22.0"), ("3.21.0", "3.23.0"), ("3.22.0", "3.23.0"),
        ("3.25.0", "3.26.0"), ("3.25.0", "3.27.0"), ("3.26.0", "3.27.0"),
        ("3.28.0", "3.29.0"), ("3.28.0", "3.30.0"), ("3.28.0", "3.30.1"),
        ("3.29.0", "3.30.0"), ("3.29.0", "3.30.1"), ("3.30.0", "3.30.1"),
        ("4.0.0", "4.1.0"),
    }

