"""Hardening cases of issue 13, each pinned by the regression test that first failed: a migration
cannot change the session of the next, a stopped migrator loses its locks, bookkeeping in the
wrong schema is not an empty database, a server's message cannot drive the terminal, an
out-of-band migration runs only once its release is reached, and the plan written to a file.
(Loading, local files, interrupts and server majors have files of their own in this folder.)"""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time

import psycopg
import pytest

from pgferry.engine.definitions.catalog import load
from pgferry.engine.errors import MigrationFailed
from pgferry.engine.repair.differences import compare
from pgferry.engine.upgrade.upgrade import Connections, Upgrade, make_plan
from pgferry.tui.app import PgferryApp, Source
from pgferry.tui.app.overview import OverviewScreen
from pgferry.tui.app.run import RunScreen
from pgferry.tui.cli import main
from tests.support import (
    LOCKY, LONG_NAME, backend_alive, bundled, chain, cli, cli_args, columns, drift_json, execute, log_rows, migrate,
    query, say, state, until, up_to, wait_for,
)

NEWEST = bundled().releases.latest().version


def upgrade_bundled(dsn: str, to: str) -> None:
    defs = bundled()
    Upgrade(defs, Connections({s: dsn for s in defs.schemas})).run(to)


# -- session settings: each migration starts from pgferry's own (issue 13 §2, §9) ----------------


SEEN_SETTINGS = ("CREATE TABLE seen_settings AS SELECT current_setting('lock_timeout') AS lock_timeout, "
                 "current_setting('idle_in_transaction_session_timeout') AS idle, "
                 "current_setting('client_connection_check_interval') AS check_interval, "
                 "current_setting('search_path') AS search_path, current_setting('application_name') AS app, "
                 "current_setting('default_transaction_read_only') AS read_only, current_user::text AS who;\n")


@pytest.mark.parametrize("leak", [
    "SET lock_timeout = 0;\nSET idle_in_transaction_session_timeout = 0;",
    "RESET ALL;",
    "CREATE SCHEMA IF NOT EXISTS elsewhere;\nSELECT pg_catalog.set_config('search_path', 'elsewhere', false);",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;",
    "SET ROLE leaky_owner;",
], ids=["set", "reset-all", "search-path", "read-only", "role"])
def test_a_migration_does_not_change_the_session_of_the_next(database, small_copy, leak):
    """Whatever one migration SETs for its session ends with it: the next one (pipelined in the
    same session) sees pgferry's settings, and its table lands where it would in a run of its own."""
    chain(small_copy, leak + "\n", SEEN_SETTINGS)
    g = load(small_copy).schemas["aux"]
    execute(database, "CREATE ROLE leaky_owner")
    try:
        result, _ = migrate(database, g, up_to(g, g.leaves()), LOCKY)
        assert result.applied == [1, 2, 3, 4, 5]
        rows = query(database, "SELECT lock_timeout, idle, check_interval, search_path, app, read_only, who "
                               "FROM public.seen_settings")
        user = query(database, "SELECT current_user::text")[0][0]
        assert rows[0][:4] == ("500ms", "10s", "1s", '"$user", public')
        assert rows[0][4].startswith("pgferry ") and rows[0][5:] == ("off", user)
    finally:
        execute(database, "DROP ROLE IF EXISTS leaky_owner")


@pytest.mark.timeout(60)
def test_lock_timeout_set_to_zero_by_a_migration_still_bounds_the_next(database, small_copy, session):
    """Migration 4 turns the lock timeout off for its session; 5's ALTER behind an idle transaction
    must still time out and name the blocker rather than wait for ever."""
    chain(small_copy, "SET lock_timeout = 0;\n", "ALTER TABLE aux_jobs ADD COLUMN IF NOT EXISTS note text;\n")
    g = load(small_copy).schemas["aux"]
    migrate(database, g, up_to(g, [3]))
    blocker = session()
    blocker.execute("SELECT count(*) FROM aux_jobs").fetchone()  # AccessShareLock until it ends
    with pytest.raises(MigrationFailed) as info:
        migrate(database, g, up_to(g, g.leaves()), LOCKY)
    assert (info.value.failure.migration_id, info.value.failure.sqlstate) == (5, "55P03")
    assert f"pid {blocker.info.backend_pid}" in str(info.value) and "after 3 attempts" in str(info.value)
    assert state(database, "aux").applied == {1, 2, 3, 4}
    blocker.rollback()


