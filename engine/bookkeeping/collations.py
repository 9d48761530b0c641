"""collation_versions: the collation provider versions pgferry has trusted in each database.

An OS or libc (or ICU) upgrade under the server changes how text sorts, and every index built
with the old order is silently corrupt. The server records a version per collation (and, from
PostgreSQL 15 on, for the database default), but an operator's `REFRESH VERSION` clears that
record without rebuilding anything. So pgferry keeps its own: each row is a version it trusted
and why, `observed` at a run that found nothing amiss, `reindexed` after rebuilding the indexes
that use it, or `acknowledged` by an operator (who, when). The newest row per collation is the
one later runs compare with.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from psycopg import sql

from .pgschema import BookkeepingTable
from .runs import operator_name

TABLE = "collation_versions"
# Column name -> type, in creation order; a table made by an older pgferry gains new ones.
COLUMNS = {
    "id": "bigserial PRIMARY KEY",
    "recorded_at": "timestamptz NOT NULL DEFAULT now()",
    "last_seen_at": "timestamptz NOT NULL DEFAULT now()",  # the latest run that found this version
    "kind": "text NOT NULL",  # 'database' (its default collation) or 'collation'
    "name": "text NOT NULL",
    "provider": "text",
    "catalog_version": "text",  # what the server recorded (pg_collation/pg_database)
    "actual_version": "text NOT NULL",  # what the library provides now
    "basis": "text NOT NULL",  # observed | reindexed | acknowledged
    "operator": "text",
    "host": "text",
}
BASES = ("observed", "reindexed", "acknowledged")


@dataclass(frozen=True)
class Version:
    """One collation's versions as the server reports them now."""

    kind: str
    name: str
    provider: str
    catalog_version: str | None
    actual_version: str | None
    oid: int | None = None  # pg_collation oid; None for the database default

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.name


@dataclass(frozen=True)
class Trusted:
    """The newest recorded row of one collation."""

    kind: str
    name: str
    actual_version: str
    basis: str
    operator: str | None
    recorded_at: datetime

    def describe(self) -> str:
        who = f" by {self.operator}" if self.operator and self.basis != "observed" else ""
        return f"{self.basis}{who} on {self.recorded_at:%Y-%m-%d %H:%M}"


class CollationLog(BookkeepingTable):
    """The collation_versions table of one database."""

    NAME = TABLE
    COLUMNS = COLUMNS

    def trusted(self) -> dict[tuple[str, str], Trusted]:
        """The newest row per collation (none before pgferry first recorded anything)."""
        if not self.exists():
            return {}
        rows = self.conn.execute(sql.SQL(
            "SELECT DISTINCT ON (kind, name) kind, name, actual_version, basis, operator, recorded_at "
            "FROM {} ORDER BY kind, name, id DESC").format(self.table)).fetchall()
        return {(r[0], r[1]): Trusted(*r) for r in rows}

    def record(self, versions: Iterable[Version], basis: str, operator: str | None = None) -> int:
        """A row for each version unless the newest row already says the same (then only its
        last_seen_at moves on): one row per change, however many runs see it. How many were new."""
        assert basis in BASES
        who = operator or operator_name()
        trusted = self.trusted()
        added = 0
        with self.conn.transaction():
            for v in versions:
                if v.actual_version is None:
                    continue  # an unversioned collation (C, POSIX) never changes order
                t = trusted.get(v.key)
                if t is not None and t.actual_version == v.actual_version and (basis == "observed" or t.basis == basis):
                    self.conn.execute(sql.SQL("UPDATE {} SET last_seen_at = now() WHERE id = (SELECT max(id) FROM {} "
                                              "WHERE kind = %s AND name = %s)").format(self.table, self.table),
                                      [v.kind, v.name])
                    continue
                self.conn.execute(sql.SQL(
                    "INSERT INTO {} (kind, name, provider, catalog_version, actual_version, basis, operator, host) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)").format(self.table),
                    [v.kind, v.name, v.provider, v.catalog_version, v.actual_version, basis, who, socket.gethostname()])
                added += 1
        return added
