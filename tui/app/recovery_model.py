"""What the recovery walkthrough shows, read by the engine (no Textual here): each problem with
every choice prepared up front, so a choice that cannot apply is known, with its reason, before
anyone presses its key; and the transcript, written as `pgferry recover --transcript` writes it."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pgferry.engine.definitions.catalog import Definitions, bundled_migrations_dir, load
from pgferry.engine.connection import scrub
from pgferry.engine.errors import PgferryError
from pgferry.engine.repair.actions import Action, ActionResult
from pgferry.engine.repair.diagnosis import Diagnosis, InvalidIndex, Problem
from pgferry.engine.repair.kinds import MIGRATION_ACTIONS, ActionKind
from pgferry.engine.repair.prepare import prepare
from pgferry.engine.repair.recovery import diagnose
from pgferry.engine.bookkeeping.runs import operator_name
from pgferry.engine.safetext import printable
from pgferry.tui import recover_view

from .data import Source

KEYS = {ActionKind.RETRY: "r", ActionKind.DOWN: "d", ActionKind.MARK_APPLIED: "a", ActionKind.MARK_REVERTED: "m",
        ActionKind.REPAIR_INDEX: "i"}
SHORT = {ActionKind.RETRY: "Retry", ActionKind.DOWN: "Revert", ActionKind.MARK_APPLIED: "Applied",
         ActionKind.MARK_REVERTED: "Reverted", ActionKind.REPAIR_INDEX: "Reindex"}  # the footer's words
LABELS = {
    ActionKind.RETRY: "retry: run up.sql again",
    ActionKind.DOWN: "revert: run down.sql",
    ActionKind.MARK_APPLIED: "mark applied: record it as done (after you completed it by hand)",
    ActionKind.MARK_REVERTED: "mark reverted: record it as undone (after you undid it by hand)",
    ActionKind.REPAIR_INDEX: "repair the index: REINDEX INDEX CONCURRENTLY",
}


def operator() -> str:
    return os.environ.get("PGFERRY_OPERATOR") or operator_name()


@dataclass(frozen=True)
class Choice:
    kind: ActionKind
    action: Action | None
    reason: str | None = None  # why it cannot apply, when action is None
    evidence: str | None = None  # set on the one recommended choice: what in the catalog points to it

    @property
    def recommended(self) -> bool:
        return self.evidence is not None

    @property
    def key(self) -> str:
        return KEYS[self.kind]

    @property
    def label(self) -> str:
        return LABELS[self.kind]


@dataclass(frozen=True)
class Item:
    """One thing to recover: a failed, stale or running attempt, or an invalid index no migration owns."""

    problem: Problem | None
    index: InvalidIndex | None
    choices: tuple[Choice, ...]

    @property
    def title(self) -> str:
        """One line for lists and notices; an index name is the server's, a migration name the definitions'."""
        if self.index is not None:
            return printable(f"! INVALID INDEX  {self.index.name} on {self.index.table}", one_line=True)
        p = self.problem
        name = f" {p.name}" if p.name else " (not in the definitions)"
        return printable(f"{recover_view.GLYPH[p.kind]} {recover_view.LABEL[p.kind]}  {p.schema} {p.migration_id}{name} "
                         f"({p.direction})", one_line=True)

    def choice(self, kind: ActionKind) -> Choice | None:
        return next((c for c in self.choices if c.kind == kind), None)

    @property
    def recommended(self) -> Choice | None:
        return next((c for c in self.choices if c.recommended), None)

    @property
    def blocked_by(self) -> str | None:
        """Why no fix works yet, when the evidence says so (duplicate keys under a unique index)."""
        r = self.problem.recommended if self.problem else None
        if r is not None and r.action is None:
            return r.evidence
        i = self.index
        return i.duplicates.explain(i.name) if i is not None and not i.repairable else None


@dataclass(frozen=True)
class Walkthrough:
    diagnosis: Diagnosis
    items: tuple[Item, ...]
    definitions: Definitions
    dsns: dict[str, str] = field(repr=False)

    @property
    def clean(self) -> bool:
        return not self.items


def _choices(defs, dsns, bk, diagnosis, kinds, target, schema, blocked: str | None,
             problem: Problem | None = None) -> tuple[Choice, ...]:
    """Every choice prepared; the recommended one (when it can run) first, with its evidence."""
    out = []
    for kind in kinds:
        if blocked:
            out.append(Choice(kind, None, blocked))
            continue
        try:
            out.append(Choice(kind, prepare(defs, dsns, kind, target, schema=schema, bookkeeping_schema=bk,
                                            operator=operator(), diagnosis=diagnosis)))
        except PgferryError as exc:  # a refusal (the catalog disagrees, nothing to revert, ...) is its reason
            out.append(Choice(kind, None, exc.message))
    r = problem.recommended if problem else None
    best = next((c for c in out if r and c.kind == r.action and c.action), None)
    if best is None:
        return tuple(out)
    return (dataclasses.replace(best, evidence=r.evidence),) + tuple(c for c in out if c is not best)


def load_walkthrough(source: Source) -> Walkthrough:
    # The definitions are read afresh, not from the app's cache: the operator may have just fixed
    # the failing file, and a retry must run what is on disk now.
    defs = load(source.migrations or str(bundled_migrations_dir()))
    dsns = dict(source.connections().dsns)
    bk = source.bookkeeping_schema
    diagnosis = diagnose(defs, dsns, bk)
    items = []
    for p in diagnosis.problems:
        blocked = None if p.actionable else \
            f"backend {p.attempt.backend_pid} is still running it: wait for it (pgferry watch)"
        items.append(Item(p, None, _choices(defs, dsns, bk, diagnosis, MIGRATION_ACTIONS, str(p.migration_id),
                                            p.schema, blocked, p)))
    for i in diagnosis.invalid_indexes:
        items.append(Item(None, i, _choices(defs, dsns, bk, diagnosis, (ActionKind.REPAIR_INDEX,), i.name, None, None)))
    return Walkthrough(diagnosis, tuple(items), defs, dsns)


def transcript_text(source: Source, started: datetime, walkthrough: Walkthrough, before: Diagnosis,
                    actions: list[tuple[str, ActionResult]]) -> str:
    """The CLI's transcript, scrubbed of every password this app knows."""
    text = recover_view.transcript(started=started, dsns=walkthrough.dsns, definitions=walkthrough.definitions.root,
                                   operator=operator(), before=before, actions=actions,
                                   after=actions[-1][1].after if actions else None)
    return scrub(text, *source.secrets(), *walkthrough.dsns.values())


def transcript_name(now: datetime | None = None) -> str:
    return f"pgferry-recover-{(now or datetime.now(timezone.utc)).strftime('%Y%m%d-%H%M%S')}.md"
