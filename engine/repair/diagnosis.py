"""What a diagnosis says (docs/design.md §9): the open attempts and invalid indexes found, what each
left in the catalog, and the fix the evidence points to. Plain values, read by `recovery.diagnose`
and rendered by the command line and the UI (the JSON form is `as_dict`)."""
from __future__ import annotations

from dataclasses import dataclass

from ..bookkeeping.bookkeeping import Attempt
from ..bookkeeping.status import settled_by_next_run
from ..definitions.definitions import Migration
from ..safetext import printable
from .kinds import ActionKind, EffectKind, ProblemKind

DUPLICATES_TIMEOUT_MS = 2000  # the duplicate-key check of a unique index: a bound, not a scan of hours
DUPLICATES_MAX_BYTES = 1 << 30  # a table larger than this is not even tried: it cannot be grouped within the bound
DUPLICATES_SHOWN = 5
INVALID = "INVALID"  # an Effect's detail: the index is there, invalid, and nobody is building it


@dataclass(frozen=True)
class Effect:
    """One object a migration's up.sql creates, and whether the catalog has it now."""

    kind: EffectKind
    name: str
    present: bool
    line: int  # where up.sql creates it
    detail: str | None = None  # e.g. INVALID, "being built by pid 123"

    @property
    def complete(self) -> bool:
        """There and usable: an INVALID index, one still being built or a column without its table is not."""
        return self.present and self.detail is None

    def describe(self) -> str:
        return f"{self.kind} {self.name} {'present' if self.present else 'absent'}" + \
            (f" ({self.detail})" if self.detail else "")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "present": self.present, "line": self.line,
                "detail": self.detail}


def listed(effects, most: int = 3) -> str:
    """A few effects described, and how many more: a reason stays readable beside a footer."""
    shown = ", ".join(e.describe() for e in effects[:most])
    return shown + (f" and {len(effects) - most} more" if len(effects) > most else "")



@dataclass(frozen=True)
class Duplicates:
    """Keys an invalid unique index cannot hold: why REINDEX (or a rebuild) would fail again."""

    table: str
    query: str  # lists them; for the operator to run
    examples: tuple[str, ...] = ()  # "(queued) ×2": the most repeated keys
    checked: bool = True  # False: the check ran out of its time bound, duplicates are possible

    @property
    def found(self) -> bool:
        return bool(self.examples)

    def explain(self, index: str) -> str:
        if not self.checked:
            return f"{index} is a unique index and {self._unchecked('a rebuild')}; find them with: {self.query}"
        return (f"{self.table} holds duplicate keys for the unique index {index} ({self._keys()}): a rebuild would "
                f"fail again. Resolve them first (delete or merge the extra rows); they are listed by: {self.query}")

    def advice(self, what: str) -> str:
        """Why the fix building `what` (a drift difference's unique index or constraint) may fail."""
        if not self.checked:
            return f"{self._unchecked(f'building {what}')}; the query below lists them"
        return (f"{self.table} holds duplicate keys for {what} ({self._keys()}): building it would fail. Resolve "
                "them first (delete or merge the extra rows), as the query below lists them; then run the fix")

    def _keys(self) -> str:
        return ", ".join(self.examples) + (", …" if len(self.examples) >= DUPLICATES_SHOWN else "")

    def _unchecked(self, work: str) -> str:
        return (f"{self.table} is too large to check for duplicate keys within {DUPLICATES_TIMEOUT_MS // 1000}s: "
                f"{work} fails if there are any")

    def as_dict(self) -> dict:
        return {"table": self.table, "query": self.query, "examples": list(self.examples), "checked": self.checked}


@dataclass(frozen=True)
class Recommendation:
    """The one fix the evidence points to (`action` None: none works yet, `evidence` says why)."""

    action: ActionKind | None  # never repair-index: that one is for an InvalidIndex
    evidence: str

    def as_dict(self) -> dict:
        return {"action": self.action, "evidence": self.evidence}


@dataclass(frozen=True)
class ExcerptLine:
    number: int | None  # None: a line of the recorded statement, whose place in today's file is unknown
    text: str
    marked: bool  # the failing line (or the statement that was running)


