"""Per-schema status of a database against the definitions (read-only)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from ..connection import Sessions, connect, describe_target, sessions_or_own
from ..definitions.catalog import DatabaseVersion, Definitions
from ..definitions.definitions import Migration
from ..definitions.releases import STABLE
from .bookkeeping import Attempt, MigrationLog, SchemaState
from .changed import ChangedMigration, changed_in

# A pgferry session inside a transaction, waiting for its client, with table locks granted: a
# migrator stopped (Ctrl-Z, a debugger) between pipelined statements and their COMMIT holds the
# next migration's locks, often ACCESS EXCLUSIVE, while the bookkeeping says nothing is running.
IDLE_HOLDERS_SQL = """
SELECT a.pid, a.application_name, a.state, extract(epoch FROM now() - a.state_change)::float8,
       coalesce(a.query, ''),
       array_agg(format('%s (%s)', l.relation::regclass, l.mode) ORDER BY l.relation::regclass::text, l.mode)
FROM pg_stat_activity a
JOIN pg_locks l ON l.pid = a.pid AND l.granted AND l.locktype = 'relation'
JOIN pg_class c ON c.oid = l.relation AND c.relkind <> 'i'  -- a table's indexes go with it
WHERE a.application_name LIKE 'pgferry %'
  AND a.state LIKE 'idle in transaction%'
  AND a.state_change < now() - interval '1 second'  -- not a running migrator between two messages
  AND a.datname = current_database() AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND a.pid <> pg_backend_pid()
