"""Privileged steps someone else ran, held until the run reaches them (docs/design.md §7, §8).

A DBA runs the whole bundle at once, often steps of releases the database will only reach in a
later run. Recording those as applied in migration_logs at once would give the database an
applied set that matches no release on the way (and an upgrade to an earlier release would stop
as drift). So `privileged verify` records a *grant* here: which migration, which SQL (its
checksum), who confirmed it and how. The migrator, on reaching that migration, checks the effect
is still in the catalog and records it applied (manual, with who confirmed it) in one transaction
with marking the grant used: a crash leaves either both or neither, and the next run does the
same again. migration_logs keeps its meaning for every reader: a row there is an attempt.
"""
from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from .pgschema import BookkeepingTable, ensure_schema

TABLE = "privileged_grants"
COLUMNS = {
    "id": "bigserial PRIMARY KEY",
    "schema": "text NOT NULL",
    "version": "bigint NOT NULL",
    "up": "boolean NOT NULL",
    "sql_checksum": "text NOT NULL",
    "confirmed_by": "text NOT NULL",
    "granted_at": "timestamptz NOT NULL DEFAULT now()",
    # set in the transaction that writes the step's success row in migration_logs
    "applied_at": "timestamptz",
    "applied_log_id": "bigint",
}


@dataclass(frozen=True)
class Grant:
    id: int
    schema: str
    version: int
    up: bool
    sql_checksum: str
    confirmed_by: str


class GrantLog(BookkeepingTable):
    """The privileged_grants table of one database."""

    NAME = TABLE
    COLUMNS = COLUMNS

    def ensure(self) -> None:
        """Callers hold the bookkeeping lock (see locks.py), as for migration_logs."""
        if self.exists():
            return
        with self.conn.transaction():
            ensure_schema(self.conn, self.schema)
            cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in COLUMNS.items())
            self.conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(self.table, cols))

    def open(self, schema: str) -> list[Grant]:
        """Grants of `schema` no run has used yet, oldest first."""
        if not self.exists():
            return []
        rows = self.conn.execute(
            sql.SQL("SELECT id, schema, version, up, sql_checksum, confirmed_by FROM {} "
                    "WHERE schema = %s AND applied_at IS NULL ORDER BY id").format(self.table), [schema]).fetchall()
        return [Grant(*r) for r in rows]

    def hold(self, schema: str, version: int, up: bool, checksum: str, confirmed_by: str) -> bool:
        """Record a grant unless the same step and SQL already has an open one; whether it did."""
        with self.conn.transaction():
            row = self.conn.execute(
                sql.SQL("INSERT INTO {t} (schema, version, up, sql_checksum, confirmed_by) "
                        "SELECT %s, %s, %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE schema = %s "
                        "AND version = %s AND up = %s AND sql_checksum = %s AND applied_at IS NULL) RETURNING id"
                        ).format(t=self.table),
                [schema, version, up, checksum, confirmed_by, schema, version, up, checksum]).fetchone()
        return row is not None

    def mark_applied(self, grant: Grant, log_table: sql.Composable) -> None:
        """In the caller's transaction, right after the step's success row."""
        self.conn.execute(
            sql.SQL("UPDATE {} SET applied_at = now(), applied_log_id = (SELECT max(id) FROM {} WHERE schema = %s "
                    "AND version = %s AND success) WHERE id = %s").format(self.table, log_table),
            [grant.schema, grant.version, grant.id])
