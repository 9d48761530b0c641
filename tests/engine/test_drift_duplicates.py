"""Drift over a table holding duplicate keys: the fix of a missing or invalid unique index (or a missing
UNIQUE / PRIMARY KEY constraint) cannot work until they are resolved, so it lists them (a SELECT the
operator runs) instead of proposing a REINDEX or CREATE UNIQUE INDEX that fails on them."""
from __future__ import annotations

import psycopg
import pytest

from pgferry.engine.repair.diagnosis import Duplicates
from pgferry.engine.repair.differences import Difference
from pgferry.engine.repair.drift import check
from pgferry.engine.repair.duplicates import UniqueKey, find_duplicates, statement_key
from pgferry.engine.repair.kinds import DriftProblem, ObjectKind
from pgferry.tui.drift_view import render_differences
from pgferry.tui.cli import main
from tests.support import bundled, drift_json, query

DEFS = bundled()

INDEX = "insight_repo_names_name_unique_idx"  # a plain unique index, no constraint behind it
NAMES = "SELECT name, count(*) AS copies FROM public.insight_repo_names WHERE name IS NOT NULL GROUP BY name " \
        "HAVING count(*) > 1 ORDER BY count(*) DESC"
ROLES = "SELECT name, count(*) AS copies FROM public.roles WHERE name IS NOT NULL GROUP BY name " \
        "HAVING count(*) > 1 ORDER BY count(*) DESC"
ORGS = "SELECT name, count(*) AS copies FROM public.orgs WHERE name IS NOT NULL AND (deleted_at IS NULL) " \
       "GROUP BY name HAVING count(*) > 1 ORDER BY count(*) DESC"


def run(dsn, *statements):
    with psycopg.connect(dsn, autocommit=True) as conn:  # autocommit: CONCURRENTLY needs it
        for st in statements:
            if st.strip() and not st.lstrip().startswith("--"):
                conn.execute(st)


@pytest.fixture
def duplicated(newest_db):
    """Three unique structures gone over tables that now hold duplicate keys: INDEX invalid (its build
    failed on them, as a failed CREATE UNIQUE INDEX CONCURRENTLY leaves it), roles_name_key dropped,
    orgs_name (partial: live organisations only) dropped."""
    run(newest_db, f"DROP INDEX {INDEX}", "ALTER TABLE roles DROP CONSTRAINT roles_name_key", "DROP INDEX orgs_name",
        "INSERT INTO insight_repo_names (name) VALUES ('ops'), ('ops'), ('dev')",
        "INSERT INTO roles (name) VALUES (e'ad\\x1bmin'), (e'ad\\x1bmin'), (e'ad\\x1bmin')",
        # two live 'acme', and one deleted beside a live 'beta': only the first collide under the predicate
        "INSERT INTO orgs (name, deleted_at) VALUES ('acme', NULL), ('acme', NULL), ('beta', NULL), ('beta', now())")
    with pytest.raises(psycopg.errors.UniqueViolation):
        run(newest_db, f"CREATE UNIQUE INDEX CONCURRENTLY {INDEX} ON insight_repo_names (name)")
    return newest_db


def test_fix_lists_the_duplicate_keys_instead_of_failing_on_them(capsys, duplicated):
    code, data = drift_json(capsys, duplicated)
    assert code == 5
    diffs = {d["object"]: d for d in data["databases"][0]["differences"]}
    assert {(o, d["problem"]) for o, d in diffs.items()} == {
        (f"insight_repo_names.{INDEX}", "invalid index"), ("roles.roles_name_key", "missing"),
        ("orgs.orgs_name", "missing")}

    names, roles, orgs = diffs[f"insight_repo_names.{INDEX}"], diffs["roles.roles_name_key"], diffs["orgs.orgs_name"]
    assert names["duplicates"] == {"table": "public.insight_repo_names", "query": NAMES, "examples": ["(ops) ×2"],
                                   "checked": True}
    assert names["fix"] == [
        f"-- public.insight_repo_names holds duplicate keys for index insight_repo_names.{INDEX} ((ops) ×2): "
        "building it would fail. Resolve them first (delete or merge the extra rows), as the query below lists "
        "them; then run the fix",
        NAMES + ";",
        f"-- then: REINDEX INDEX CONCURRENTLY public.{INDEX};"]
    # application data on its way to a terminal: the escape character shown, not sent
    assert roles["duplicates"]["examples"] == ["(ad\\x1bmin) ×3"] and roles["fix"][1] == ROLES + ";"
    assert roles["fix"][2] == "-- then: ALTER TABLE public.roles ADD CONSTRAINT roles_name_key UNIQUE (name);"
    assert orgs["duplicates"]["examples"] == ["(acme) ×2"] and orgs["fix"][1] == ORGS + ";"
    assert not any(st.startswith(("REINDEX", "CREATE", "ALTER")) for d in diffs.values() for st in d["fix"])
    # each query runs as printed and finds what it says
    assert query(duplicated, NAMES) == [("ops", 2)] and query(duplicated, ORGS) == [("acme", 2)]

    assert main(["drift", "--dsn", duplicated]) == 5
    out = capsys.readouterr().out
    assert "duplicate keys: (ops) ×2 in public.insight_repo_names" in out and "\x1b" not in out
    assert "duplicate keys: (ad\\x1bmin) ×3 in public.roles" in out


