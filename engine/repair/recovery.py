"""Diagnosing a dirty database (docs/design.md §9): what ran, when, by whom, why it failed, what it left.

Read-only: creates nothing and takes no lock, so it is safe to run beside a live migrator.
The actions that change something live in `recovery_actions.py`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import psycopg
from pglast import ast
from pglast.enums import AlterTableType
from psycopg import sql

from ..bookkeeping.bookkeeping import Attempt, MigrationLog
from ..bookkeeping.status import settled_by_next_run
from ..connection import connect, describe_target
from ..definitions.catalog import Definitions
from ..definitions.definitions import Migration
from ..definitions.sqlfile import Statement
from ..run.runner import INDEX_STATE_SQL
from ..safetext import printable

FAILED, STALE, IN_PROGRESS = "failed", "stale", "in_progress"
CONTEXT = 2  # lines shown around the failing line
DUPLICATES_TIMEOUT_MS = 2000  # the duplicate-key check of an invalid unique index: a bound, not a scan of hours
DUPLICATES_SHOWN = 5


def quote_name(*parts: str | None) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts if p)


@dataclass(frozen=True)
class Effect:
    """One object a migration's up.sql creates, and whether the catalog has it now."""

    kind: str  # table, index, column, extension, view, type, function, sequence
    name: str
    present: bool
    line: int  # where up.sql creates it
    detail: str | None = None  # e.g. "INVALID", "being built by pid 123"

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
            return (f"{index} is a unique index and {self.table} is too large to check for duplicate keys within "
                    f"{DUPLICATES_TIMEOUT_MS // 1000}s: a rebuild fails if there are any; find them with: {self.query}")
        return (f"{self.table} holds duplicate keys for the unique index {index} ({', '.join(self.examples)}"
                f"{', …' if len(self.examples) >= DUPLICATES_SHOWN else ''}): a rebuild would fail again. Resolve "
                f"them first (delete or merge the extra rows); they are listed by: {self.query}")

    def as_dict(self) -> dict:
        return {"table": self.table, "query": self.query, "examples": list(self.examples), "checked": self.checked}


@dataclass(frozen=True)
class Recommendation:
    """The one fix the evidence points to (`action` None: none works yet, `evidence` says why)."""

    action: str | None  # retry | down | mark-applied | mark-reverted
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

    kind: str  # FAILED | STALE | IN_PROGRESS
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
        return self.kind != IN_PROGRESS

    @property
    def left_effects(self) -> bool:
        return any(e.present for e in self.effects)

    @property
    def settles_itself(self) -> bool:
        return self.kind == STALE and settled_by_next_run(self.migration, self.attempt, self.applied)

    @property
    def headline(self) -> str:
        a = self.attempt
        what = {FAILED: f"failed: {printable((a.error_message or 'no message').splitlines()[0], one_line=True)}",
                STALE: f"was cut off: backend {a.backend_pid or '?'} ended before recording a result",
                IN_PROGRESS: f"is running in backend {a.backend_pid or '?'}"}[self.kind]
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


# -- what up.sql creates, checked against the catalog --------------------------------------------


def _names(nodes) -> list[str]:
    return [n.sval for n in nodes or ()]


def _targets(st: Statement) -> list[tuple[str, tuple, str]]:
    """(kind, name parts, display) of what one statement creates; [] for anything else."""
    n = st.node
    out = []

    def rel(kind, rv):
        if rv is not None:
            parts = (rv.schemaname, rv.relname)
            out.append((kind, parts, ".".join(p for p in parts if p)))

    if isinstance(n, ast.CreateStmt):
        rel("table", n.relation)
    elif isinstance(n, ast.IndexStmt) and n.idxname:
        schema = n.relation.schemaname if n.relation else None
        out.append(("index", (schema, n.idxname), ".".join(p for p in (schema, n.idxname) if p)))
    elif isinstance(n, ast.AlterTableStmt):
        for cmd in n.cmds or ():
            if cmd.subtype == AlterTableType.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                parts = (n.relation.schemaname, n.relation.relname, cmd.def_.colname)
                out.append(("column", parts, ".".join(p for p in parts if p)))
    elif isinstance(n, ast.CreateExtensionStmt):
        out.append(("extension", (n.extname,), n.extname))
    elif isinstance(n, ast.ViewStmt):
        rel("view", n.view)
    elif isinstance(n, ast.CreateTableAsStmt) and n.into is not None:
        rel("view" if n.objtype.name == "OBJECT_MATVIEW" else "table", n.into.rel)
    elif isinstance(n, ast.CreateSeqStmt):
        rel("sequence", n.sequence)
    elif isinstance(n, ast.CreateEnumStmt):
        parts = tuple(_names(n.typeName))
        out.append(("type", parts, ".".join(parts)))
    elif isinstance(n, ast.CompositeTypeStmt):
        rel("type", n.typevar)
    elif isinstance(n, ast.CreateDomainStmt):
        parts = tuple(_names(n.domainname))
        out.append(("type", parts, ".".join(parts)))
    elif isinstance(n, ast.CreateFunctionStmt):
        parts = tuple(_names(n.funcname))
        out.append(("function", parts, ".".join(parts)))
    return out


