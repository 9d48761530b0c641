"""engine/bookkeeping/changed.py: what a run records of the SQL it ran, and how a later edit of the
file is told cosmetic or real (issue 15 §1); the command line's view is tests/cli/test_changed.py."""
from __future__ import annotations

import pytest

from pgferry.engine.bookkeeping.changed import (CHANGED, COSMETIC, ChangedMigration, find_changed, pick_accepted,
                                                record_accepted)
from pgferry.engine.definitions.catalog import load
from pgferry.engine.definitions.sqlfile import token_checksum
from pgferry.engine.errors import UsageError
from pgferry.tui.cli import main
from tests.support import execute, query

BASE = "CREATE TABLE t (id int PRIMARY KEY, name text DEFAULT 'x');"


@pytest.mark.parametrize("same", [
    "create table t (id INT primary key, name text default 'x');",  # keyword case
    "-- why\nCREATE TABLE t (\n    id int PRIMARY KEY, /* the key */\n    name text DEFAULT 'x'\n) ;\n",
])
def test_layout_comments_and_keyword_case_keep_the_token_checksum(same):
    assert token_checksum(same) == token_checksum(BASE)


@pytest.mark.parametrize("other", [
    BASE.replace("'x'", "'y'"),  # a literal
    BASE.replace("name", "title"),  # an identifier
    BASE.replace("t (", '"T" ('),  # a quoted identifier is not folded
    BASE + " ALTER TABLE t ADD COLUMN z int;",  # a statement
])
def test_anything_postgresql_reads_differently_changes_it(other):
    assert token_checksum(other) != token_checksum(BASE)


def test_a_function_body_is_compared_as_written():
    """Its text is what the server stores (prosrc): a comment in it is part of the function."""
    assert token_checksum("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1\n$$;") != \
        token_checksum("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 -- one\n$$;")


def change(schema: str, version: int) -> ChangedMigration:
    return ChangedMigration(schema, "db", version, "m", f"{schema}/{version}/up.sql", CHANGED, "c", "t")


def test_accept_changed_names_an_id_or_schema_and_id():
    changes = (change("main", 2), change("aux", 2), change("main", 5))
    notes = []
    assert pick_accepted(changes, ["5", "aux:2", "7"], notes.append) == (changes[2], changes[1])
    assert notes == ["--accept-changed 7: no applied migration of that id has changed: nothing to accept"]
    with pytest.raises(UsageError, match="2 schemas have a changed migration 2") as exc:
        pick_accepted(changes, ["2"], notes.append)
    assert "--accept-changed main:2, --accept-changed aux:2" in exc.value.hint


def test_a_run_of_an_older_pgferry_cannot_tell_cosmetic_from_real_until_accepted(database, small_copy):
    assert main(["upgrade", "--to", "1.1.0", "--yes", "--no-progress", "--dsn", database,
                 "--migrations", str(small_copy)]) == 0
    # every row of SQL that ran records its token checksum: pipelined, CIC, privileged alike
    assert query(database, "SELECT count(*) FROM migration_logs WHERE success AND NOT backfilled AND "
                           "sql_token_checksum IS NULL") == [(0,)]
    execute(database, "ALTER TABLE migration_logs DROP COLUMN sql_token_checksum")  # as an older pgferry left it
    up = small_copy / "main" / "11_users_bio" / "up.sql"
    up.write_text("-- a comment only\n" + up.read_text())
    defs = load(small_copy)
    dsns = {name: database for name in defs.schemas}
    (found,) = find_changed(defs, dsns)
    assert (found.schema, found.id, found.kind, found.comparable) == ("main", 11, CHANGED, False)
    assert "a cosmetic change cannot be told from a real one" in found.describe()

    record_accepted(defs, dsns, [found], "bob", "reformatted")
    assert find_changed(defs, dsns) == ()
    up.write_text(up.read_text() + "\n\n-- and another\n")  # the accepted row has a token checksum
    (found,) = find_changed(load(small_copy), dsns)
    assert (found.kind, found.comparable, found.blocks) == (COSMETIC, True, False)
