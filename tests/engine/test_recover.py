"""`pgferry recover` on a real PostgreSQL: each dirty state is produced for real, then diagnosed and repaired.

Commands run in-process through `main()` (fast), except the confirmation refusal, which needs a
real non-terminal stdin and so runs as a subprocess.
"""
from __future__ import annotations

import io
import json
import os
import stat

import psycopg
import pytest

from pgferry.engine.bookkeeping.bookkeeping import MigrationLog
from pgferry.engine.definitions.catalog import load
from pgferry.engine.errors import MigrationFailed
from pgferry.engine.repair.kinds import ActionKind
from pgferry.engine.repair.prepare import prepare
from pgferry.tui.cli import main
from tests.support import (
    FAILING_UP, INDEX, SMALL, add_migration, exists, index_valid, kill_mid_index_build, migrate, query, run_cli, up_to,
)

OPERATOR = {"PGFERRY_OPERATOR": "alice"}


@pytest.fixture(autouse=True)
def operator(monkeypatch):
    monkeypatch.setenv("PGFERRY_OPERATOR", "alice")


def recover(capsys, dsn, migrations, *more):
    rc = main(["recover", "--dsn", dsn, "--migrations", str(migrations), *more])
    out, err = capsys.readouterr()
    return rc, out, err


def applied(dsn, schema):
    with psycopg.connect(dsn, autocommit=True) as conn:
        return set(MigrationLog(conn).state(schema).applied)


def status(capsys, dsn, migrations, schema):
    assert main(["status", "--dsn", dsn, "--migrations", str(migrations), "--json"]) == 0
    return {s["name"]: s for s in json.loads(capsys.readouterr().out)["schemas"]}[schema]


def no_drift(capsys, dsn, migrations, admin_dsn):
    """The database has exactly its release's shape (replayed into scratch databases on the test server)."""
    rc = main(["drift", "--dsn", dsn, "--migrations", str(migrations), "--replay", "--admin-dsn", admin_dsn])
    out, err = capsys.readouterr()
    assert rc == 0, out + err


def failed_aux_4(dsn, migrations):
    """aux at 3, then migration 4 fails on its third statement (line 5): rolled back, recorded as failed."""
    add_migration(migrations, "aux", 4, "failing", FAILING_UP, "DROP TABLE IF EXISTS fail_a, fail_b, fail_c;\n",
                  parents=[3])
    g = load(migrations).schemas["aux"]
    migrate(dsn, g, up_to(g, [3]))
    with pytest.raises(MigrationFailed):
        migrate(dsn, g, up_to(g, [4]))


def log_count(dsn) -> int:
    return query(dsn, "SELECT count(*) FROM migration_logs")[0][0]


def test_clean_database_has_nothing_to_recover(capsys, database, small_copy):
    g = load(small_copy).schemas["aux"]
    migrate(database, g, up_to(g, g.leaves()))
    rc, out, err = recover(capsys, database, small_copy)
    assert rc == 0, err
    assert "nothing to recover" in out
    rc, out, _ = recover(capsys, database, small_copy, "--json")
    assert json.loads(out) == {"problems": [], "unowned_invalid_indexes": [], "actions": []}


