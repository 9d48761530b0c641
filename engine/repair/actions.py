"""A recovery action (docs/design.md §9) as prepared, with the exact SQL the operator confirms, and
its result once run and verified. `prepare.py` makes them; `perform.py` runs them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..definitions.definitions import Migration
from ..definitions.graph import Step
from .diagnosis import Diagnosis
from .kinds import ActionKind


@dataclass
class Action:
    kind: ActionKind
    target: str  # the migration id, or the index name
    database: str
    sql: str  # exactly what will run, shown before confirming
    confirm: str  # what the operator types to confirm
    schema: str | None = None
    migration: Migration | None = None
    dsn: str = field(default="", repr=False)
    statements: tuple[str, ...] = ()  # marks and repair: run verbatim, as shown
    step: Step | None = None
    stale_log_id: int | None = None
    operator: str | None = None
    forced: str | None = None  # the operator's reason for recording what the catalog does not show

    @property
    def title(self) -> str:
        if self.migration:
            return f"{self.kind} {self.schema} {self.migration.id} ({self.migration.name})"
        return f"{self.kind} {self.target}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "schema": self.schema, "id": self.migration.id if self.migration else None,
                "index": self.target if self.kind == ActionKind.REPAIR_INDEX else None, "database": self.database,
                "sql": self.sql, "confirmed_by": self.operator, "forced": self.forced}


@dataclass
class ActionResult:
    action: Action
    ok: bool
    message: str
    verified: bool = False
    verification: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    after: Diagnosis | None = None

    def as_dict(self) -> dict:
        return {**self.action.as_dict(), "ok": self.ok, "message": self.message,
                "verified": self.verified, "verification": self.verification,
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "finished_at": self.finished_at.isoformat() if self.finished_at else None}

