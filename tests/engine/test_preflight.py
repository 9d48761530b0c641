"""Preflight on a real server: each check passes on a clean database and fails (or warns) for real."""
from __future__ import annotations

import json
import stat
import subprocess
import threading
import time

import psycopg
import pytest
import yaml

from pgferry.engine.upgrade.backup import dump_command, find_tool
from pgferry.engine.definitions.catalog import bundled_migrations_dir, load
from pgferry.engine.locks import lock_key
from pgferry.engine.bookkeeping.collations import Trusted, Version
from pgferry.engine.upgrade.collation import why_flagged
from pgferry.engine.upgrade.preflight import Thresholds, preflight_failures, preflight_plan, run_preflight
from pgferry.engine.upgrade.upgrade import Connections, Upgrade
from tests.support import query, run_cli
from tests.fixtures.synthetic import write_migration

DEFS = load(bundled_migrations_dir())
OLDEST = DEFS.releases.releases[0].version
NEWEST = DEFS.releases.latest().version


def conns(dsn: str, defs=DEFS) -> Connections:
    return Connections({s: dsn for s in defs.schemas})


def install(dsn: str) -> str:
    Upgrade(DEFS, conns(dsn)).run(OLDEST)
    return dsn


def checks(dsn: str, defs=DEFS, to=NEWEST, **kw) -> dict:
    c = conns(dsn, defs)
    return {x.name: x for x in run_preflight(defs, c, preflight_plan(defs, c, to), **kw)}


@pytest.fixture(scope="module")
def product(pg_server):
    """The bundled product at its oldest release; tests here only read it (or clean up)."""
    dsn = install(pg_server.create_database("pf"))
    yield dsn
    pg_server.drop_database(dsn)