def test_failed_migration_is_diagnosed_then_marked_applied_with_a_transcript(capsys, database, small_copy, tmp_path):
    failed_aux_4(database, small_copy)

    rc, out, err = recover(capsys, database, small_copy)
    assert rc == 4, err
    assert "✗ FAILED  aux 4 failing (up)" in out
    assert 'column "no_such_column" does not exist (SQLSTATE 42703) at migrations/aux/4_failing/up.sql:5' in out
    assert "  > 5 |        no_such_column" in out  # the failing line, marked
    assert "    4 | SELECT id," in out  # with the rest of its statement around it
    assert "backend alive: no" in out
    # Every suggested command names the schema: ids are per schema, and aux 4 alone may be ambiguous.
    assert "→ --retry 4 --schema aux: runs" in out and "→ --mark-reverted 4 --schema aux:" in out
    assert "★ recommended: --retry 4 --schema aux: none of what up.sql creates is there" in out
    for table in ("fail_a", "fail_b", "fail_c"):  # the transaction rolled back: nothing of it is there
        assert f"absent   table {table}" in out

    rc, out, _ = recover(capsys, database, small_copy, "--json")
    [p] = json.loads(out)["problems"]
    assert (p["kind"], p["schema"], p["id"], p["direction"], p["alive"], p["applied"]) == \
        ("failed", "aux", 4, "up", False, False)
    assert (p["error"]["sqlstate"], p["error"]["line"]) == ("42703", 5) and p["backend_pid"] and p["host"]
    assert [(e["kind"], e["name"], e["present"]) for e in p["effects"]] == \
        [("table", "fail_a", False), ("table", "fail_b", False), ("table", "fail_c", False)]
    assert [x["line"] for x in p["excerpt"] if x["marked"]] == [5]

    # Without --yes and without a terminal to confirm on: a usage error, and nothing written.
    rows = log_count(database)
    refused = run_cli("recover", "--dsn", database, "--migrations", str(small_copy), "--mark-reverted", "4",
                      input="", env=OPERATOR)
    assert refused.returncode == 2, refused.stderr
    assert "needs confirmation" in refused.stderr and "INSERT INTO" in refused.stdout
    assert log_count(database) == rows

    # What the catalog contradicts is refused, naming what is missing (exit 1: the database says no).
    rc, out, err = recover(capsys, database, small_copy, "--mark-applied", "4", "--yes")
    assert rc == 1, out + err
    assert "aux 4 cannot be marked applied: the catalog shows table fail_a absent, table fail_b absent, " \
           "table fail_c absent" in err and "--force --reason" in err
    assert "verified" not in out and log_count(database) == rows

    # Completed by hand, then marked: the catalog agrees.
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE TABLE fail_a (id int); CREATE TABLE fail_b (id int); CREATE TABLE fail_c (id int)")
    # The trust-auth server ignores the password: it is there to prove it never reaches the file.
    secret_dsn = database + " password=hunter2"
    transcript = tmp_path / "recover.md"
    rc, out, err = recover(capsys, secret_dsn, small_copy, "--mark-applied", "4", "--yes", "--transcript",
                           str(transcript))
    assert rc == 0, out + err
    assert "-- the catalog agrees: table fail_a present" in out and "verified: yes" in out
    assert query(database, "SELECT version, up, success, manual, confirmed_by, error_message FROM migration_logs "
                           "WHERE schema = 'aux' ORDER BY id DESC LIMIT 1") == [(4, True, True, True, "alice", None)]
    s = status(capsys, database, small_copy, "aux")
    assert 4 in s["applied"] and not s["dirty"] and not s["failed"]
    assert recover(capsys, database, small_copy)[0] == 0

    text = transcript.read_text()
    assert stat.S_IMODE(os.stat(transcript).st_mode) == 0o600
    assert "hunter2" not in text and "password=****" in text
    assert "✗ FAILED  aux 4 failing" in text and "SQLSTATE 42703" in text and "no_such_column" in text
    assert "## Action: mark-applied aux 4 (failing)" in text and "INSERT INTO" in text and "'alice'" in text
    assert "verified: yes" in text and "pgferry version:" in text
    assert "## Findings after the action" in text and "nothing to recover" in text


def test_forced_mark_applied_keeps_its_reason_in_the_log_and_the_transcript(capsys, database, small_copy, tmp_path):
    failed_aux_4(database, small_copy)
    rows = log_count(database)
    rc, _, err = recover(capsys, database, small_copy, "--mark-applied", "4", "--yes", "--force")
    assert rc == 2 and "needs --reason" in err
    rc, _, err = recover(capsys, database, small_copy, "--mark-applied", "4", "--yes", "--reason", "x")
    assert rc == 2 and "--reason goes with --force" in err
    assert log_count(database) == rows

    reason = "fail_* tables moved to the reporting database (ticket OPS-12)"
    transcript = tmp_path / "forced.md"
    rc, out, err = recover(capsys, database, small_copy, "--mark-applied", "4", "--yes", "--force", "--reason", reason,
                           "--transcript", str(transcript))
    assert rc == 0, out + err
    assert "-- FORCED: the catalog shows table fail_a absent" in out and f"-- reason: {reason}" in out
    assert f"the catalog does not match the mark: table fail_a absent, table fail_b absent, table fail_c absent " \
           f"(forced: {reason})" in out
    [(note,)] = query(database, "SELECT error_message FROM migration_logs WHERE schema = 'aux' AND success "
                                "AND manual AND version = 4")
    assert note == f"forced by alice: {reason} (the catalog showed table fail_a absent, table fail_b absent, " \
                   "table fail_c absent)"
    assert 4 in applied(database, "aux")
    text = transcript.read_text()
    assert f"- forced, reason: {reason}" in text and f"-- reason: {reason}" in text