def test_failure_row_is_written_after_a_migration_made_the_session_read_only(database, small_copy):
    chain(small_copy, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;\n",
          "CREATE TABLE after_read_only (id int);\nSELECT 1 / 0;\n")
    g = load(small_copy).schemas["aux"]
    with pytest.raises(MigrationFailed) as info:
        migrate(database, g, up_to(g, g.leaves()))
    assert (info.value.failure.migration_id, info.value.failure.sqlstate, info.value.failure.line) == (5, "22012", 2)
    assert [r[:3] for r in log_rows(database, "aux", "version", "success", "error_sqlstate") if r[0] >= 4] == [
        (4, True, None), (5, False, "22012")]
    assert set(state(database, "aux").failed) == {5}


# -- a stopped migrator (issue 13 §3) -------------------------------------------------------------


def idle_holder_of(dsn: str, table: str):
    """(pid, mode) of a pgferry session idle in a transaction with a granted lock on `table`."""
    rows = query(dsn, """
        SELECT a.pid, l.mode FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND l.granted
        WHERE a.application_name LIKE 'pgferry %%' AND a.state = 'idle in transaction'
          AND a.state_change < now() - interval '1 second'
          AND l.relation = to_regclass(%s)""", [table])
    return rows[0] if rows else None


def test_a_stopped_migrator_shows_in_status_and_loses_its_locks_after_the_idle_timeout(
        database, small_copy, spawn, capsys, request):
    # Migration 5 is pipelined behind 4: stopped while 4 sleeps, the process never sends 5's COMMIT
    # and the server sits on 5's ACCESS EXCLUSIVE lock, idle in transaction.
    chain(small_copy, "SELECT pg_sleep(2);\n", "ALTER TABLE aux_jobs ADD COLUMN IF NOT EXISTS note text;\n")
    proc, out = spawn("stopped", *cli_args("up", database, small_copy, "--schema", "aux",
                                           "--idle-in-transaction-timeout", "4"))
    wait_for("migration 4 to be sleeping", lambda: query(database, """
        SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(2)%%'
          AND application_name LIKE 'pgferry %%'"""))
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        pid, mode = wait_for("migration 5's lock held by an idle session", lambda: idle_holder_of(database, "aux_jobs"))
        assert mode == "AccessExclusiveLock"
        for command in ("status", "recover"):  # recover would otherwise say nothing runs
            assert main([command, "--dsn", database, "--migrations", str(small_copy)]) == 0
            shown = capsys.readouterr().out
            line = next(x for x in shown.splitlines() if x.startswith(f"! pid {pid} (pgferry "))
            assert re.search(r"is idle in transaction for \d+s holding .*aux_jobs \(AccessExclusiveLock\)", line), line
            assert "stopped or stalled" in shown
        t0 = time.monotonic()
        wait_for("the server to end the stopped session", lambda: not backend_alive(database, pid), timeout=60)
        say(request, f"\nstopped migrator's locks freed (idle timeout 4s): {time.monotonic() - t0:.2f}s")
        assert idle_holder_of(database, "aux_jobs") is None
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    assert proc.wait(timeout=60) != 0
    assert "run the same command again" in out.read_text(), out.read_text()
    s = state(database, "aux")
    assert s.applied == {1, 2, 3, 4} and not s.dirty
    assert "note" not in columns(database, "aux_jobs")


# -- bookkeeping in another schema, or none: never an empty database (issue 13) ---------------------


def _bookkeeping(dsn):
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM migration_logs), (SELECT count(*) FROM upgrade_runs), "
                            "(SELECT array_agg(nspname::text ORDER BY nspname) FROM pg_namespace "
                            " WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema')").fetchone()