GROUP BY a.pid, a.application_name, a.state, a.state_change, a.query
ORDER BY a.pid
"""


IDLE_HOLDER_HINT = ("its process is stopped or stalled: resume it (kill -CONT) or end it; the server ends the "
                    "session after pgferry's idle-in-transaction timeout, or at once with pg_terminate_backend(pid)")


@dataclass(frozen=True)
class IdleLockHolder:
    """A pgferry session idle inside a transaction while holding table locks."""

    database: str
    pid: int
    application: str
    state: str
    idle_seconds: float
    query: str  # its last statement
    locks: tuple[str, ...]  # "table (mode)"

    def describe(self) -> str:
        last = " ".join(self.query.split())
        last = last[:77] + "..." if len(last) > 80 else last
        return (f"pid {self.pid} ({self.application}) on {self.database} is {self.state} for "
                f"{self.idle_seconds:.0f}s holding {', '.join(self.locks)}; last statement: {last}")

    def as_dict(self) -> dict:
        return {"database": self.database, "pid": self.pid, "application": self.application, "state": self.state,
                "idle_seconds": round(self.idle_seconds, 1), "query": self.query, "locks": list(self.locks)}


def idle_lock_holders(conn, database: str) -> tuple[IdleLockHolder, ...]:
    return tuple(IdleLockHolder(database, pid, app, state, secs or 0.0, query, tuple(locks))
                 for pid, app, state, secs, query, locks in conn.execute(IDLE_HOLDERS_SQL).fetchall())


def idle_lock_holders_in(dsns: Iterable[str]) -> tuple[IdleLockHolder, ...]:
    """The idle lock holders of every distinct database of `dsns`."""
    out: list[IdleLockHolder] = []
    for dsn in dict.fromkeys(dsns):
        with connect(dsn, role="status") as conn:
            out += idle_lock_holders(conn, describe_target(dsn))
    return tuple(out)


@dataclass(frozen=True)
class SchemaStatus:
    name: str
    database: str
    version: str | None
    state: SchemaState
    pending: tuple[int, ...]
    unknown: tuple[int, ...] = ()  # applied ids the definitions do not know (a newer release ran here)
    settling: tuple[int, ...] = ()  # stale ids the next run settles by itself (cut-off index builds)
    changed: tuple[ChangedMigration, ...] = ()  # applied migrations whose up.sql changed since they ran

    @property
    def needs_recovery(self) -> bool:
        """Dirty in a way no run fixes: a failed attempt, or a stale one the runner does not settle."""
        return bool(self.state.failed) or bool(set(self.state.stale) - set(self.settling))

    @property
    def applied(self) -> tuple[int, ...]:
        return tuple(sorted(self.state.applied))

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "database": self.database,
            "version": self.version,
            "applied": list(self.applied),
            "pending": list(self.pending),
            "failed": sorted(self.state.failed),
            "in_progress": sorted(self.state.in_progress),
            "stale": sorted(self.state.stale),
            "unknown": list(self.unknown),
            "dirty": self.state.dirty,
            "errors": {str(v): _attempt_dict(a) for v, a in sorted(self.state.failed.items())},
            "changed": [c.as_dict() for c in self.changed],
        }


def _attempt_dict(a: Attempt) -> dict:
    return {
        "message": a.error_message,
        "sqlstate": a.error_sqlstate,
        "line": a.error_line,
        "at": a.finished_at.isoformat() if a.finished_at else None,
        "host": a.host,
        "pid": a.backend_pid,
    }


@dataclass(frozen=True)
class DatabaseStatus:
    schemas: tuple[SchemaStatus, ...]
    version: DatabaseVersion
    idle_lock_holders: tuple[IdleLockHolder, ...] = ()

    @property
    def dirty(self) -> bool:
        return any(s.state.dirty for s in self.schemas)

    @property
    def needs_recovery(self) -> bool:
        return any(s.needs_recovery for s in self.schemas)

    @property
    def changed(self) -> tuple[ChangedMigration, ...]:
        return tuple(c for s in self.schemas for c in s.changed)

    def as_dict(self) -> dict:
        return {
            "version": self.version.label,
            "release": self.version.release.version if self.version.release else None,
            "schemas": [s.as_dict() for s in self.schemas],
            "idle_lock_holders": [h.as_dict() for h in self.idle_lock_holders],
        }


def schema_version(defs: Definitions, schema: str, applied) -> str | None:
    graph = defs.schemas[schema]
    done = graph.normalize(applied)
    best = None
    for r in defs.releases.releases:
        if schema in r.leaves and defs.required(r, schema) <= done:
            best = r.version
    return best


def settled_by_next_run(m: Migration | None, a: Attempt, applied: bool) -> bool:
    """A cut-off index build the runner settles by itself when it reaches the migration again
    (docs/design.md §7.2): it records a valid index, rebuilds an invalid one, builds an absent one."""
    return m is not None and m.create_index_concurrently and a.up and a.success is None and not applied


def _schema_status(defs: Definitions, name: str, database: str, state: SchemaState, channel: str,
                   changed: tuple[ChangedMigration, ...]) -> SchemaStatus:
    graph = defs.schemas[name]
    pending = tuple(s.id for s in graph.up(state.applied, defs.heads_on(name, channel)))
    unknown = tuple(sorted(set(state.applied) - set(graph.migrations)))
    done = graph.normalize(state.applied)
    settling = tuple(sorted(v for v, a in state.stale.items()
                            if settled_by_next_run(graph.migrations.get(v), a, v in done)))
    return SchemaStatus(name, database, schema_version(defs, name, state.applied), state, pending, unknown, settling,
                        changed)


def read_status(defs: Definitions, dsns: Mapping[str, str], bookkeeping_schema: str = "public",
                schemas: list[str] | None = None, channel: str = STABLE, *,
                sessions: Sessions | None = None) -> DatabaseStatus:
    """Read every selected schema's state. Creates nothing and takes no lock. Pending counts towards
    the newest release of `channel`: an insiders preview is not pending for a stable deployment."""
    names = [defs.schema(name).name for name in schemas or defs.schemas]
    by_name: dict[str, SchemaStatus] = {}
    holders: list[IdleLockHolder] = []
    with sessions_or_own(sessions) as session:
        for dsn in dict.fromkeys(dsns[name] for name in names):  # a few round trips per database
            here = [name for name in names if dsns[name] == dsn]
            database = describe_target(dsn)
            holders += idle_lock_holders(session(dsn), database)
            log = MigrationLog(session(dsn), bookkeeping_schema)
            states = log.states(here)
            changed = changed_in(log, {n: (defs.schemas[n], states[n].applied) for n in here if states[n].tables_exist},
                                 database)
            for name in here:
                by_name[name] = _schema_status(defs, name, database, states[name], channel,
                                           tuple(c for c in changed if c.schema == name))
    out = tuple(by_name[name] for name in names)
    version = defs.version_of({s.name: s.state.applied for s in out})
    return DatabaseStatus(out, version, idle_lock_holders=tuple(holders))
