"""Collation version changes (the 3.30 incident): which indexes a libc or ICU upgrade may have
corrupted, the plan's steps that rebuild them, and what pgferry records once they are sound.

A collation is *flagged* when the version its library provides now differs from the one pgferry
last trusted (engine/bookkeeping/collations.py), or from the one the server recorded
(pg_collation.collversion, pg_database.datcollversion from PostgreSQL 15 on) unless pgferry has
since reindexed or an operator acknowledged that very version. Every index with a key column or
expression in a flagged collation (indcollation; 100 is the database default) is *affected*.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import psycopg
from psycopg import sql

from ..bookkeeping.collations import CollationLog, Trusted, Version
from ..connection import connect
from ..errors import PgferryError
from ..events import CollationRefreshSkipped, EventSink, IndexRebuilt
from ..plan.planner import Plan
from ..plan.reindex import Reindex

DEFAULT_COLLATION = 100  # pg_collation's "default": the database's own

PROVIDER = "CASE {} WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'default' END"
DATABASE_SQL = """
SELECT 'database', datname, """ + PROVIDER.format("datlocprovider") + """,
       datcollversion, pg_database_collation_actual_version(oid), NULL::oid
FROM pg_database WHERE datname = current_database()"""
# The collations (other than the default) that an index outside the system catalogs uses.
IN_USE_SQL = """
SELECT DISTINCT 'collation', format('%I.%I', n.nspname, c.collname), """ + PROVIDER.format("c.collprovider") + """,
       c.collversion, pg_collation_actual_version(c.oid), c.oid
FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_namespace xn ON xn.oid = x.relnamespace
CROSS JOIN LATERAL unnest(i.indcollation::oid[]) AS k(coll)
JOIN pg_collation c ON c.oid = k.coll JOIN pg_namespace n ON n.oid = c.collnamespace
WHERE c.oid <> 100 AND xn.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
ORDER BY 2"""
# Run with parameters: its %% are format()'s.
AFFECTED_SQL = """
SELECT format('%%I.%%I', n.nspname, c.relname), format('%%I.%%I', tn.nspname, t.relname), pg_relation_size(c.oid),
       am.amname, array(SELECT DISTINCT k.coll FROM unnest(i.indcollation::oid[]) AS k(coll)
                        WHERE k.coll = ANY(%(colls)s) ORDER BY 1)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace JOIN pg_am am ON am.oid = c.relam
WHERE c.relpersistence <> 't' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND i.indisvalid  -- an invalid one (an interrupted build) belongs to the invalid-indexes check
  AND i.indcollation::oid[] && %(colls)s::oid[]
ORDER BY 1"""


@dataclass(frozen=True)
class Flagged:
    version: Version
    why: str

    def describe(self) -> str:
        what = "database default" if self.version.kind == "database" else "collation"
        return f"{what} {self.version.name} ({self.version.provider}): {self.why}"


@dataclass(frozen=True)
class Affected:
    index: str
    table: str
    size: int
    method: str
    collations: tuple[str, ...]


@dataclass(frozen=True)
class CollationState:
    """One database's collations in use, what pgferry trusted, and what is flagged."""

    database: str
    versions: tuple[Version, ...]
    flagged: tuple[Flagged, ...]
    affected: tuple[Affected, ...]

    @property
    def sound(self) -> bool:
        return not self.flagged

    def as_dict(self) -> dict:
        return {"database": self.database,
                "versions": [{"kind": v.kind, "name": v.name, "provider": v.provider, "catalog_version": v.catalog_version,
                              "actual_version": v.actual_version} for v in self.versions],
                "flagged": [{"kind": f.version.kind, "name": f.version.name, "why": f.why} for f in self.flagged],
                "affected": [r.as_dict() for r in self.reindex()]}

    def reindex(self) -> tuple[Reindex, ...]:
        return tuple(Reindex(self.database, a.index, a.table, a.size, a.collations) for a in self.affected)


def why_flagged(v: Version, trusted: Trusted | None) -> str | None:
    if v.actual_version is None:
        return None  # C, POSIX: unversioned, never changes
    if trusted is not None and trusted.actual_version != v.actual_version:
        return f"version {trusted.actual_version} ({trusted.describe()}), the library now provides {v.actual_version}"
    vouched = trusted is not None and trusted.basis != "observed"  # reindexed or acknowledged at this version
    if v.catalog_version and v.catalog_version != v.actual_version and not vouched:
        return f"the server recorded version {v.catalog_version}, the library now provides {v.actual_version}"
    return None


def read_versions(conn: psycopg.Connection) -> list[Version]:
    # datcollversion and its actual-version function exist from PostgreSQL 15 on.
    rows = conn.execute(DATABASE_SQL).fetchall() if conn.info.server_version >= 150000 else []
    return [Version(*r) for r in rows + conn.execute(IN_USE_SQL).fetchall()]