def test_wrong_bookkeeping_schema_is_not_an_empty_database(capsys, newest_db):
    """The product installed with the default bookkeeping, then commands pointed at another schema:
    refused or said, never planned as an install over the tables, and nothing is created."""
    before = _bookkeeping(newest_db)
    execute(newest_db, "CREATE SCHEMA pgferry")  # an empty bookkeeping schema looks no different
    for schema in ("other", "pgferry"):
        flags = ["--dsn", newest_db, "--bookkeeping-schema", schema]
        for command in (["upgrade", "--to", NEWEST, "--yes", "--no-progress"], ["plan", "--to", NEWEST], ["status"],
                        ["up", "--no-progress"], ["up", "--dry-run"]):
            code, out, err = cli(capsys, *command, *flags)
            assert code == 5, (command, out, err)
            assert "it is not an empty database" in err and "hint: its migrations are recorded in another schema: " \
                   "pass --bookkeeping-schema public" in err, err
        code, data = drift_json(capsys, newest_db, "--bookkeeping-schema", schema)
        [report] = data["databases"]
        assert code == 5 and data["drift"] is True and report["unrecorded"]["elsewhere"] == ["public"]
        assert "repo" in report["unrecorded"]["tables"]
        code, out, _ = cli(capsys, "drift", *flags)
        assert code == 5 and "no drift" not in out and "hold the product with no migration recorded" in out
    assert _bookkeeping(newest_db) == (before[0], before[1], sorted(before[2] + ["pgferry"]))  # no 'other', no tables


def test_product_without_any_bookkeeping_is_refused(capsys, newest_db):
    """Installed by other means: no schema records it; the refusal names adoption."""
    execute(newest_db, "DROP TABLE migration_logs, upgrade_runs, out_of_band_migrations, out_of_band_migrations_errors")
    code, out, err = cli(capsys, "upgrade", "--to", NEWEST, "--dsn", newest_db, "--yes", "--no-progress")
    assert code == 5 and "pgferry adopt --release V" in err and "--bookkeeping-schema" not in err.split("hint:")[1]
    with psycopg.connect(newest_db) as conn:
        assert conn.execute("SELECT to_regclass('migration_logs')").fetchone() == (None,)
    code, data = drift_json(capsys, newest_db)
    assert code == 5 and data["databases"][0]["unrecorded"]["elsewhere"] == []


def test_views_compare_the_same_across_server_majors():
    """PostgreSQL 15 qualifies the columns of a single-relation view (`repo.id`), 16 and later do not."""
    on_15 = {"views": {"v": "SELECT u.id, u.finished_at AS done FROM lsif_uploads u WHERE u.state = 'x'::text "
                            "AND EXISTS (SELECT 1 FROM repo WHERE repo.id = u.repository_id);"}}
    on_18 = {"views": {"v": "SELECT id, finished_at AS done FROM lsif_uploads u WHERE state = 'x'::text "
                            "AND EXISTS (SELECT 1 FROM repo WHERE id = u.repository_id);"}}
    assert compare(on_18, on_15) == [] and compare(on_15, on_18) == []
    # qualifiers that tell relations apart are part of the definition
    join = "SELECT a.id FROM a JOIN b ON b.id = a.id;"
    [d] = compare({"views": {"v": join}}, {"views": {"v": join.replace("SELECT a.id", "SELECT b.id")}})
    assert (d.kind, d.object, d.problem) == ("view", "v", "different")
    [d] = compare(on_18, {"views": {"v": on_15["views"]["v"].replace("u.finished_at", "u.started_at")}})
    assert d.problem == "different" and d.fix == [f"CREATE OR REPLACE VIEW public.v AS {on_18['views']['v']}"]


# -- text from the server reaches the screen escaped ----------------------------------------------