def test_mark_reverted_is_refused_while_what_up_sql_creates_is_there(capsys, database, small_copy):
    g = load(small_copy).schemas["aux"]
    migrate(database, g, up_to(g, g.leaves()))
    rows = log_count(database)
    rc, out, err = recover(capsys, database, small_copy, "--mark-reverted", "3", "--schema", "aux", "--yes")
    assert rc == 1, out + err
    assert "aux 3 cannot be marked reverted: the catalog shows index aux_jobs_state present" in err
    assert "--down 3 --schema aux" in err and log_count(database) == rows and 3 in applied(database, "aux")

    with psycopg.connect(database, autocommit=True) as conn:  # undone by hand: now the mark is true
        conn.execute("DROP INDEX aux_jobs_state")
    rc, out, err = recover(capsys, database, small_copy, "--mark-reverted", "3", "--schema", "aux", "--yes")
    assert rc == 0, out + err
    assert "catalog: index aux_jobs_state absent" in out and "verified: yes" in out
    assert 3 not in applied(database, "aux")


def test_retry_after_fixing_the_sql_then_down_reverts(capsys, database, small_copy, pg_server):
    failed_aux_4(database, small_copy)
    up_sql = small_copy / "aux" / "4_failing" / "up.sql"
    up_sql.write_text(FAILING_UP.replace("no_such_column", "id AS fixed"))

    rc, out, err = recover(capsys, database, small_copy)
    assert rc == 4 and "changed since this attempt" in out  # the highlighted statement is the one that ran

    rc, out, err = recover(capsys, database, small_copy, "--retry", "4", "--yes")
    assert rc == 0, out + err
    assert "CREATE TABLE fail_c (id int);" in out  # the exact SQL, shown before it ran
    assert "aux 4 is applied" in out and "verified: yes" in out
    assert 4 in applied(database, "aux") and all(exists(database, t) for t in ("fail_a", "fail_b", "fail_c"))

    rc, out, err = recover(capsys, database, small_copy, "--retry", "4", "--yes")
    assert rc == 2 and "nothing to retry" in err  # refused before anything runs

    rc, out, err = recover(capsys, database, small_copy, "--down", "4", "--yes")
    assert rc == 0, out + err
    assert "DROP TABLE IF EXISTS fail_a, fail_b, fail_c;" in out and "verified: yes" in out
    assert 4 not in applied(database, "aux") and not exists(database, "fail_a")
    s = status(capsys, database, small_copy, "aux")
    assert not s["dirty"] and s["pending"] == [4]
    no_drift(capsys, database, small_copy, pg_server.admin_dsn)


def test_mark_reverted_after_a_typed_confirmation(capsys, database, small_copy, monkeypatch):
    failed_aux_4(database, small_copy)
    rc, _, err = recover(capsys, database, small_copy, "--down", "4", "--yes")
    assert rc == 2 and "nothing to revert" in err  # rolled back: there is nothing to run down.sql on
    rc, _, err = recover(capsys, database, small_copy, "--mark-applied", "99", "--yes")
    assert rc == 2 and "no schema has a migration 99" in err

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    rows = log_count(database)
    monkeypatch.setattr("sys.stdin", Terminal("3\n"))  # the wrong id: nothing happens
    rc, out, err = recover(capsys, database, small_copy, "--mark-reverted", "4")
    assert rc == 1 and "Type 4 to run it" in err and "nothing changed" in err
    assert log_count(database) == rows

    monkeypatch.setattr("sys.stdin", Terminal("4\n"))
    rc, out, err = recover(capsys, database, small_copy, "--mark-reverted", "4")
    assert rc == 0, out + err
    assert query(database, "SELECT version, up, success, manual, confirmed_by FROM migration_logs "
                           "ORDER BY id DESC LIMIT 1") == [(4, False, True, True, "alice")]
    assert 4 not in applied(database, "aux")
    assert recover(capsys, database, small_copy)[0] == 0
    assert not status(capsys, database, small_copy, "aux")["dirty"]


