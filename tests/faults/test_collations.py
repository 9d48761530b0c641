"""Collation version changes (the 3.30 incident) on every supported major (tests/conftest.py
`each_major`): the bundled product in a database whose default collation has a version (builtin
provider on 18, ICU on 15), then a change faked two ways: pgferry's own record of the last run's
version, and the server's (pg_database.datcollversion, as a superuser in a throwaway database)."""
from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from psycopg import sql

from pgferry.engine.events import Collector, IndexRebuilt
from pgferry.engine.plan.export import to_markdown
from pgferry.engine.upgrade.collation import RebuildFailed, read_state, settle
from pgferry.engine.upgrade.preflight import preflight_plan, run_preflight
from pgferry.engine.upgrade.upgrade import Connections, Upgrade, make_plan
from pgferry.tui.lines import describe
from tests.bundled import DEFS, OLDEST, TARGETS, applied, expected, upgrade
from tests.support import query, run_cli

NEXT = TARGETS[1]


@pytest.fixture
def versioned(each_major):
    """A database with a versioned default collation, the product installed at its oldest release."""
    name = f"coll_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(each_major.admin_dsn, autocommit=True) as conn:
        locale = ("LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'" if conn.info.server_version >= 170000
                  else "LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'")
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 " + locale).format(sql.Identifier(name)))
    dsn = each_major.dsn(name)
    upgrade(dsn, OLDEST)
    yield dsn
    each_major.drop_database(dsn)


def conns(dsn: str) -> Connections:
    return Connections({s: dsn for s in DEFS.schemas})


def collation_check(dsn: str, **kw):
    c = conns(dsn)
    found = {x.name: x for x in run_preflight(DEFS, c, preflight_plan(DEFS, c, NEXT), **kw)}
    return found["collation versions"], found.get("amcheck")