def _check(conn: psycopg.Connection, kind: str, parts: tuple) -> tuple[bool, str | None]:
    q = conn.execute
    if kind == "index":
        row = q(INDEX_STATE_SQL, [quote_name(*parts)]).fetchone()
        if row is None:
            return False, None
        valid, builder = row
        return True, (f"being built by pid {builder}" if builder else None if valid else "INVALID")
    if kind in ("table", "view", "sequence"):
        return bool(q("SELECT to_regclass(%s) IS NOT NULL", [quote_name(*parts)]).fetchone()[0]), None
    if kind == "column":
        *table, column = parts
        row = q("SELECT to_regclass(%s) IS NOT NULL, EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
                "to_regclass(%s) AND attname = %s AND attnum > 0 AND NOT attisdropped)",
                [quote_name(*table), quote_name(*table), column]).fetchone()
        return bool(row[1]), (None if row[0] else "its table is absent")
    if kind == "extension":
        return bool(q("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = %s)", parts).fetchone()[0]), None
    if kind == "type":
        return bool(q("SELECT to_regtype(%s) IS NOT NULL", [quote_name(*parts)]).fetchone()[0]), None
    if kind == "function":
        *schema, name = parts
        row = q("SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE p.proname = %s AND (n.nspname = %s OR (%s IS NULL AND n.nspname = ANY(current_schemas(false)))))",
                [name, schema[0] if schema else None, schema[0] if schema else None]).fetchone()
        return bool(row[0]), None
    return False, None


def effects_of(conn: psycopg.Connection, migration: Migration) -> tuple[Effect, ...]:
    out = []
    for st in migration.up.statements:
        for kind, parts, display in _targets(st):
            present, detail = _check(conn, kind, parts)
            out.append(Effect(kind, display, present, st.line, detail))
    return tuple(out)


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


def _suggest(kind: str, schema: str, m: Migration | None, a: Attempt, applied: bool,
             effects: tuple[Effect, ...]) -> tuple[str, ...]:
    i = f"{a.version} --schema {schema}"  # an id alone may name a migration of another schema too
    if m is None:
        return ("this id is not in the definitions: use the definitions of the release that ran it",)
    if kind == IN_PROGRESS:
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


def listed(effects, most: int = 3) -> str:
    """A few effects described, and how many more: a reason stays readable beside a footer."""
    shown = ", ".join(e.describe() for e in effects[:most])
    return shown + (f" and {len(effects) - most} more" if len(effects) > most else "")