@dataclass(frozen=True)
class Problem:
    """A failed or stale attempt (dirty), or one in progress by a live backend (shown, not actionable)."""

    kind: ProblemKind
    schema: str
    database: str
    attempt: Attempt
    migration: Migration | None  # None: an id the definitions do not know
    applied: bool  # is the id recorded as applied (e.g. a failed down of an applied migration)
    alive: bool
    effects: tuple[Effect, ...] = ()
    path: str | None = None
    excerpt: tuple[ExcerptLine, ...] = ()
    script_changed: bool = False  # the file differs from what the attempt ran
    suggestions: tuple[str, ...] = ()
    recommended: Recommendation | None = None

    @property
    def migration_id(self) -> int:
        return self.attempt.version

    @property
    def name(self) -> str | None:
        return self.migration.name if self.migration else None

    @property
    def direction(self) -> str:
        return "up" if self.attempt.up else "down"

    @property
    def actionable(self) -> bool:
        return self.kind != ProblemKind.IN_PROGRESS

    @property
    def left_effects(self) -> bool:
        return any(e.present for e in self.effects)

    @property
    def settles_itself(self) -> bool:
        return self.kind == ProblemKind.STALE and settled_by_next_run(self.migration, self.attempt, self.applied)

    @property
    def headline(self) -> str:
        a = self.attempt
        what = {ProblemKind.FAILED: f"failed: {printable((a.error_message or 'no message').splitlines()[0], one_line=True)}",
                ProblemKind.STALE: f"was cut off: backend {a.backend_pid or '?'} ended before recording a result",
                ProblemKind.IN_PROGRESS: f"is running in backend {a.backend_pid or '?'}"}[self.kind]
        return f"{self.schema} {a.version}{f' ({self.name})' if self.name else ''} {self.direction} {what}"

    @property
    def advice(self) -> str:
        """The command to run next, with its evidence when there is a recommendation."""
        r = self.recommended
        if r is None:
            return f"`pgferry recover --schema {self.schema}` shows what it left and the choices"
        if r.action is None:
            return r.evidence
        return f"pgferry recover --{r.action} {self.migration_id} --schema {self.schema} ({r.evidence})"

    def as_dict(self) -> dict:
        a = self.attempt
        return {
            "kind": self.kind, "schema": self.schema, "database": self.database, "id": a.version,
            "name": self.name, "known": self.migration is not None, "direction": self.direction,
            "applied": self.applied, "started_at": a.started_at.isoformat() if a.started_at else None,
            "finished_at": a.finished_at.isoformat() if a.finished_at else None,
            "backend_pid": a.backend_pid, "host": a.host, "pgferry_version": a.pgferry_version,
            "alive": self.alive, "actionable": self.actionable,
            "error": {"message": a.error_message, "sqlstate": a.error_sqlstate, "line": a.error_line,
                      "statement": a.error_statement, "path": self.path},
            "script_changed": self.script_changed,
            "excerpt": [{"line": x.number, "text": x.text, "marked": x.marked} for x in self.excerpt],
            "effects": [e.as_dict() for e in self.effects],
            "suggestions": list(self.suggestions),
            "recommended": self.recommended.as_dict() if self.recommended else None,
            "settles_itself": self.settles_itself,
        }


@dataclass(frozen=True)
class InvalidIndex:
    """An invalid index nobody is building and no pending migration will rebuild (a failed manual build,
    or one recorded as applied while invalid)."""

    database: str
    name: str  # schema-qualified, quoted as needed
    relname: str  # its own name as the catalog has it, unquoted
    table: str
    definition: str
    owner: str | None = None  # "schema id" of the CIC migration that created it, recorded as applied
    duplicates: Duplicates | None = None  # a unique index: the keys it cannot hold

    @property
    def repairable(self) -> bool:
        return self.duplicates is None or not self.duplicates.found

    def as_dict(self) -> dict:
        return {"database": self.database, "name": self.name, "table": self.table, "definition": self.definition,
                "owner": self.owner,
                "repair": f"REINDEX INDEX CONCURRENTLY {self.name}" if self.repairable else None,
                "duplicates": self.duplicates.as_dict() if self.duplicates else None}


@dataclass(frozen=True)
class Diagnosis:
    problems: tuple[Problem, ...] = ()
    invalid_indexes: tuple[InvalidIndex, ...] = ()

    @property
    def dirty(self) -> bool:
        return any(p.actionable for p in self.problems)

    def find(self, schema: str, migration_id: int) -> Problem | None:
        return next((p for p in self.problems if p.schema == schema and p.migration_id == migration_id), None)

    def as_dict(self) -> dict:
        return {"problems": [p.as_dict() for p in self.problems],
                "unowned_invalid_indexes": [i.as_dict() for i in self.invalid_indexes]}
