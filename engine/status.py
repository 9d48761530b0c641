"""Per-schema status of a database against the definitions (read-only)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .bookkeeping import Attempt, MigrationLog, SchemaState
from .catalog import DatabaseVersion, Definitions
from .connection import connect, describe_target
from .releases import STABLE
from .recovery import settled_by_next_run


@dataclass(frozen=True)
class SchemaStatus:
    name: str
    database: str
    version: str | None
    state: SchemaState
    pending: tuple[int, ...]
    unknown: tuple[int, ...] = ()  # applied ids the definitions do not know (a newer release ran here)
    settling: tuple[int, ...] = ()  # stale ids the next run settles by itself (cut-off index builds)

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
    out_of_band: tuple = field(default=())

    @property
    def dirty(self) -> bool:
        return any(s.state.dirty for s in self.schemas)

    @property
    def needs_recovery(self) -> bool:
        return any(s.needs_recovery for s in self.schemas)

    def as_dict(self) -> dict:
        return {
            "version": self.version.label,
            "release": self.version.release.version if self.version.release else None,
            "schemas": [s.as_dict() for s in self.schemas],
            "out_of_band": list(self.out_of_band),
        }


def schema_version(defs: Definitions, schema: str, applied) -> str | None:
    graph = defs.schemas[schema]
    done = graph.normalize(applied)
    best = None
    for r in defs.releases.releases:
        if schema in r.leaves and defs.required(r, schema) <= done:
            best = r.version
    return best


def read_status(defs: Definitions, dsns: Mapping[str, str], bookkeeping_schema: str = "public",
                schemas: list[str] | None = None, channel: str = STABLE) -> DatabaseStatus:
    """Read every selected schema's state. Creates nothing and takes no lock. Pending counts towards
    the newest release of `channel`: an insiders preview is not pending for a stable deployment."""
    out: list[SchemaStatus] = []
    conns: dict[str, object] = {}
    try:
        for name in schemas or list(defs.schemas):
            graph = defs.schema(name)
            dsn = dsns[name]
            if dsn not in conns:
                conns[dsn] = connect(dsn, role="status")
            log = MigrationLog(conns[dsn], bookkeeping_schema)
            state = log.state(name)
            pending = tuple(s.id for s in graph.up(state.applied, defs.heads_on(name, channel)))
            unknown = tuple(sorted(set(state.applied) - set(graph.migrations)))
            done = graph.normalize(state.applied)
            settling = tuple(sorted(v for v, a in state.stale.items()
                                    if settled_by_next_run(graph.migrations.get(v), a, v in done)))
            out.append(SchemaStatus(name, describe_target(dsn), schema_version(defs, name, state.applied), state,
                                    pending, unknown, settling))
    finally:
        for c in conns.values():
            c.close()
    version = defs.version_of({s.name: s.state.applied for s in out})
    return DatabaseStatus(tuple(out), version)