def execute(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_clean_database_passes_everything(product):
    found = checks(product)
    assert list(found) == ["server version", "collation versions", "invalid indexes", "sessions",
                           "other migrators", "extensions"]
    assert all(c.status == "pass" for c in found.values()), found
    assert "citext" in found["extensions"].reason  # the plan's privileged CREATE EXTENSIONs were found
    r = run_cli("preflight", "--to", NEWEST, "--dsn", product, "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] is True and {c["status"] for c in data["checks"]} == {"pass"}
    assert set(data["checks"][0]) == {"name", "status", "reason", "details", "fix"}


def test_collation_flagged_by_change_or_unvouched_mismatch():
    from datetime import datetime

    def v(catalog, actual):
        return Version("collation", 'pg_catalog."de-x-icu"', "i", catalog, actual, 12345)

    def t(actual, basis):
        return Trusted("collation", 'pg_catalog."de-x-icu"', actual, basis, "alice", datetime(2026, 12, 1, 9, 30))

    assert why_flagged(v(None, None), None) is None  # C, POSIX: unversioned
    assert why_flagged(v("153.1", "153.1"), None) is None
    assert why_flagged(v("153.1", "153.1"), t("153.1", "observed")) is None
    changed = why_flagged(v("153.14", "153.14"), t("153.1", "observed"))  # refreshed by hand, never rebuilt
    assert changed and "153.1 (observed on 2026-12-01 09:30)" in changed and "now provides 153.14" in changed
    assert "recorded version 153.1," in why_flagged(v("153.1", "153.14"), None)
    assert why_flagged(v("153.1", "153.14"), t("153.14", "acknowledged")) is None  # vouched for this very version
    assert why_flagged(v("153.1", "153.14"), t("153.14", "reindexed")) is None
    assert "by alice" in why_flagged(v("153.1", "153.2"), t("153.14", "acknowledged"))


def test_idle_in_transaction_session_warns_with_its_pid(product):
    with psycopg.connect(product, application_name="billing-report") as idle:
        idle.execute("SELECT 1")  # opens a transaction and leaves it idle
        time.sleep(0.3)
        found = checks(product, thresholds=Thresholds(idle_in_transaction=0.2))
        s = found["sessions"]
        pid = idle.info.backend_pid
        assert s.status == "warn", s
        assert any(f"pid {pid} (billing-report), idle in transaction" in d for d in s.details), s.details
        assert f"pg_terminate_backend({pid})" in s.fix
        assert found["other migrators"].status == "pass"  # an ordinary session is no migrator
    assert checks(product, thresholds=Thresholds(idle_in_transaction=0.2))["sessions"].status == "pass"


def test_long_query_warns(product):
    conn = psycopg.connect(product, autocommit=True)
    pid = conn.info.backend_pid

    def sleeper():
        try:
            conn.execute("SELECT pg_sleep(20)")
        except psycopg.errors.QueryCanceled:
            pass

    t = threading.Thread(target=sleeper)
    t.start()
    try:
        _wait(lambda: query(product, "SELECT now() - query_start > interval '0.3 s' FROM pg_stat_activity "
                                     "WHERE pid = %s AND state = 'active'", [pid]) == [(True,)])
        s = checks(product, thresholds=Thresholds(long_query=0.2))["sessions"]
        assert s.status == "warn" and any(f"pid {pid}" in d and "pg_sleep" in d for d in s.details), s
        assert f"pg_cancel_backend({pid})" in s.fix
        assert checks(product)["sessions"].status == "pass"  # under the default 60 s
    finally:
        query(product, "SELECT pg_cancel_backend(%s)", [pid])
        t.join(10)
        conn.close()


def test_another_migrator_warns_with_its_pid(product):
    # A warning, not a failure: a second run waits for the locks and then finds its work done.
    with psycopg.connect(product, autocommit=True) as holder, \
            psycopg.connect(product, autocommit=True, application_name="pgferry 9.9.9 upgrade elsewhere:42") as named:
        holder.execute("SELECT pg_advisory_lock(%s)", [lock_key("public", "codeintel")])
        c = checks(product)["other migrators"]
        assert c.status == "warn", c
        for pid in (holder.info.backend_pid, named.info.backend_pid):
            assert str(pid) in c.reason and any(f"pid {pid} from local since" in d for d in c.details)
        assert any("holds the codeintel lock" in d for d in c.details)
        assert "will wait" in c.reason
        failed = preflight_failures(DEFS, conns(product), preflight_plan(DEFS, conns(product), NEWEST))
        assert failed == []
        r = run_cli("preflight", "--to", NEWEST, "--dsn", product)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "! warn other migrators: 2 other migrator(s) alive" in r.stdout
        assert "✓ pass server version" in r.stdout and "fix: -- wait for it" in r.stdout
    assert checks(product)["other migrators"].status == "pass"


def test_invalid_index_warns_and_its_fix_works(database):
    install(database)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE TABLE dup (x int); INSERT INTO dup VALUES (1), (1)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY dup_x ON dup (x)")
    c = checks(database)["invalid indexes"]
    assert c.status == "warn" and "public.dup_x" in c.reason, c
    assert c.fix.startswith("DROP INDEX CONCURRENTLY public.dup_x;")
    execute(database, c.fix.split(";")[0])
    assert checks(database)["invalid indexes"].status == "pass"


def _synthetic(root):
    """v1: a table; v2: CREATE EXTENSION of something no server ships; v3: needs PostgreSQL < 12."""
    write_migration(root, "app", 1, [], "CREATE TABLE t (id int);\n", "DROP TABLE t;\n")
    write_migration(root, "app", 2, [1], "CREATE EXTENSION IF NOT EXISTS no_such_ext;\n",
                    "DROP EXTENSION IF EXISTS no_such_ext;\n", privileged=True)
    write_migration(root, "app", 3, [2], "CREATE TABLE u (id int);\n", "DROP TABLE u;\n")
    releases = [{"version": "1.0.0", "leaves": {"app": [1]}}, {"version": "2.0.0", "leaves": {"app": [2]}},
                {"version": "3.0.0", "leaves": {"app": [3]}, "postgres": "<12"}]
    (root / "releases.yaml").write_text(yaml.safe_dump({"releases": releases}, sort_keys=False))
    return load(root)


def test_missing_extension_and_unsupported_server_fail(database, tmp_path):
    defs = _synthetic(tmp_path / "m")
    found = checks(database, defs, to="2.0.0")
    e = found["extensions"]
    assert e.status == "fail" and "no_such_ext" in e.reason and "app 2" in e.details[0], e
    assert found["server version"].status == "pass"
    v = checks(database, defs, to="3.0.0")["server version"]
    version = query(database, "SHOW server_version")[0][0].split()[0]
    assert v.status == "fail" and "<12" in v.reason and version in v.reason, v
    r = run_cli("preflight", "--to", "3.0.0", "--dsn", database, "--migrations", str(tmp_path / "m"), "--json")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] is False
    assert {c["name"] for c in data["checks"] if c["status"] == "fail"} == {"server version", "extensions"}


def test_upgrade_runs_preflight_first_and_stops_before_any_change(database, tmp_path):
    _synthetic(tmp_path / "m")
    m = ["--dsn", database, "--migrations", str(tmp_path / "m"), "--yes", "--no-progress"]
    r = run_cli("upgrade", "--to", "2.0.0", *m)
    assert r.returncode == 1 and "preflight failed: extensions" in r.stderr and "--skip-preflight" in r.stderr
    assert query(database, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
    # skipping it is possible, and then the server's own error stops the run at that migration
    r = run_cli("upgrade", "--to", "2.0.0", "--skip-preflight", *m)
    assert r.returncode != 0 and "no_such_ext" in r.stderr


def test_backup_writes_a_private_restorable_dump(product, tmp_path):
    c = checks(product, backup_dir=tmp_path / "dumps")["backup"]
    assert c.status == "pass", c
    (dump,) = (tmp_path / "dumps").iterdir()
    assert dump.name.startswith("pf_") and dump.suffix == ".dump" and str(dump) in c.reason
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    major = psycopg.connect(product).info.server_version // 10000
    listing = subprocess.run([find_tool("pg_restore", major), "--list", str(dump)], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    assert "TABLE public migration_logs" in listing.stdout


def test_dump_password_goes_to_the_environment_only():
    argv, env = dump_command("/bin/pg_dump", "postgresql://app:s3cret@db.example:5433/prod")
    assert not any("s3cret" in a for a in argv)
    assert env["PGPASSWORD"] == "s3cret"
    assert "host=db.example" in argv[-1] and "dbname=prod" in argv[-1] and "--format=custom" in argv