def text_indexes(dsn: str) -> set[str]:
    """The product's indexes on a column or expression in the default collation, as the catalog says."""
    return {r[0] for r in query(dsn, "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_index i "
                                     "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                                     "WHERE 100 = ANY(i.indcollation::oid[]) AND n.nspname NOT LIKE 'pg\\_%'")}


def latest_record(dsn: str) -> tuple:
    return query(dsn, "SELECT basis, actual_version, operator FROM collation_versions WHERE kind = 'database' "
                      "ORDER BY id DESC LIMIT 1")[0]


def test_changed_version_fails_preflight_and_the_plan_rebuilds_the_indexes(versioned):
    dsn = versioned
    basis, version, _ = latest_record(dsn)  # the install recorded what it saw
    assert basis == "observed" and version
    on_text = text_indexes(dsn)
    assert len(on_text) >= 3, on_text
    # The last run saw another library version: since then the OS was upgraded under the server.
    query(dsn, "UPDATE collation_versions SET actual_version = '0.9' WHERE kind = 'database'")

    check, _ = collation_check(dsn)
    assert check.status == "fail" and f"{len(on_text)} index(es) on them may be corrupt" in check.reason, check
    assert f"version 0.9 (observed on" in check.details[0] and f"now provides {version}" in check.details[0]
    listed = [d for d in check.details if d.startswith("index ")]
    assert {d.split()[1] for d in listed} == on_text
    assert all(" on " in d and (" kB, " in d or " B, " in d) for d in listed), listed  # table and size
    assert "REINDEX INDEX CONCURRENTLY" in check.fix and "REFRESH COLLATION VERSION" in check.fix
    r = run_cli("preflight", "--to", NEXT, "--dsn", dsn)
    assert r.returncode == 1 and "collation versions" in r.stdout, r.stdout + r.stderr

    plan = make_plan(DEFS, conns(dsn), NEXT)
    assert {s.index for s in plan.reindex} == on_text and plan.steps  # rebuilds, then the schema steps
    assert all(s.seconds >= 1 and s.size > 0 for s in plan.reindex)
    assert plan.as_dict()["reindex"][0]["kind"] == "reindex"
    markdown = to_markdown(plan)
    assert markdown.index("## Reindex first") < markdown.index("## Steps")
    r = run_cli("plan", "--to", NEXT, "--dsn", dsn, "--sql")
    assert r.returncode == 0 and r.stdout.index("REINDEX INDEX CONCURRENTLY") < r.stdout.index("BEGIN;"), r.stdout

    events = Collector()
    Upgrade(DEFS, conns(dsn), on_event=events).run(NEXT)
    assert {e.index for e in events.of(IndexRebuilt)} == on_text
    assert describe(events.of(IndexRebuilt)[0]).startswith("  ✓ rebuilt ")
    assert applied(dsn) == expected(NEXT)
    assert latest_record(dsn)[:2] == ("reindexed", version)
    assert collation_check(dsn)[0].status == "pass"
    assert make_plan(DEFS, conns(dsn), NEXT).reindex == ()


def test_server_mismatch_is_acknowledged_with_the_operator_and_checked_by_amcheck(versioned):
    dsn = versioned
    on_text = text_indexes(dsn)
    query(dsn, "UPDATE pg_database SET datcollversion = '0.0' WHERE datname = current_database()")  # superuser

    check, amcheck = collation_check(dsn, amcheck=True)
    assert check.status == "fail" and "the server recorded version 0.0" in check.details[0], check
    assert amcheck.status == "warn" and "CREATE EXTENSION amcheck;" in amcheck.fix and "privileged" in amcheck.fix
    query(dsn, "CREATE EXTENSION amcheck")
    _, amcheck = collation_check(dsn, amcheck=True)
    btrees = {r[0] for r in query(dsn, "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
                                       "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam "
                                       "WHERE a.amname = 'btree'")} & on_text
    assert amcheck.status == "pass", amcheck
    assert amcheck.reason.startswith(f"{len(btrees)} btree index(es) on changed collations passed") and \
        "heapallindexed" in amcheck.reason

    r = run_cli("collations", "--dsn", dsn, "--json")
    assert r.returncode == 1, r.stderr
    flagged = json.loads(r.stdout)["databases"][0]
    assert {a["index"] for a in flagged["affected"]} == on_text and flagged["flagged"][0]["kind"] == "database"

    # A role that does not own the tables cannot rebuild: one clear error, nothing recorded as rebuilt.
    plan = make_plan(DEFS, conns(dsn), NEXT)
    stranger = sql.Identifier(f"stranger_{uuid.uuid4().hex[:8]}")  # roles are the cluster's
    query(dsn, sql.SQL("CREATE ROLE {}").format(stranger))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(stranger))
        with pytest.raises(RebuildFailed) as failed:
            settle(conn, list(plan.reindex), "public", Collector())
    query(dsn, sql.SQL("DROP ROLE {}").format(stranger))
    assert failed.value.message.startswith("REINDEX INDEX CONCURRENTLY ") and "owner" in failed.value.hint
    assert query(dsn, "SELECT count(*) FROM collation_versions WHERE basis = 'reindexed'") == [(0,)]
    r = run_cli("collations", "--dsn", dsn, "--acknowledge", "--by", "alice")
    assert r.returncode == 0 and "acknowledged database default" in r.stdout, r.stdout + r.stderr
    assert latest_record(dsn)[0::2] == ("acknowledged", "alice")
    assert collation_check(dsn)[0].status == "pass"
    assert run_cli("collations", "--dsn", dsn).returncode == 0


def test_a_named_collation_with_a_stale_server_record_is_rebuilt_and_refreshed(each_major):
    dsn = each_major.create_database("named")
    with psycopg.connect(dsn, autocommit=True) as conn:
        # A versioned collation each server has: ICU on 15 (Debian's build), the builtin provider on 17+.
        name = "pg_c_utf8" if conn.info.server_version >= 170000 else '"en-x-icu"'
        qualified = f"pg_catalog.{name}"  # as format('%I.%I') writes it
        conn.execute(f"CREATE TABLE words (w text COLLATE {name}, n int)")
        conn.execute("CREATE INDEX words_w ON words (w)")
        conn.execute("CREATE INDEX words_n ON words (n)")  # not collatable: never affected
        conn.execute(f"UPDATE pg_collation SET collversion = '0.0' WHERE oid = '{name}'::regcollation")
        state = read_state(conn, "public")
        assert [f.version.name for f in state.flagged] == [qualified]
        assert "the server recorded version 0.0" in state.flagged[0].why
        assert [(a.index, a.table, a.collations) for a in state.affected] == [
            ("public.words_w", "public.words", (qualified,))]
        events = Collector()
        settle(conn, list(state.reindex()), "public", events)
        assert [e.index for e in events.of(IndexRebuilt)] == ["public.words_w"]
        assert conn.execute(f"SELECT collversion = pg_collation_actual_version(oid) FROM pg_collation "
                            f"WHERE oid = '{name}'::regcollation").fetchone() == (True,)  # refreshed by its owner
        assert read_state(conn, "public").sound
    each_major.drop_database(dsn)