def _recommend(kind: str, m: Migration | None, a: Attempt, applied: bool, effects: tuple[Effect, ...],
               duplicates: Duplicates | None, script_changed: bool, path: str | None) -> Recommendation | None:
    """What the catalog says to do. Only what it shows decides: all of up.sql's objects there,
    none of them, or (no recommendation) a mix that needs a person to look."""
    if m is None or kind == IN_PROGRESS:
        return None
    present = [e for e in effects if e.complete]
    absent = [e for e in effects if not e.present]
    if m.create_index_concurrently and a.up and effects:
        e = effects[0]
        if e.complete:
            return Recommendation("mark-applied", f"index {e.name} is valid: the build finished before the attempt "
                                  "ended; record it")
        if duplicates is not None and duplicates.found:
            return Recommendation(None, duplicates.explain(e.name))
        state = "absent" if not e.present else e.detail or "not valid"
        later = " (the next upgrade would do the same by itself)" if kind == STALE else ""
        return Recommendation("retry", f"index {e.name} is {state} and nobody is building it: retry "
                              f"{'builds it' if not e.present else 'drops it and builds it again'}{later}")
    if not a.up:  # a failed down: its transaction rolled back, or someone finished it by hand
        if effects and len(present) == len(effects):
            return Recommendation("down", f"the down rolled back: everything up.sql creates is still there "
                                  f"({listed(present)}); fix {m.down.path} if the error is in the SQL, then run it again")
        if effects and len(absent) == len(effects):
            return Recommendation("mark-reverted", f"none of what up.sql creates is there ({listed(absent)}): "
                                  "it is undone; record it")
        return None if effects else Recommendation("down", "a failed down's transaction rolls back: run it again "
                                                           f"after fixing {m.down.path} if the error is in the SQL")
    if effects and len(present) == len(effects):
        return Recommendation("mark-applied", f"everything up.sql creates is there ({listed(present)}): "
                              "it was completed; record it")
    if effects and len(absent) != len(effects):
        return None  # partly there: finished by hand half-way, or objects that existed before
    where = f"{path}:{a.error_line}" if path and a.error_line else path or "up.sql"
    fix = "the file changed since the attempt" if script_changed else f"fix {where} first if the error is in the SQL"
    seen = f"none of what up.sql creates is there ({listed(absent)})" if effects else \
        "a failed migration's transaction rolls back"
    return Recommendation("retry", f"{seen}: nothing of it is applied; {fix}")


def _duplicate_query(table: str, keys: list[str], predicate: str | None, nulls_distinct: bool,
                     limit: int | None) -> str:
    cols = ", ".join(keys)
    where = [f"{k} IS NOT NULL" for k in keys] if nulls_distinct else []  # NULLs never collide there
    where += [f"({predicate})"] if predicate else []
    text = f"SELECT {cols}, count(*) AS copies FROM {table}"
    text += f" WHERE {' AND '.join(where)}" if where else ""
    text += f" GROUP BY {cols} HAVING count(*) > 1 ORDER BY count(*) DESC"
    return text + (f" LIMIT {limit}" if limit else "")


UNIQUE_KEYS_SQL = """
SELECT format('%%I.%%I', n.nspname, t.relname),
       array(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k ORDER BY k),
       pg_get_expr(i.indpred, i.indrelid, true),
       NOT coalesce((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false)  -- PostgreSQL 15 and later
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE i.indexrelid = to_regclass(%s) AND i.indisunique
"""


def duplicate_keys(conn: psycopg.Connection, regclass: str) -> Duplicates | None:
    """For a unique index: the keys its table holds more than once (None for any other index).

    One GROUP BY over the index's key columns (or expressions, as PostgreSQL prints them), under
    a statement timeout in a read-only transaction: diagnosing must stay quick on a big table."""
    row = conn.execute(UNIQUE_KEYS_SQL, [regclass]).fetchone()
    if row is None:
        return None
    table, keys, predicate, nulls_distinct = row
    shown = _duplicate_query(table, keys, predicate, nulls_distinct, None)
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(DUPLICATES_TIMEOUT_MS)))
            rows = conn.execute(_duplicate_query(table, keys, predicate, nulls_distinct, DUPLICATES_SHOWN)).fetchall()
    except psycopg.errors.QueryCanceled:
        return Duplicates(table, shown, checked=False)
    # application data, on its way to a terminal: control characters shown escaped
    examples = tuple("(" + ", ".join("NULL" if v is None else printable(v, one_line=True) for v in r[:-1]) +
                     f") ×{r[-1]}" for r in rows)
    return Duplicates(table, shown, examples)