def test_index_build_killed_mid_way_is_listed_stale_and_retry_rebuilds_it(capsys, database, small_defs, session,
                                                                         spawn, pg_server):
    builder = kill_mid_index_build(database, small_defs, session, spawn, "up", "--schema", "main")

    rc, out, err = recover(capsys, database, SMALL)
    assert rc == 4, err
    assert "! STALE  main 16 index events by kind and time (up concurrent index)" in out
    assert f"by backend {builder}" in out and "backend alive: no" in out and "never recorded a result" in out
    assert f"  > 1 | CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX}" in out  # what was running
    assert f"present  index {INDEX} (line 1, INVALID)" in out
    assert "INVALID INDEX" not in out  # a migration owns it: it is part of the stale attempt, not unowned

    assert f"★ recommended: --retry 16 --schema main: index {INDEX} is INVALID and nobody is building it" in out
    rc, _, err = recover(capsys, database, SMALL, "--mark-applied", "16", "--yes")
    assert rc == 1 and f"cannot be marked applied: the catalog shows index {INDEX} present (INVALID)" in err

    rc, out, err = recover(capsys, database, SMALL, "--retry", "16", "--yes")
    assert rc == 0, out + err
    assert f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}";' in out and "verified: yes" in out
    assert index_valid(database, INDEX) is True and 16 in applied(database, "main")
    assert query(database, "SELECT count(*) FROM migration_logs WHERE success IS NULL") == [(0,)]
    assert recover(capsys, database, SMALL)[0] == 0
    assert not status(capsys, database, SMALL, "main")["dirty"]
    no_drift(capsys, database, SMALL, pg_server.admin_dsn)