def test_a_hostile_server_message_is_drawn_escaped(at_110, slow_product):
    """A RAISE message holding OSC 52 (write the clipboard): the screens show it escaped, never act on it."""
    up = slow_product / "main" / "15_events" / "up.sql"
    up.write_text("DO $$ BEGIN RAISE EXCEPTION E'boom \\x1b]52;c;aGk=\\x07 done'; END $$;\n")
    source = Source(migrations=str(slow_product), dsn=at_110)

    async def go():
        app = PgferryApp(source)
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.pause()
            app.start_run(make_plan(source.definitions(), source.connections(), "1.2.0"))
            await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.status == "failed",
                        what="the run to fail")
            await pilot.pause(1.5)  # the journal's last lines
            screen = app.screen
            shown = str(screen.query_one("#failure").render())
            assert "boom \\x1b]52;c;aGk=\\x07 done" in shown
            log = "\n".join(str(line.text) for line in screen.query_one("#log").lines)
            assert "\x1b" not in log
            svg = app.export_screenshot()
            assert "\x1b" not in svg and "\x07" not in svg and "\\x1b]52;c;aGk=" in svg
            await pilot.press("escape")  # the overview's banner quotes the run's error too
            await until(pilot, lambda: isinstance(app.screen, OverviewScreen) and app.screen.overview is not None
                        and app.screen.overview.status.dirty, what="the overview")
            banner = str(app.screen.query_one("#banner").render())
            assert "\\x1b]52;c;aGk=" in banner
            assert "\x1b" not in app.export_screenshot()

    asyncio.run(go())


# -- out-of-band migrations run once their release is reached ----------------------------------------


def test_oob_run_without_ids_runs_only_what_the_release_has_reached(database, capsys):
    upgrade_bundled(database, "3.21.0")  # only out-of-band 1 (repo stars) is live; 2, 3 and 4 come later
    execute(database, "INSERT INTO repo (name, uri, metadata) SELECT 'r' || g, 'r' || g, "
                      "jsonb_build_object('stargazerCount', g) FROM generate_series(1, 50) g")
    rc, _, err = cli(capsys, "oob", "run", "--dsn", database, "--no-progress")
    assert rc == 0, err
    for oid, introduced in ((2, "3.22.0"), (3, "3.28.0"), (4, "3.27.0")):
        assert f"out-of-band {oid}: skipped, not reached: introduced in {introduced}, the database is at 3.21.0" \
            in err, err
    assert "out-of-band 1: running" in err
    assert query(database, "SELECT count(*) FROM repo WHERE stars IS NULL") == [(0,)]
    assert query(database, "SELECT id FROM out_of_band_migrations ORDER BY id") == [(1,)]  # nothing else touched
    # named explicitly, one not reached yet: refused before anything runs
    rc, _, err = cli(capsys, "oob", "run", "1", "2", "--dsn", database, "--no-progress")
    assert rc == 2 and "out-of-band 2 cannot run here: not reached" in err
    assert "upgrade to 3.22.0 or later first" in err and "running" not in err

    upgrade_bundled(database, "3.26.0")  # past the deprecation of 1 and 2, both complete
    rc, _, err = cli(capsys, "oob", "run", "--dsn", database, "--no-progress")
    assert rc == 0, err
    assert "out-of-band 1: skipped, past its deprecation (3.24.0) and complete" in err
    assert "out-of-band 2: skipped, past its deprecation (3.26.0) and complete" in err
    assert "running" not in err


# -- the plan written to a file, in the format its extension says ---------------------------------


@pytest.mark.parametrize("name, fmt, starts", [
    ("plan.md", "markdown", "# Upgrade plan: empty → 1.2.0"),
    ("plan.sql", "sql", "-- pgferry plan: empty -> 1.2.0"),
    ("plan.json", "json", "{"),
    ("plan.txt", "text", "install empty → 1.2.0: 10 schema migration(s)"),
    ("plan", "text", "install empty → 1.2.0"),
], ids=["md", "sql", "json", "txt", "no-extension"])
def test_plan_out_takes_its_format_from_the_extension(capsys, database, long_named, tmp_path, name, fmt, starts):
    path = tmp_path / name
    rc, out, err = cli(capsys, "plan", "--to", "latest", "--dsn", database, "--migrations", str(long_named),
                       "--out", str(path))
    assert rc == 0, err
    assert out == "" and f"wrote {path} ({fmt})" in err
    text = path.read_text()
    assert text.startswith(starts) and LONG_NAME in text
    if fmt == "json":
        assert json.loads(text)["to"] == "1.2.0"
    # an explicit flag wins over the extension
    rc, _, err = cli(capsys, "plan", "--to", "latest", "--dsn", database, "--migrations", str(long_named),
                     "--sql", "--out", str(path))
    assert rc == 0 and path.read_text().startswith("-- pgferry plan") and f"({'sql'})" in err