def read_state(conn: psycopg.Connection, bookkeeping_schema: str) -> CollationState:
    """Read-only: the versions, pgferry's record, and the affected indexes with their sizes."""
    database = conn.execute("SELECT current_database()").fetchone()[0]
    versions = read_versions(conn)
    trusted = CollationLog(conn, bookkeeping_schema).trusted()
    flagged = [Flagged(v, why) for v in versions if (why := why_flagged(v, trusted.get(v.key)))]
    oids = {DEFAULT_COLLATION if f.version.kind == "database" else f.version.oid: f.version.name for f in flagged}
    rows = conn.execute(AFFECTED_SQL, {"colls": list(oids)}).fetchall() if oids else []
    affected = [Affected(i, t, size, am, tuple(oids[c] for c in colls)) for i, t, size, am, colls in rows]
    return CollationState(database, tuple(versions), tuple(flagged), tuple(affected))


def with_collation_repairs(plan: Plan, dsns: list[str], bookkeeping_schema: str) -> Plan:
    """The plan with a REINDEX INDEX CONCURRENTLY step for each affected index, before its schema steps."""
    steps: list[Reindex] = []
    for dsn in dsns:
        with connect(dsn, role="status") as conn:
            steps += read_state(conn, bookkeeping_schema).reindex()
    return replace(plan, reindex=tuple(steps)) if steps else plan


# -- after the rebuild: refresh the server's record, and pgferry's ------------------------------

def refresh_statement(f: Flagged) -> sql.Composed:
    """Names come from the server's format('%I.%I'): already quoted identifiers."""
    if f.version.kind == "database":
        return sql.SQL("ALTER DATABASE {} REFRESH COLLATION VERSION").format(sql.Identifier(f.version.name))
    return sql.SQL("ALTER COLLATION {} REFRESH VERSION").format(sql.SQL(f.version.name))


class RebuildFailed(PgferryError):
    pass


def rebuild(conn: psycopg.Connection, step: Reindex, on_event: EventSink) -> None:
    start = time.monotonic()
    try:
        conn.execute(sql.SQL(step.sql))
    except psycopg.Error as exc:
        raise RebuildFailed(
            f"{step.sql} failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}. "
            "The schema steps did not start.",
            hint="rebuild it as the table's owner (an interrupted build leaves an invalid *_ccnew index to drop), "
                 "or check it (preflight --amcheck) and `pgferry collations --acknowledge`; then run again") from exc
    on_event(IndexRebuilt(step.database, step.index, step.table, time.monotonic() - start))


def settle(conn: psycopg.Connection, steps: list[Reindex], bookkeeping_schema: str, on_event: EventSink) -> None:
    """Rebuild `steps` (this database's), then, when that leaves nothing flagged, refresh the
    server's version record where this role may (the owner of the database or collation) and
    record the versions as reindexed."""
    for step in steps:
        rebuild(conn, step, on_event)
    state = read_state(conn, bookkeeping_schema)
    if {a.index for a in state.affected} - {s.index for s in steps}:
        return  # changed again since the plan: the next run plans the rest
    for f in state.flagged:
        statement = refresh_statement(f)
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            on_event(CollationRefreshSkipped(statement.as_string(conn)))
    log = CollationLog(conn, bookkeeping_schema)
    log.ensure()
    log.record([f.version for f in state.flagged], "reindexed")


def settle_collations(plan: Plan, dsns: list[str], bookkeeping_schema: str, on_event: EventSink) -> None:
    """At the start of every run: rebuild the plan's affected indexes, then record the versions in
    use when none is flagged (a flagged one stays flagged until rebuilt or acknowledged)."""
    for dsn in dsns:
        with connect(dsn, role="upgrade") as conn:
            database = conn.execute("SELECT current_database()").fetchone()[0]
            steps = [r for r in plan.reindex if r.database == database]
            if steps:
                settle(conn, steps, bookkeeping_schema, on_event)
            state = read_state(conn, bookkeeping_schema)
            if state.sound:
                log = CollationLog(conn, bookkeeping_schema)
                log.ensure()
                log.record(state.versions, "observed")


def acknowledge(dsn: str, bookkeeping_schema: str, operator: str | None = None) -> CollationState:
    """The operator vouches for the indexes on the flagged collations (checked them, or rebuilt them
    by other means): record those versions with who and when, so they are not flagged again."""
    with connect(dsn, role="upgrade") as conn:
        state = read_state(conn, bookkeeping_schema)
        if state.flagged:
            log = CollationLog(conn, bookkeeping_schema)
            log.ensure()
            log.record([f.version for f in state.flagged], "acknowledged", operator)
    return state