def _checksums(conn: psycopg.Connection, bookkeeping_schema: str, ids: list[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    rows = conn.execute(sql.SQL("SELECT id, sql_checksum FROM {} WHERE id = ANY(%s)").format(
        sql.Identifier(bookkeeping_schema, "migration_logs")), [ids]).fetchall()
    return dict(rows)


def _problem(conn, log: MigrationLog, defs: Definitions, schema: str, database: str, kind: str, a: Attempt,
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
    elif script and script.statements and kind != FAILED:
        # A pending row records no statement: only a CIC writes one, and its file is that one statement.
        st = script.statements[0]
        shown = excerpt(script.text, st.line, script.statements, context=0)
    else:
        shown = ()
    duplicates = None
    if m and m.create_index_concurrently and effects and effects[0].detail == "INVALID":
        duplicates = duplicate_keys(conn, quote_name(*_targets(m.up.statements[0])[0][1]))
    return Problem(kind, schema, database, a, m, applied, alive, effects, path, shown, changed,
                   _suggest(kind, schema, m, a, applied, effects),
                   _recommend(kind, m, a, applied, effects, duplicates, changed, path))


def split_by_plan(diagnosis: Diagnosis, plan) -> tuple[tuple[Problem, ...], tuple[Problem, ...]]:
    """The open attempts a run of `plan` settles by itself (it runs the migration again in the same
    direction: a failed one is retried, a cut-off index build checked and finished or rebuilt), and
    those it leaves as they are."""
    runs = {(s.step.schema, s.step.id, s.step.up) for s in plan.schema_steps()}
    open_ = [p for p in diagnosis.problems if p.actionable]
    rerun = [(p.schema, p.migration_id, p.attempt.up) in runs for p in open_]
    return (tuple(p for p, r in zip(open_, rerun) if r), tuple(p for p, r in zip(open_, rerun) if not r))


def explains(problems, kind: str, obj: str) -> bool:
    """Is the drift difference (`kind`, `obj` as drift names it: table, table.column, table.index)
    an object one of these attempts' up.sql creates?"""
    theirs = obj.split(".")
    for e in (e for p in problems for e in p.effects if e.kind == kind and e.present):
        mine = e.name.split(".")
        if (mine[-1:] == theirs[-1:]) if kind == "index" else (mine[-len(theirs):] == theirs):
            return True
    return False


INVALID_INDEXES_SQL = """
SELECT n.nspname, c.relname, format('%I.%I', n.nspname, c.relname), format('%I.%I', tn.nspname, t.relname),
       pg_get_indexdef(c.oid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE NOT i.indisvalid AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
  -- being built right now: a CIC reports its index; REINDEX CONCURRENTLY reports the old one, not its _ccnew copy
  AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p
                  WHERE p.index_relid = c.oid OR (p.relid = i.indrelid AND p.command LIKE 'REINDEX CONCURRENTLY%'))
ORDER BY 3
"""


def owned_indexes(defs: Definitions, schemas) -> dict[tuple[str | None, str], tuple[str, int]]:
    """(schema or None, name) -> (schema, id) of every index a CIC migration of these schemas creates."""
    out = {}
    for s in schemas:
        for m in defs.schemas[s].migrations.values():
            if m.create_index_concurrently and m.up.statements:
                node = m.up.statements[0].node
                if isinstance(node, ast.IndexStmt) and node.idxname:
                    out[(node.relation.schemaname if node.relation else None, node.idxname)] = (s, m.id)
    return out


def unowned_invalid_indexes(conn: psycopg.Connection, database: str, owned, settled) -> list[InvalidIndex]:
    """Invalid indexes nothing will fix: no migration owns them, or their owner counts as done
    (`settled`: applied with no open attempt), so no run will ever rebuild them."""
    out = []
    for nsp, rel, name, table, definition in conn.execute(INVALID_INDEXES_SQL).fetchall():
        owner = owned.get((nsp, rel)) or owned.get((None, rel))
        if owner is None or owner in settled:
            out.append(InvalidIndex(database, name, table, definition,
                                    f"{owner[0]} {owner[1]}" if owner else None, duplicate_keys(conn, name)))
    return out


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
                    found = [(FAILED, a) for a in state.failed.values()] + \
                            [(STALE, a) for a in state.stale.values()] + \
                            [(IN_PROGRESS, a) for a in state.in_progress.values()]
                    sums = _checksums(conn, bookkeeping_schema, [a.log_id for _, a in found])
                    done = defs.schemas[name].normalize(state.applied)
                    for kind, a in sorted(found, key=lambda f: f[1].log_id):
                        problems.append(_problem(conn, log, defs, name, database, kind, a, a.version in done,
                                                 sums.get(a.log_id)))
            indexes += unowned_invalid_indexes(conn, database, owned_indexes(defs, sharing), settled)
    return Diagnosis(tuple(problems), tuple(indexes))
