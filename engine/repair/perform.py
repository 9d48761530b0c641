"""Running a prepared recovery action (docs/design.md §9), then verifying it by diagnosing again."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping

import psycopg

from ..bookkeeping.bookkeeping import MigrationLog
from ..connection import connect
from ..definitions.catalog import Definitions
from ..errors import PgferryError
from ..events import EventSink, MigrationFinished, discard
from ..locks import AdvisoryLock, lock_key
from ..run.runner import Migrator, RunOptions
from .actions import Action, ActionResult
from .diagnosis import Diagnosis
from .evidence import effects_of, index_state
from .kinds import ActionKind
from .prepare import disagreeing
from .recovery import diagnose

MARK_LOCK_WAIT = 30.0  # seconds a mark waits for a migrator of the schema before giving up


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _run_migration(action: Action, defs: Definitions, bk: str, on_event: EventSink) -> str:
    graph = defs.schemas[action.schema]
    step = action.step
    finished: list = []

    def sink(e):
        if isinstance(e, MigrationFinished) and e.migration_id == step.id and e.up == step.up:
            finished.append(e)
        on_event(e)

    if step.up:
        def compute(applied):
            return [] if step.id in graph.normalize(applied) else [step]
    else:
        # Not applied but with effects left, the id never shows as applied: stop once it ran.
        def compute(applied):
            return [] if finished else [step]
    with Migrator(action.dsn, graph, RunOptions(bookkeeping_schema=bk), on_event=sink) as m:
        m.run(compute)
        if not step.up and action.stale_log_id is not None:
            m.log.finish_attempt(action.stale_log_id, False, "stale attempt closed by pgferry recover --down")
    return f"{'applied' if step.up else 'reverted'} {action.schema} {step.id}"


def _run_statements(action: Action, bk: str, on_event: EventSink) -> str:
    with connect(action.dsn, role="recover") as conn:
        if action.kind == ActionKind.REPAIR_INDEX:
            conn.execute(action.statements[0])
            return f"rebuilt {action.target}"
        lock = AdvisoryLock(conn, lock_key(bk, action.schema), action.schema, timeout=MARK_LOCK_WAIT, on_event=on_event)
        with lock:
            state = MigrationLog(conn, bk).state(action.schema)
            if action.migration.id in state.in_progress:  # started since we looked
                raise PgferryError(f"{action.schema} {action.migration.id} started running meanwhile: nothing changed")
            with conn.transaction():
                for stmt in action.statements:
                    conn.execute(stmt)
    recorded = "applied" if action.kind == ActionKind.MARK_APPLIED else "reverted"
    return f"recorded {action.schema} {action.migration.id} as {recorded} (manual, confirmed by {action.operator})"


def verify(action: Action, defs: Definitions, dsns: Mapping[str, str], bk: str,
           schemas: list[str] | None = None) -> tuple[bool, list[str], Diagnosis]:
    """Diagnose again (the same schemas as before, so the transcript's before and after compare)."""
    after = diagnose(defs, dsns, bk, schemas)
    if action.kind == ActionKind.REPAIR_INDEX:
        with connect(action.dsn, role="recover") as conn:
            valid, _ = index_state(conn, action.target)
        still = any(i.name == action.target for i in after.invalid_indexes)
        lines = [f"index {action.target} is {'valid' if valid else 'absent' if valid is None else 'still INVALID'}"]
        return bool(valid) and not still, lines, after
    schema, mid = action.schema, action.migration.id
    with connect(action.dsn, role="recover") as conn:
        applied = mid in defs.schemas[schema].normalize(MigrationLog(conn, bk).state(schema).applied)
    want = action.kind.leaves_applied
    problem = after.find(schema, mid)
    lines = [f"{schema} {mid} is {'applied' if applied else 'not applied'}"
             + ("" if applied == want else f" (expected {'applied' if want else 'not applied'})"),
             f"no failed or stale attempt of {schema} {mid} is left" if problem is None else
             f"{schema} {mid} is still listed as {problem.kind}: {problem.attempt.error_message or ''}".rstrip(": ")]
    with connect(action.dsn, role="recover") as conn:
        effects = effects_of(conn, action.migration)
    if effects:
        lines.append("catalog: " + ", ".join(e.describe() for e in effects))
    # A mark claims the catalog matches: say so when it does not (a forced mark says it knowingly).
    wrong = disagreeing(effects, want) if action.kind.marks else []
    if wrong:
        lines.append(f"the catalog does not match the mark: {', '.join(e.describe() for e in wrong)}"
                     + (f" (forced: {action.forced})" if action.forced else ""))
    return applied == want and problem is None and (not wrong or bool(action.forced)), lines, after


def run_action(action: Action, defs: Definitions, dsns: Mapping[str, str], bookkeeping_schema: str = "public",
               on_event: EventSink = discard, schemas: list[str] | None = None) -> ActionResult:
    """Act, then verify by diagnosing again. Failures are results (ok=False), not exceptions."""
    result = ActionResult(action, ok=False, message="", started_at=_now())
    try:
        if action.kind in (ActionKind.RETRY, ActionKind.DOWN):
            result.message = _run_migration(action, defs, bookkeeping_schema, on_event)
        else:
            result.message = _run_statements(action, bookkeeping_schema, on_event)
        result.ok = True
    except PgferryError as exc:
        result.message = exc.message + (f"\nhint: {exc.hint}" if exc.hint else "")
    except psycopg.Error as exc:
        result.message = f"{type(exc).__name__}: {str(exc).strip()}"
        if action.kind == ActionKind.REPAIR_INDEX:
            result.message += f"\nREINDEX CONCURRENTLY may have left an invalid copy ({action.target}_ccnew): " \
                "drop it with DROP INDEX CONCURRENTLY"
    result.finished_at = _now()
    result.verified, result.verification, result.after = verify(action, defs, dsns, bookkeeping_schema, schemas)
    return result
