"""Diagnosing a dirty database (docs/design.md §9): what ran, when, by whom, why it failed, what it left.

Read-only: creates nothing and takes no lock, so it is safe to run beside a live migrator.
`diagnose` reads the bookkeeping and the catalog (`evidence.py`) into a `Diagnosis`
(`diagnosis.py`) with the fixes that may apply (`recommend.py`); the actions that change
something are prepared in `prepare.py` and run in `perform.py`.
"""
from __future__ import annotations

from typing import Mapping

import psycopg
from psycopg import sql

from ..bookkeeping.bookkeeping import Attempt, MigrationLog
from ..connection import connect, describe_target
from ..definitions.catalog import Definitions
from .diagnosis import INVALID, Diagnosis, ExcerptLine, InvalidIndex, Problem
from .duplicates import duplicate_keys
from .evidence import created_index, effects_of, owned_indexes, unowned_invalid_indexes
from .kinds import ObjectKind, ProblemKind
from .recommend import recommend, suggestions

CONTEXT = 2  # lines shown around the failing line


# -- the failing statement in its file ----------------------------------------------------------


def excerpt(text: str, line: int, statements=(), context: int = CONTEXT) -> tuple[ExcerptLine, ...]:
    """The lines around `line`, widened to the whole statement that contains it."""
    lines = text.splitlines()
    first, last = line, line
    for st in statements:
        end = st.line + st.text.count("\n")
        if st.line <= line <= end:
            first, last = st.line, end
    lo, hi = max(1, min(first, line - context)), min(len(lines), max(last, line + context))
    return tuple(ExcerptLine(n, lines[n - 1], n == line) for n in range(lo, hi + 1))


def _statement_excerpt(statement: str) -> tuple[ExcerptLine, ...]:
    return tuple(ExcerptLine(None, t, True) for t in statement.splitlines())


# -- putting it together ------------------------------------------------------------------------


def _checksums(conn: psycopg.Connection, bookkeeping_schema: str, ids: list[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    rows = conn.execute(sql.SQL("SELECT id, sql_checksum FROM {} WHERE id = ANY(%s)").format(
        sql.Identifier(bookkeeping_schema, "migration_logs")), [ids]).fetchall()
    return dict(rows)


def _problem(conn, log: MigrationLog, defs: Definitions, schema: str, database: str, kind: ProblemKind, a: Attempt,
             applied: bool, checksum: str | None) -> Problem:
    graph = defs.schemas[schema]
    m = graph.migrations.get(a.version)
    alive = a.alive if a.alive is not None else bool(log.live_pids([a]))
    effects = effects_of(conn, m) if m else ()
    script = (m.up if a.up else m.down) if m else None
    changed = bool(script and checksum and checksum != script.checksum)
    path = script.path if script else None
    if a.error_line and script and not changed:
        shown = excerpt(script.text, a.error_line, script.statements)
    elif a.error_statement:
        shown = _statement_excerpt(a.error_statement)
    elif script and script.statements and kind != ProblemKind.FAILED:
        # A pending row records no statement: only a CIC writes one, and its file is that one statement.
        st = script.statements[0]
        shown = excerpt(script.text, st.line, script.statements, context=0)
    else:
        shown = ()
    duplicates = None
    if m and m.create_index_concurrently and effects and effects[0].detail == INVALID:
        duplicates = duplicate_keys(conn, created_index(conn, m))
    return Problem(kind, schema, database, a, m, applied, alive, effects, path, shown, changed,
                   suggestions(kind, schema, m, a, applied, effects),
                   recommend(kind, m, a, applied, effects, duplicates, changed, path))


def split_by_plan(diagnosis: Diagnosis, plan) -> tuple[tuple[Problem, ...], tuple[Problem, ...]]:
    """The open attempts a run of `plan` settles by itself (it runs the migration again in the same
    direction: a failed one is retried, a cut-off index build checked and finished or rebuilt), and
    those it leaves as they are."""
    runs = {(s.step.schema, s.step.id, s.step.up) for s in plan.schema_steps()}
    open_ = [p for p in diagnosis.problems if p.actionable]
    rerun = [(p.schema, p.migration_id, p.attempt.up) in runs for p in open_]
    return (tuple(p for p, r in zip(open_, rerun) if r), tuple(p for p, r in zip(open_, rerun) if not r))


def explains(problems, kind: ObjectKind, obj: str) -> bool:
    """Is the drift difference (`kind`, `obj` as drift names it: table, table.column, table.index)
    an object one of these attempts' up.sql creates? (Drift and recovery name tables, columns and
    indexes alike: the kinds compare by their text.)"""
    theirs = obj.split(".")
    for e in (e for p in problems for e in p.effects if e.kind == kind and e.present):
        mine = e.name.split(".")
        if (mine[-1:] == theirs[-1:]) if kind == ObjectKind.INDEX else (mine[-len(theirs):] == theirs):
            return True
    return False


def diagnose(defs: Definitions, dsns: Mapping[str, str], bookkeeping_schema: str = "public",
             schemas: list[str] | None = None) -> Diagnosis:
    names = schemas or list(defs.schemas)
    by_dsn: dict[str, list[str]] = {}
    for name in names:
        defs.schema(name)
        by_dsn.setdefault(dsns[name], []).append(name)
    problems: list[Problem] = []
    indexes: list[InvalidIndex] = []
    for dsn, members in by_dsn.items():
        database = describe_target(dsn)
        settled: set[tuple[str, int]] = set()
        with connect(dsn, role="recover") as conn:
            log = MigrationLog(conn, bookkeeping_schema)
            sharing = [s for s in defs.schemas if dsns.get(s) == dsn]  # selected or not, they own their indexes
            for name in sharing if log.exists() else ():
                state = log.state(name)
                open_ = set(state.failed) | set(state.stale) | set(state.in_progress)
                settled |= {(name, i) for i in defs.schemas[name].normalize(state.applied) - open_}
                if name in members:
                    found = [(ProblemKind.FAILED, a) for a in state.failed.values()] + \
                            [(ProblemKind.STALE, a) for a in state.stale.values()] + \
                            [(ProblemKind.IN_PROGRESS, a) for a in state.in_progress.values()]
                    sums = _checksums(conn, bookkeeping_schema, [a.log_id for _, a in found])
                    done = defs.schemas[name].normalize(state.applied)
                    for kind, a in sorted(found, key=lambda f: f[1].log_id):
                        problems.append(_problem(conn, log, defs, name, database, kind, a, a.version in done,
                                                 sums.get(a.log_id)))
            indexes += unowned_invalid_indexes(conn, database, owned_indexes(defs, sharing), settled)
    return Diagnosis(tuple(problems), tuple(indexes))
