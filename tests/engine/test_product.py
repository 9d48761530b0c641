"""The bundled product on a real server: every upgrade path, fresh-vs-upgraded schema equality,
round trips, and resuming after a kill (out-of-band run and multi-stop upgrade)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from psycopg import conninfo

from tests.bundled import DEFS, NEWEST, OLDEST, TARGETS, applied, expected, shape, upgrade
from tests.support import ROOT, clone_database, query, run_cli

@pytest.fixture(scope="module")
def templates(pg_server):
    """Template databases: the oldest release installed once, cloned per test."""
    made: dict[str, str] = {}

    def get(version: str) -> str:
        if version not in made:
            dsn = pg_server.create_database("tpl")
            upgrade(dsn, version)
            made[version] = conninfo.conninfo_to_dict(dsn)["dbname"]
        return made[version]

    yield get


def test_bundled_product_is_valid_and_realistic():
    n = sum(len(g.migrations) for g in DEFS.schemas.values())
    assert n >= 150 and len(DEFS.releases.releases) >= 12
    assert set(DEFS.schemas) == {"frontend", "codeintel", "codeinsights"}
    assert "codeinsights" not in DEFS.releases.releases[0].leaves
    ms = [m for g in DEFS.schemas.values() for m in g.migrations.values()]
    assert any(len(m.parents) > 1 for m in ms)
    assert any(m.replaces for m in ms) and any(m.privileged for m in ms)
    assert any(m.create_index_concurrently for m in ms) and any(m.non_idempotent for m in ms)
    assert len(DEFS.out_of_band) >= 4


@pytest.mark.parametrize("target", TARGETS[1:])
def test_oldest_to_each_release_then_newest(pg_server, templates, target):
    dsn = clone_database(pg_server, templates(OLDEST))
    plan, _ = upgrade(dsn, target)
    assert applied(dsn) == expected(target)
    assert DEFS.version_of(applied(dsn)).label == target
    if target != NEWEST:
        upgrade(dsn, NEWEST)
        assert applied(dsn) == expected(NEWEST)
    pg_server.drop_database(dsn)


def test_upgraded_schema_equals_fresh_install(pg_server, templates):
    upgraded = clone_database(pg_server, templates(OLDEST))
    upgrade(upgraded, NEWEST)
    fresh = pg_server.create_database("fresh")
    plan, _ = upgrade(fresh, NEWEST)
    assert plan.direction == "install"
    assert any(s.step.backfill for s in plan.schema_steps()), "a fresh install uses the squashed migrations"
    a, b = shape(upgraded), shape(fresh)
    assert a["tables"] and a == b


def test_downgrade_and_reupgrade_round_trip(pg_server, templates):
    dsn = clone_database(pg_server, templates(OLDEST))
    upgrade(dsn, NEWEST)
    before = shape(dsn)
    plan, _ = upgrade(dsn, OLDEST, downgrade=True)
    assert plan.direction == "downgrade"
    assert applied(dsn) == expected(OLDEST)
    assert shape(dsn) == shape(clone_database(pg_server, templates(OLDEST)))
    upgrade(dsn, NEWEST)
    assert applied(dsn) == expected(NEWEST)
    assert shape(dsn) == before


def test_plan_cli_formats_and_refusals(pg_server, templates):
    dsn = clone_database(pg_server, templates(OLDEST))
    r = run_cli("plan", "--to", NEWEST, "--dsn", dsn, "--json")
    assert r.returncode == 0, r.stderr
    import json

    data = json.loads(r.stdout)
    assert data["from"] == OLDEST and data["to"] == NEWEST and len(data["stops"]) >= 2
    r = run_cli("plan", "--to", NEWEST, "--dsn", dsn, "--sql")
    assert r.returncode == 0 and "BEGIN;" in r.stdout and "CREATE INDEX CONCURRENTLY" in r.stdout
    r = run_cli("plan", "--to", NEWEST, "--dsn", dsn, "--markdown")
    assert r.returncode == 0 and r.stdout.startswith("# Upgrade plan")
    assert run_cli("plan", "--to", "9.9.9", "--dsn", dsn).returncode == 2
    pulled = next(x.version for x in DEFS.releases.releases if x.pulled)
    r = run_cli("plan", "--to", pulled, "--dsn", dsn)
    assert r.returncode == 2 and "pulled" in r.stderr
    upgrade(dsn, TARGETS[3])
    r = run_cli("plan", "--to", OLDEST, "--dsn", dsn)
    assert r.returncode == 2 and "downgrade" in r.stderr
    # a migration newer than anything the definitions know: drift (a newer release ran here)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO migration_logs (schema, version, up, success, finished_at) "
                      "VALUES ('frontend', 9999999999, true, true, now())")
    r = run_cli("plan", "--to", NEWEST, "--dsn", dsn)
    assert r.returncode == 5 and "do not know" in r.stderr
    # one older than the oldest supported release: an unsupported source version
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM migration_logs WHERE version = 9999999999")
        conn.execute("INSERT INTO migration_logs (schema, version, up, success, finished_at) "
                      "VALUES ('frontend', 1, true, true, now())")
    r = run_cli("plan", "--to", NEWEST, "--dsn", dsn)
    assert r.returncode == 2 and "unsupported source version" in r.stderr


def _repo_rows(dsn: str, n: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO repo (name, uri, metadata) SELECT 'github.com/x/r' || g, 'github.com/x/r' || g, "
            "jsonb_build_object('stargazerCount', mod(g, 1000)) FROM generate_series(1, %s) g", [n])


def _wait(predicate, timeout=60.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def _popen(*args):
    return subprocess.Popen([sys.executable, "-m", "pgferry", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_killed_out_of_band_run_resumes_from_recorded_progress(pg_server, templates):
    dsn = clone_database(pg_server, templates(OLDEST))
    upgrade(dsn, "3.21.0")  # out-of-band 1 (repo stars) is live from 3.21.0
    _repo_rows(dsn, 200_000)
    proc = _popen("oob", "run", "1", "--dsn", dsn, "--batch-seconds", "0.01", "--no-progress")

    def midway():
        rows = query(dsn, "SELECT progress FROM out_of_band_migrations WHERE id = 1") if query(
            dsn, "SELECT to_regclass('out_of_band_migrations')")[0][0] else []
        return rows and 0.01 < rows[0][0] < 0.9 and rows[0][0]

    recorded = _wait(midway)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    filled = query(dsn, "SELECT count(stars) FROM repo")[0][0]
    assert 0 < filled < 200_000
    r = run_cli("oob", "run", "1", "--dsn", dsn, "--no-progress")
    assert r.returncode == 0, r.stderr
    started = next(line for line in r.stderr.splitlines() if "out-of-band 1: running" in line)
    resumed_at = float(started.rsplit(" from ", 1)[1].split("%")[0]) / 100
    assert resumed_at >= recorded - 0.01  # resumed, not restarted
    assert query(dsn, "SELECT count(*) FROM repo WHERE stars IS NULL") == [(0,)]
    assert query(dsn, "SELECT count(*) FROM repo WHERE stars <> (metadata->>'stargazerCount')::int") == [(0,)]
    assert query(dsn, "SELECT progress FROM out_of_band_migrations WHERE id = 1") == [(1.0,)]


def test_kill_at_a_stop_resumes_the_persisted_plan(pg_server, templates):
    dsn = clone_database(pg_server, templates(OLDEST))
    upgrade(dsn, "3.21.0")
    _repo_rows(dsn, 60_000)
    proc = _popen("upgrade", "--to", NEWEST, "--dsn", dsn, "--yes", "--no-progress", "--batch-seconds", "0.01")

    def at_stop():
        if not query(dsn, "SELECT to_regclass('upgrade_runs')")[0][0]:
            return False
        rows = query(dsn, "SELECT id, current_step FROM upgrade_runs ORDER BY id DESC LIMIT 1")
        return rows and rows[0][1] and rows[0][1].startswith("out-of-band") and rows[0][0]

    run_id = _wait(at_stop)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert query(dsn, "SELECT status FROM upgrade_runs WHERE id = %s", [run_id]) == [("running",)]
    r = run_cli("upgrade", "--to", NEWEST, "--dsn", dsn, "--yes", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert f"continues run {run_id}" in r.stderr
    assert applied(dsn) == expected(NEWEST)
    statuses = dict(query(dsn, "SELECT id, status FROM upgrade_runs ORDER BY id"))
    assert statuses[run_id] == "resumed" and list(statuses.values())[-1] == "succeeded"
    assert query(dsn, "SELECT count(*) FROM repo WHERE stars IS NULL") == [(0,)]


def test_upgrade_checks_drift_first(pg_server, templates):
    dsn = clone_database(pg_server, templates(OLDEST))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE repo ADD COLUMN hand_made int")
    before = applied(dsn)
    r = run_cli("upgrade", "--to", TARGETS[2], "--dsn", dsn, "--yes", "--no-progress")
    assert r.returncode == 5 and "repo.hand_made" in r.stderr and "--skip-drift-check" in r.stderr
    assert applied(dsn) == before
    r = run_cli("upgrade", "--to", TARGETS[2], "--dsn", dsn, "--yes", "--no-progress", "--skip-drift-check")
    assert r.returncode == 0, r.stderr
    assert applied(dsn) == expected(TARGETS[2])


def test_check_release_for_readiness_probes(pg_server, templates):
    dsn = clone_database(pg_server, templates(OLDEST))
    logs_before = query(dsn, "SELECT count(*) FROM migration_logs")
    r = run_cli("check", "--release", OLDEST, "--dsn", dsn)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("check", "--release", NEWEST, "--dsn", dsn, "--json")
    import json

    data = json.loads(r.stdout)
    assert r.returncode == 1 and not data["ok"] and any(s["missing"] for s in data["schemas"])
    assert query(dsn, "SELECT count(*) FROM migration_logs") == logs_before  # strictly read-only
    upgrade(dsn, NEWEST)
    assert run_cli("check", "--release", NEWEST, "--dsn", dsn, "--quiet").returncode == 0
    # an out-of-band migration the release needs, half of its data not there (measured live,
    # whatever its record says): not ready
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE insight_series SET backfill_completed_at = NULL WHERE builtin AND id % 2 = 0")
    r = run_cli("check", "--release", NEWEST, "--dsn", dsn)
    assert r.returncode == 1 and "✗ out-of-band 3: 50%" in r.stdout, r.stdout
    # an empty database has no bookkeeping tables: still answered, still nothing created
    empty = pg_server.create_database("e")
    assert run_cli("check", "--release", OLDEST, "--dsn", empty).returncode == 1
    assert query(empty, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
