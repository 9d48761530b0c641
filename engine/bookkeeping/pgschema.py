"""Creating the bookkeeping schema and tables only when they are missing, and extending a table an
older pgferry made with the columns added since."""
from __future__ import annotations

from typing import Mapping

import psycopg
from psycopg import sql

from ..locks import AdvisoryLock, lock_key


def ensure_schema(conn: psycopg.Connection, name: str) -> None:
    # CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database, which a low-privilege
    # role (managed PostgreSQL) usually lacks even when the schema is there already.
    if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name]).fetchone() is None:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))


def table_exists(conn: psycopg.Connection, table: sql.Identifier) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", [table.as_string(conn)]).fetchone()[0]


def missing_columns(conn: psycopg.Connection, table: sql.Identifier, columns: Mapping[str, str]) -> list[str]:
    have = {r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
        [table.as_string(conn)])}
    return [c for c in columns if c not in have]


def ensure_table(conn: psycopg.Connection, schema: str, table: sql.Identifier, columns: Mapping[str, str]) -> None:
    """Create `table` with `columns` (name -> type, in creation order), or add the ones it lacks,
    under the bookkeeping lock so two first runs do not race."""
    if table_exists(conn, table) and not missing_columns(conn, table, columns):
        return
    with AdvisoryLock(conn, lock_key(schema, "bookkeeping"), "bookkeeping"), conn.transaction():
        ensure_schema(conn, schema)
        cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns.items())
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(table, cols))
        for c in missing_columns(conn, table, columns):  # a table made by an older pgferry gains the new columns
            conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                table, sql.Identifier(c), sql.SQL(columns[c])))


class BookkeepingTable:
    """One of pgferry's tables in one database, in the bookkeeping schema: NAME and COLUMNS say which."""

    NAME: str
    COLUMNS: Mapping[str, str]

    def __init__(self, conn: psycopg.Connection, schema: str = "public"):
        self.conn = conn
        self.schema = schema
        self.table = sql.Identifier(schema, self.NAME)

    def exists(self) -> bool:
        return table_exists(self.conn, self.table)

    def missing_columns(self) -> list[str]:
        return missing_columns(self.conn, self.table, self.COLUMNS)

    def ensure(self) -> None:
        ensure_table(self.conn, self.schema, self.table, self.COLUMNS)
