"""Preparing a recovery action (docs/design.md §9): its exact SQL, nothing run.

`prepare` refuses what would leave the bookkeeping inconsistent (unknown ids, an id a live
backend is running, marking what is already so, reverting under applied descendants) with a
UsageError, and a mark the catalog contradicts with CatalogDisagrees, before anything changes.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Mapping

import psycopg
from psycopg import sql

from pgferry import __version__

from ..bookkeeping.bookkeeping import LOG_SCHEMA_VERSION, MigrationLog
from ..connection import connect, describe_target
from ..definitions.catalog import Definitions
from ..definitions.definitions import Migration
from ..definitions.graph import Step
from ..errors import CatalogDisagrees, UsageError
from ..run.runner import cic_index
from .actions import Action
from .diagnosis import Diagnosis, Effect, InvalidIndex, listed
from .evidence import effects_of, index_state
from .kinds import ActionKind, ProblemKind
from .recovery import diagnose


def resolve(defs: Definitions, migration_id: int, schema: str | None) -> tuple[str, Migration]:
    """The schema and migration an id names; the id must exist in the definitions."""
    if schema is not None:
        graph = defs.schema(schema)
        if migration_id not in graph.migrations:
            raise UsageError(f"{schema} has no migration {migration_id}",
                             hint="`pgferry recover` lists the attempts; `pgferry status` the ids")
        return schema, graph.migrations[migration_id]
    holders = [s for s, g in defs.schemas.items() if migration_id in g.migrations]
    if not holders:
        raise UsageError(f"no schema has a migration {migration_id}", hint="`pgferry recover` lists the attempts")
    if len(holders) > 1:
        raise UsageError(f"migration {migration_id} exists in {', '.join(holders)}", hint="add --schema NAME")
    return holders[0], defs.schemas[holders[0]].migrations[migration_id]


def _script_sql(m: Migration, up: bool, preface: list[str] = ()) -> str:
    script = m.up if up else m.down
    where = "outside a transaction (CREATE INDEX CONCURRENTLY cannot run in one)" \
        if up and m.create_index_concurrently else "in one transaction, with its success row"
    lines = [f"-- {script.path}, {where}", *preface]
    lines += [st.text if st.text.rstrip().endswith(";") else st.text + ";" for st in script.statements]
    return "\n".join(lines)


def _mark_statements(conn, bk: str, schema: str, m: Migration, up: bool, ids: list[tuple[int, bool]],
                     operator: str, stale_log_id: int | None, note: str | None = None) -> tuple[str, ...]:
    """The log rows of a mark; `note` (a forced mark's reason) goes in error_message, the one free-text
    column migration_logs has, so that it stays with the row for anyone reading the log later."""
    table = sql.Identifier(bk, "migration_logs")
    out = []
    if stale_log_id is not None:
        note = f"stale attempt closed by pgferry recover: marked as {'applied' if up else 'reverted'} by {operator}"
        out.append(sql.SQL("UPDATE {} SET finished_at = clock_timestamp(), success = false, error_message = {} "
                           "WHERE id = {} AND success IS NULL").format(table, sql.Literal(note), sql.Literal(stale_log_id)))
    script = m.up if up else m.down
    # The scanner's digest lets a later cosmetic edit of a marked migration be told from a real one;
    # a log table from an older pgferry has no column for it (recover never alters the table).
    tokens = "sql_token_checksum" not in MigrationLog(conn, bk).missing_columns()
    rows = sql.SQL(",\n       ").join(
        sql.SQL("({})").format(sql.SQL(", ").join([
            sql.Literal(LOG_SCHEMA_VERSION), sql.Literal(schema), sql.Literal(v), sql.Literal(up), sql.SQL("now()"),
            sql.SQL("clock_timestamp()"), sql.Literal(True), sql.Literal(backfilled), sql.SQL("pg_backend_pid()"),
            sql.Literal(socket.gethostname()), sql.Literal(__version__),
            sql.Literal(None if backfilled else script.checksum),
            *([sql.Literal(None if backfilled else script.token_checksum)] if tokens else []),
            sql.Literal(True), sql.Literal(operator), sql.Literal(None if backfilled else note)]))
        for v, backfilled in ids)
    out.append(sql.SQL(
        "INSERT INTO {} (migration_logs_schema_version, schema, version, up, started_at, finished_at, success,\n"
        "       backfilled, backend_pid, host, pgferry_version, sql_checksum, {}manual, confirmed_by, error_message)\n"
        "VALUES {}").format(table, sql.SQL("sql_token_checksum, " if tokens else ""), rows))
    return tuple(s.as_string(conn) for s in out)



@dataclass
class _Target:
    """What every migration action looks at before deciding: read once, under one connection."""

    schema: str
    m: Migration
    conn: psycopg.Connection
    done: frozenset[int]  # applied, squashes normalized
    applied_raw: frozenset[int]
    problem: object | None
    base: dict

    @property
    def graph(self):
        return self.base["graph"]

    @property
    def applied(self) -> bool:
        return self.m.id in self.done

    def action(self, sql_text: str, **more) -> Action:
        fields = {k: v for k, v in self.base.items() if k != "graph"}
        return Action(**fields, sql=sql_text, confirm=str(self.m.id), **more)


def prepare(defs: Definitions, dsns: Mapping[str, str], kind: ActionKind | str, target: str, *, schema: str | None = None,
            bookkeeping_schema: str = "public", operator: str | None = None,
            diagnosis: Diagnosis | None = None, force_reason: str | None = None) -> Action:
    """The action and its exact SQL; raises UsageError when it must not run, CatalogDisagrees when the
    catalog contradicts a mark (unless `force_reason` says why to record it anyway). Changes nothing."""
    try:
        kind = ActionKind(kind)
    except ValueError:
        raise UsageError(f"unknown recovery action {kind!r}") from None
    if force_reason is not None and (not force_reason.strip() or not kind.marks):
        raise UsageError("--force records a mark the catalog contradicts and needs --reason TEXT saying why"
                         if kind.marks else f"--force applies to marks, not --{kind}",
                         hint="the reason is kept in migration_logs (error_message) and in the transcript")
    if kind == ActionKind.REPAIR_INDEX:
        return _prepare_repair(defs, dsns, target, bookkeeping_schema, diagnosis)
    try:
        mid = int(target)
    except ValueError:
        raise UsageError(f"--{kind} expects a migration id, got {target!r}") from None
    schema, m = resolve(defs, mid, schema)
    dsn = dsns[schema]
    diagnosis = diagnosis or diagnose(defs, dsns, bookkeeping_schema, [schema])
    problem = diagnosis.find(schema, mid)
    if problem and problem.kind == ProblemKind.IN_PROGRESS:
        raise UsageError(f"{schema} {mid} is being run right now by backend {problem.attempt.backend_pid} "
                         f"on {problem.attempt.host or '?'}", hint="wait for it to finish (pgferry watch)")
    graph = defs.schemas[schema]
    with connect(dsn, role="recover") as conn:
        state = MigrationLog(conn, bookkeeping_schema).state(schema)
        stale = problem.attempt.log_id if problem and problem.kind == ProblemKind.STALE else None
        t = _Target(schema, m, conn, graph.normalize(state.applied), state.applied, problem,
                    dict(kind=kind, target=str(mid), database=describe_target(dsn), schema=schema, migration=m,
                         dsn=dsn, operator=operator, stale_log_id=stale, graph=graph))
        if kind == ActionKind.RETRY:
            return _prepare_retry(t)
        if m.id in graph.squashes and kind != ActionKind.MARK_APPLIED:
            raise UsageError(f"{schema} {mid} is a squashed migration standing for "
                             f"{', '.join(map(str, sorted(graph.squashes[mid])))}",
                             hint=f"move it with `pgferry upto` / `pgferry downto --schema {schema}` instead")
        if kind == ActionKind.DOWN:
            return _prepare_down(t)
        if not state.tables_exist:
            raise UsageError(f"{describe_target(dsn)} has no {bookkeeping_schema}.migration_logs: nothing to mark",
                             hint="check --dsn and --bookkeeping-schema")
        t.base["operator"] = operator or "unknown"
        return _prepare_mark(t, bookkeeping_schema, kind == ActionKind.MARK_APPLIED, force_reason)


def _prepare_retry(t: _Target) -> Action:
    mid, graph = t.m.id, t.graph
    if t.applied:
        raise UsageError(f"{t.schema} {mid} is applied: nothing to retry", hint=f"--down {mid} reverts it")
    missing = sorted(graph.ancestors([mid]) - {mid} - t.done)
    if missing:
        raise UsageError(f"{t.schema} {mid} needs {', '.join(map(str, missing))} applied first",
                         hint=f"pgferry upto --schema {t.schema} --target {mid}")
    step = next((s for s in graph.up(t.applied_raw, [mid]) if s.id == mid), Step(t.m))
    preface = []
    if t.m.create_index_concurrently:
        _, regclass = cic_index(step)
        valid, builder = index_state(t.conn, regclass)
        if valid is False and builder is None:  # the runner drops it before building: show that too
            preface.append(f"DROP INDEX CONCURRENTLY IF EXISTS {regclass};  -- the invalid index left behind")
    return t.action(_script_sql(t.m, True, preface), step=step)


def _revert_backfill(t: _Target) -> tuple[int, ...]:
    """Reverting an original un-applies the applied squash that stands for it (as the runner does)."""
    squash = t.graph.replaced_by.get(t.m.id)
    return (squash,) if squash is not None and squash in t.done else ()


def _check_descendants(t: _Target) -> None:
    below = sorted(t.graph.descendants([t.m.id]) & t.done - set(t.graph.squashes))
    if t.applied and below:
        raise UsageError(f"{', '.join(map(str, below))} of {t.schema} depend on {t.m.id} and are applied",
                         hint=f"revert them first: pgferry downto --schema {t.schema} --target <a parent of {t.m.id}>")


def _prepare_down(t: _Target) -> Action:
    _check_descendants(t)
    if not t.applied and not (t.problem and t.problem.left_effects):
        raise UsageError(f"{t.schema} {t.m.id} is not applied and its last attempt left nothing in the catalog: "
                         "nothing to revert", hint=f"--mark-reverted {t.m.id} clears a failed attempt")
    return t.action(_script_sql(t.m, False), step=Step(t.m, False, _revert_backfill(t)))


def disagreeing(effects: tuple[Effect, ...], up: bool) -> list[Effect]:
    """What the catalog shows against a mark: for applied, what up.sql creates and is absent or unusable
    (an INVALID index); for reverted, what up.sql creates and is still there."""
    return [e for e in effects if not e.complete] if up else [e for e in effects if e.present]


def _check_catalog(t: _Target, up: bool, force_reason: str | None) -> tuple[str, str | None]:
    """The SQL comment that says what the catalog shows, and the note a forced mark records."""
    effects = effects_of(t.conn, t.m)
    if not effects:
        return f"-- {t.m.up.path} creates nothing the catalog can be asked about: recorded on your word\n", None
    wrong = disagreeing(effects, up)
    if not wrong:
        return f"-- the catalog agrees: {', '.join(e.describe() for e in effects)}\n", None
    every = ", ".join(e.describe() for e in wrong)
    if force_reason is None:
        mid, s = t.m.id, t.schema
        if up:
            hint = f"--retry {mid} --schema {s} builds it (dropping an invalid one first)" \
                if t.m.create_index_concurrently else \
                f"complete {t.m.up.path} by hand (or --retry {mid} --schema {s}), then mark it"
        else:
            hint = f"undo it by hand (or --down {mid} --schema {s}), then mark it"
        raise CatalogDisagrees(
            f"{s} {mid} cannot be marked {'applied' if up else 'reverted'}: the catalog shows {listed(wrong)}",
            hint=f"{hint}; or, if you know better, --force --reason \"...\" records it anyway with your reason")
    note = f"forced by {t.base['operator']}: {force_reason.strip()} (the catalog showed {every})"
    return f"-- FORCED: the catalog shows {every}\n-- reason: {force_reason.strip()}\n", note


def _prepare_mark(t: _Target, bk: str, up: bool, force_reason: str | None) -> Action:
    mid = t.m.id
    if up:
        if t.applied:
            raise UsageError(f"{t.schema} {mid} is already applied: nothing to mark")
        replaced = t.graph.squashes.get(mid, frozenset())
        if replaced & t.done:
            raise UsageError(f"some of the migrations {t.schema} {mid} stands for are applied: mark those instead")
        ids = [(mid, False)] + [(r, True) for r in sorted(replaced)]  # recorded as the runner's fast path does
    else:
        _check_descendants(t)
        if not t.applied and not t.problem:
            raise UsageError(f"{t.schema} {mid} is neither applied nor failed: nothing to mark")
        ids = [(mid, False)] + [(s, True) for s in _revert_backfill(t)]
    comment, note = _check_catalog(t, up, force_reason)
    stmts = _mark_statements(t.conn, bk, t.schema, t.m, up, ids, t.base["operator"], t.base["stale_log_id"], note)
    text = comment + "-- in one transaction, holding the schema's migration lock; nothing else runs\n" + \
        ";\n".join(stmts) + ";"
    return t.action(text, statements=stmts, forced=force_reason.strip() if note else None)


def _prepare_repair(defs, dsns, name, bk, diagnosis) -> Action:
    diagnosis = diagnosis or diagnose(defs, dsns, bk)
    found = [i for i in diagnosis.invalid_indexes if name in (i.name, i.relname)]
    if not found:
        raise UsageError(f"{name} is not an invalid index that no migration owns",
                         hint="`pgferry recover` lists them; an index a migration owns is rebuilt by --retry ID")
    if len({i.database for i in found}) > 1 or len(found) > 1:
        raise UsageError(f"{name} names several invalid indexes", hint="use the schema-qualified name")
    index: InvalidIndex = found[0]
    if not index.repairable:
        raise CatalogDisagrees(f"REINDEX would fail: {index.duplicates.explain(index.name)}",
                               hint=f"once no key repeats, --repair-index {index.name} rebuilds it")
    dsn = next(d for d in dsns.values() if describe_target(d) == index.database)
    # REINDEX ... CONCURRENTLY rather than DROP + CREATE: it keeps the exact definition (we never
    # rebuild DDL from pg_get_indexdef), keeps the name, and never leaves a window without the index.
    stmt = f"REINDEX INDEX CONCURRENTLY {index.name}"
    text = f"-- outside a transaction; rebuilds {index.definition}\n{stmt};"
    if index.duplicates is not None and not index.duplicates.checked:  # too large to look: say it may fail
        text = f"-- {index.duplicates.explain(index.name)}\n{text}"
    return Action(ActionKind.REPAIR_INDEX, index.name, index.database, text, index.relname,
                  dsn=dsn, statements=(stmt,))

