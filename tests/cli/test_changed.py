"""Applied migrations edited afterwards (issue 15 §1): listed by status, refused by every run (exit 5)
until the file is restored or its new text accepted with who and why; a cosmetic edit only reported."""
from __future__ import annotations

import json

import pytest

from tests.support import applied_ids, cli, query

ADDED = "ALTER TABLE users ADD COLUMN nickname text;\n"
FILE = "migrations/main/11_users_bio/up.sql"  # as findings name files: from the definitions folder's parent
LOG = "SELECT id, schema, version, up, success, sql_checksum FROM migration_logs ORDER BY id"


@pytest.fixture
def at_110(capsys, database, small_copy):
    """The small product at 1.1.0 (main 11 users_bio applied), and the flags to reach it."""
    flags = ["--dsn", database, "--migrations", str(small_copy)]
    rc, _, err = cli(capsys, "upgrade", "--to", "1.1.0", "--yes", "--no-progress", *flags)
    assert rc == 0, err
    return database, small_copy, flags


def users_bio(small_copy):
    return small_copy / "main" / "11_users_bio" / "up.sql"


def changed_of(capsys, flags) -> dict:
    rc, out, err = cli(capsys, "status", "--json", *flags)
    assert rc == 0, err
    return {s["name"]: s["changed"] for s in json.loads(out)["schemas"]}


def test_an_edited_applied_migration_is_listed_and_every_run_refuses_it(capsys, at_110):
    database, small_copy, flags = at_110
    path = users_bio(small_copy)
    path.write_text(path.read_text() + ADDED)
    assert changed_of(capsys, flags) == {"main": [{"id": 11, "name": "users bio (left of the diamond)", "file": FILE,
                                                   "kind": "changed", "comparable": True}], "aux": []}
    rc, out, _ = cli(capsys, "status", *flags)
    assert rc == 0 and "changed since applied: 11" in out and f"main 11 (users bio (left of the diamond)): {FILE}" in out
    rc, out, _ = cli(capsys, "plan", "--to", "1.2.0", "--json", *flags)
    assert rc == 0 and any("main 11 (users bio (left of the diamond))" in w and "--accept-changed 11" in w for w in json.loads(out)["warnings"])

    log, columns = query(database, LOG), query(database, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass")
    runs = (("upgrade", "--to", "1.2.0", "--yes"), ("up",), ("upto", "--schema", "main", "--target", "16"),
            ("downgrade", "--to", "1.0.0", "--yes"), ("downto", "--schema", "main", "--target", "10", "--yes"))
    for argv in runs:
        rc, _, err = cli(capsys, *argv, "--no-progress", *flags)
        assert rc == 5, (argv, err)
        assert f"main 11 (users bio (left of the diamond)): {FILE} changed since it was applied" in err, argv
        assert "Nothing was changed" in err and "--accept-changed 11 --reason TEXT" in err, argv
    assert query(database, LOG) == log  # no row written, none run
    assert query(database, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass") == columns
    assert applied_ids(database, "main") == {1, 2, 3, 10, 11, 12, 13}


def test_a_cosmetic_edit_is_reported_as_such_and_stops_nothing(capsys, at_110):
    database, small_copy, flags = at_110
    path = users_bio(small_copy)
    path.write_text("-- profiles get a bio\nalter table users\n    ADD COLUMN IF NOT EXISTS bio text NOT NULL "
                    "DEFAULT '' /* empty */ ;\n")
    assert [c["kind"] for c in changed_of(capsys, flags)["main"]] == ["cosmetic"]
    rc, out, _ = cli(capsys, "status", *flags)
    assert "in whitespace, comments or keyword case only" in out and "changed since applied" not in out
    rc, _, err = cli(capsys, "upgrade", "--to", "1.2.0", "--yes", "--no-progress", *flags)
    assert rc == 0, err
    assert "note: main 11 (users bio (left of the diamond))" in err and "cosmetic" in err
    assert 16 in applied_ids(database, "main")


def test_a_changed_literal_is_a_change(capsys, at_110):
    _, small_copy, flags = at_110
    path = users_bio(small_copy)
    path.write_text(path.read_text().replace("DEFAULT ''", "DEFAULT 'none'"))
    assert [c["kind"] for c in changed_of(capsys, flags)["main"]] == ["changed"]


def test_accepting_the_new_text_records_who_and_why_and_quiets_later_runs(capsys, monkeypatch, at_110):
    database, small_copy, flags = at_110
    path = users_bio(small_copy)
    path.write_text(path.read_text() + ADDED)
    before = query(database, LOG)
    # headless, a reason is required; an id of no change is only noted; a malformed one is refused
    rc, _, err = cli(capsys, "upgrade", "--to", "1.2.0", "--yes", "--accept-changed", "11", *flags)
    assert rc == 2 and "--reason" in err
    rc, _, err = cli(capsys, "upgrade", "--to", "1.2.0", "--yes", "--accept-changed", "12", "--reason", "x", *flags)
    assert rc == 5 and "--accept-changed 12: no applied migration of that id has changed" in err
    rc, _, err = cli(capsys, "up", "--accept-changed", "main:eleven", "--reason", "x", *flags)
    assert rc == 2 and "SCHEMA:ID" in err
    assert query(database, LOG) == before

    monkeypatch.setenv("PGFERRY_OPERATOR", "alice")
    rc, _, err = cli(capsys, "upgrade", "--to", "1.2.0", "--yes", "--no-progress", "--accept-changed", "main:11",
                     "--reason", "nickname added by hand during the outage", *flags)
    assert rc == 0, err
    assert "accepted main 11 (users bio (left of the diamond)) as it is now, by alice" in err
    rows = query(database, "SELECT manual, confirmed_by, error_message, sql_checksum, sql_token_checksum IS NOT NULL "
                           "FROM migration_logs WHERE schema = 'main' AND version = 11 AND success ORDER BY id DESC LIMIT 1")
    from pgferry.engine.definitions.catalog import load

    new = load(small_copy).schemas["main"].migrations[11].up.checksum
    assert rows == [(True, "alice", "changed definition accepted: nickname added by hand during the outage", new, True)]
    assert 16 in applied_ids(database, "main")
    # accepting records the text as applied: it does not run it
    assert query(database, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass "
                           "AND attname = 'nickname'") == [(0,)]
    assert changed_of(capsys, flags) == {"main": [], "aux": []}
    rc, _, err = cli(capsys, "up", "--no-progress", *flags)
    assert rc == 0 and "note:" not in err, err