def test_once_resolved_the_fix_builds_what_is_missing(capsys, duplicated):
    run(duplicated, "DELETE FROM insight_repo_names WHERE id = (SELECT max(id) FROM insight_repo_names "
                    "WHERE name = 'ops')",
        "DELETE FROM roles WHERE name = e'ad\\x1bmin' AND id <> (SELECT min(id) FROM roles WHERE name = e'ad\\x1bmin')",
        "UPDATE orgs SET deleted_at = now() WHERE id = (SELECT max(id) FROM orgs WHERE name = 'acme')")
    _, data = drift_json(capsys, duplicated)
    diffs = data["databases"][0]["differences"]
    assert [d["duplicates"]["examples"] for d in diffs] == [[], [], []]  # checked, none found
    assert [d["fix"][0].split()[0] for d in diffs] == ["ALTER", "REINDEX", "CREATE"]
    run(duplicated, *[st for d in diffs for st in d["fix"]])
    [report] = check(DEFS, {s: duplicated for s in DEFS.schemas})
    assert report.differences == []


def test_a_table_too_slow_to_check_is_said_so_and_the_check_leaves_no_setting_behind(database):
    run(database, 'CREATE TABLE "Big" (a int)', 'INSERT INTO "Big" VALUES (1), (1)')
    key = statement_key('CREATE UNIQUE INDEX big_a ON public."Big" USING btree (a, lower((a)::text)) WHERE (a > 0)')
    assert key == UniqueKey('public."Big"', ("a", "(lower(CAST(a AS text)))"), "a > 0", True)
    assert statement_key('ALTER TABLE public."Big" ADD CONSTRAINT big_pkey PRIMARY KEY (a)') == \
        UniqueKey('public."Big"', ("a",))
    assert statement_key("CREATE INDEX big_a ON public.big USING btree (a)") is None  # not unique: nothing to find
    with psycopg.connect(database) as conn:  # in a transaction, as drift's snapshot is
        assert find_duplicates(conn, key).examples == ("(1, 1) ×2",)
        # the GROUP BY outlasts the time bound: not checked, and the answer says so
        slow = UniqueKey('public."Big"', ("a",), "pg_sleep(3) IS NOT NULL")
        found = find_duplicates(conn, slow)
        assert not found.checked and not found.found and found.query == slow.query()
        assert "too large to check for duplicate keys within 2s" in found.advice("index Big.big_a")
        assert conn.execute("SELECT current_setting('statement_timeout'), current_setting('transaction_read_only')"
                            ).fetchone() == ("0", "off")


def test_a_fix_over_a_table_not_checked_says_so_and_shows_the_query_first():
    diff = Difference(ObjectKind.INDEX, "big.big_a", DriftProblem.MISSING, "CREATE UNIQUE INDEX ...", None,
                      [(18, "CREATE UNIQUE INDEX CONCURRENTLY big_a ON public.big USING btree (a);")])
    query_text = UniqueKey("public.big", ("a",)).query()
    diff.checked_for_duplicates(Duplicates("public.big", query_text, checked=False))
    assert diff.fix == [
        "-- public.big is too large to check for duplicate keys within 2s: building index big.big_a fails if there "
        "are any; the query below lists them",
        query_text + ";", "CREATE UNIQUE INDEX CONCURRENTLY big_a ON public.big USING btree (a);"]
    lines = []
    render_differences([diff], [], lines.append)
    assert "    duplicate keys: not checked (public.big is too large to check quickly)" in lines
