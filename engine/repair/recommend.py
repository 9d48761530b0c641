"""What to do about an open attempt (docs/design.md §9): every fix that may apply, as a command
line, and the one the catalog's evidence points to."""
from __future__ import annotations

from ..bookkeeping.bookkeeping import Attempt
from ..definitions.definitions import Migration
from .diagnosis import Duplicates, Effect, Recommendation, listed
from .kinds import ActionKind, ProblemKind


def suggestions(kind: ProblemKind, schema: str, m: Migration | None, a: Attempt, applied: bool,
                effects: tuple[Effect, ...]) -> tuple[str, ...]:
    """Every command that may fix it, each with what it does."""
    i = f"{a.version} --schema {schema}"  # an id alone may name a migration of another schema too
    if m is None:
        return ("this id is not in the definitions: use the definitions of the release that ran it",)
    if kind == ProblemKind.IN_PROGRESS:
        return (f"backend {a.backend_pid} is still running it: wait (pgferry watch), nothing to do",)
    out = []
    if m.create_index_concurrently and a.up:
        out.append(f"--retry {i}: drops an invalid index left behind and builds it again concurrently")
    elif a.up:
        out.append(f"--retry {i}: runs {m.up.path} again (fix the file first if the error is in the SQL)")
    if applied or any(e.present for e in effects):
        out.append(f"--down {i}: runs {m.down.path} to undo what is there")
    if not applied:
        out.append(f"--mark-applied {i}: after you completed it by hand (records it, runs nothing)")
    out.append(f"--mark-reverted {i}: after you undid it by hand (records it, runs nothing)")
    return tuple(out)


def recommend(kind: ProblemKind, m: Migration | None, a: Attempt, applied: bool, effects: tuple[Effect, ...],
              duplicates: Duplicates | None, script_changed: bool, path: str | None) -> Recommendation | None:
    """What the catalog says to do. Only what it shows decides: all of up.sql's objects there,
    none of them, or (no recommendation) a mix that needs a person to look."""
    if m is None or kind == ProblemKind.IN_PROGRESS:
        return None
    present = [e for e in effects if e.complete]
    absent = [e for e in effects if not e.present]
    if m.create_index_concurrently and a.up and effects:
        e = effects[0]
        if e.complete:
            return Recommendation(ActionKind.MARK_APPLIED, f"index {e.name} is valid: the build finished before "
                                  "the attempt ended; record it")
        if duplicates is not None and duplicates.found:
            return Recommendation(None, duplicates.explain(e.name))
        state = "absent" if not e.present else e.detail or "not valid"
        later = " (the next upgrade would do the same by itself)" if kind == ProblemKind.STALE else ""
        return Recommendation(ActionKind.RETRY, f"index {e.name} is {state} and nobody is building it: retry "
                              f"{'builds it' if not e.present else 'drops it and builds it again'}{later}")
    if not a.up:  # a failed down: its transaction rolled back, or someone finished it by hand
        if effects and len(present) == len(effects):
            return Recommendation(ActionKind.DOWN, "the down rolled back: everything up.sql creates is still "
                                  f"there ({listed(present)}); fix {m.down.path} if the error is in the SQL, then "
                                  "run it again")
        if effects and len(absent) == len(effects):
            return Recommendation(ActionKind.MARK_REVERTED, f"none of what up.sql creates is there "
                                  f"({listed(absent)}): it is undone; record it")
        return None if effects else Recommendation(ActionKind.DOWN, "a failed down's transaction rolls back: run "
                                                   f"it again after fixing {m.down.path} if the error is in the SQL")
    if effects and len(present) == len(effects):
        return Recommendation(ActionKind.MARK_APPLIED, f"everything up.sql creates is there ({listed(present)}): "
                              "it was completed; record it")
    if effects and len(absent) != len(effects):
        return None  # partly there: finished by hand half-way, or objects that existed before
    where = f"{path}:{a.error_line}" if path and a.error_line else path or "up.sql"
    fix = "the file changed since the attempt" if script_changed else f"fix {where} first if the error is in the SQL"
    seen = f"none of what up.sql creates is there ({listed(absent)})" if effects else \
        "a failed migration's transaction rolls back"
    return Recommendation(ActionKind.RETRY, f"{seen}: nothing of it is applied; {fix}")