def test_unowned_invalid_index_is_listed_and_repaired(capsys, database, small_defs):
    g = small_defs.schemas["aux"]
    migrate(database, g, up_to(g, g.leaves()))
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("INSERT INTO aux_jobs (state) VALUES ('queued'), ('queued'), ('done')")
        with pytest.raises(psycopg.errors.UniqueViolation):  # someone's failed build, outside any migration
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY aux_jobs_state_unique ON aux_jobs (state)")

    rc, out, err = recover(capsys, database, SMALL)
    assert rc == 0, err  # not dirty: no migration is in doubt
    assert "! INVALID INDEX  public.aux_jobs_state_unique on public.aux_jobs" in out
    assert "CREATE UNIQUE INDEX aux_jobs_state_unique ON public.aux_jobs USING btree (state)" in out
    # The table still holds the duplicates the build failed on: REINDEX would fail the same way.
    query_text = "SELECT state, count(*) AS copies FROM public.aux_jobs WHERE state IS NOT NULL GROUP BY state " \
                 "HAVING count(*) > 1 ORDER BY count(*) DESC"
    assert "✗ REINDEX would fail: public.aux_jobs holds duplicate keys for the unique index " \
           "public.aux_jobs_state_unique ((queued) ×2)" in out
    assert query_text in out and "--repair-index aux_jobs_state_unique: REINDEX" not in out
    assert query(database, query_text) == [("queued", 2)]  # the query shown runs as printed
    rc, out, err = recover(capsys, database, SMALL, "--json")
    [index] = json.loads(out)["unowned_invalid_indexes"]
    assert index["repair"] is None and index["duplicates"]["examples"] == ["(queued) ×2"]
    rc, out, err = recover(capsys, database, SMALL, "--repair-index", "aux_jobs_state_unique", "--yes")
    assert rc == 1 and "REINDEX would fail" in err and "REINDEX INDEX CONCURRENTLY" not in out
    assert index_valid(database, "aux_jobs_state_unique") is False

    with psycopg.connect(database, autocommit=True) as conn:  # the duplicates resolved
        conn.execute("DELETE FROM aux_jobs WHERE id = (SELECT max(id) FROM aux_jobs WHERE state = 'queued')")
    rc, out, err = recover(capsys, database, SMALL, "--repair-index", "aux_jobs_state_unique", "--yes", "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert data["unowned_invalid_indexes"][0]["name"] == "public.aux_jobs_state_unique"
    assert data["unowned_invalid_indexes"][0]["duplicates"]["examples"] == []
    [action] = data["actions"]
    assert action["sql"].endswith("REINDEX INDEX CONCURRENTLY public.aux_jobs_state_unique;")
    assert "duplicate keys" not in action["sql"]  # checked, none left: no warning about them
    assert action["ok"] and action["verified"]
    assert index_valid(database, "aux_jobs_state_unique") is True
    assert "INVALID INDEX" not in recover(capsys, database, SMALL)[1]


def test_an_invalid_index_named_with_a_quote_is_repaired_and_confirmed_by_its_own_name(capsys, database, small_defs):
    g = small_defs.schemas["aux"]
    migrate(database, g, up_to(g, g.leaves()))
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("INSERT INTO aux_jobs (state) VALUES ('queued'), ('queued')")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute('CREATE UNIQUE INDEX CONCURRENTLY "Odd""Idx" ON aux_jobs (state)')
        conn.execute("DELETE FROM aux_jobs WHERE id = (SELECT max(id) FROM aux_jobs)")
    action = prepare(small_defs, {s: database for s in small_defs.schemas}, ActionKind.REPAIR_INDEX, 'Odd"Idx')
    assert action.confirm == 'Odd"Idx'  # what the operator types: the name, not its quoted form
    rc, out, err = recover(capsys, database, SMALL, "--repair-index", 'Odd"Idx', "--yes", "--json")
    assert rc == 0, err
    [done] = json.loads(out)["actions"]
    assert done["sql"].endswith('REINDEX INDEX CONCURRENTLY public."Odd""Idx";') and done["verified"]


def test_index_recorded_as_applied_while_invalid_is_listed_and_a_failed_repair_exits_1(capsys, database, small_defs,
                                                                                      tmp_path):
    g = small_defs.schemas["main"]
    migrate(database, g, up_to(g, [15]))
    with psycopg.connect(database, autocommit=True) as conn:  # someone recorded a build that had failed
        with pytest.raises(psycopg.errors.DivisionByZero):  # user_id 1 exists: the expression fails on it
            conn.execute(f"CREATE INDEX CONCURRENTLY {INDEX} ON events ((100 / (user_id - 1)))")
        with conn.transaction():
            MigrationLog(conn).record_success("main", 16, True, None, None)

    rc, out, _ = recover(capsys, database, SMALL)
    assert rc == 0 and f"INVALID INDEX  public.{INDEX} on public.events" in out
    assert "recorded as applied by main 16 while invalid" in out

    transcript = tmp_path / "t.md"
    rc, out, err = recover(capsys, database, SMALL, "--repair-index", INDEX, "--yes", "--json",
                           "--transcript", str(transcript))
    assert rc == 1, err
    [action] = json.loads(out)["actions"]
    assert not action["ok"] and not action["verified"] and "DivisionByZero" in action["message"]
    assert "_ccnew" in action["message"]  # what a failed REINDEX CONCURRENTLY leaves, and how to drop it
    assert "✗ repair-index public." in transcript.read_text() and "verified: NO" in transcript.read_text()


def test_a_marked_migration_edited_cosmetically_is_reported_as_cosmetic(capsys, database, small_copy):
    """A mark records the scanner's digest too, so a later comment-only edit is not taken for a change."""
    failed_aux_4(database, small_copy)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE TABLE fail_a (id int); CREATE TABLE fail_b (id int); CREATE TABLE fail_c (id int)")
    rc, out, err = recover(capsys, database, small_copy, "--mark-applied", "4", "--yes")
    assert rc == 0, out + err
    up = small_copy / "aux" / "4_failing" / "up.sql"
    up.write_text("-- edited after the mark: a comment only\n" + up.read_text())
    rc = main(["status", "--json", "--dsn", database, "--migrations", str(small_copy)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    [aux] = [s for s in json.loads(out)["schemas"] if s["name"] == "aux"]
    assert [(c["id"], c["kind"], c["comparable"]) for c in aux["changed"]] == [(4, "cosmetic", True)]
