"""Creating the bookkeeping schema only when it is missing."""
from __future__ import annotations

import psycopg
from psycopg import sql


def ensure_schema(conn: psycopg.Connection, name: str) -> None:
    # CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database, which a low-privilege
    # role (managed PostgreSQL) usually lacks even when the schema is there already.
    if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name]).fetchone() is None:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
