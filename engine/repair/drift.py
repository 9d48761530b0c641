"""Drift (docs/design.md §10): what differs between a database's expected and live shape, and how to fix it.

`compare` works on two `describe` outputs, so it needs no connection; `check` reads a
database's applied migrations to know which release to expect. Every difference carries the
SQL that would fix it; statements carry a rank so that a whole script can run removals in
reverse dependency order, then additions in dependency order.
"""
from __future__ import annotations

from contextlib import contextmanager

import psycopg
from psycopg import sql

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from operator import eq
from typing import Iterable, Mapping

from ..errors import DriftFound
from .describe import comparable_view
from .fixes import Fixer, KINDS


@dataclass
class Difference:
    kind: str
    object: str
    problem: str
    expected: object = None
    actual: object = None
    steps: list[tuple[float, str]] = field(default_factory=list)

    @property
    def fix(self) -> list[str]:
        return [text for _, text in sorted(self.steps, key=lambda s: s[0])]

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.object}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "object": self.object, "problem": self.problem,
                "expected": self.expected, "actual": self.actual, "fix": self.fix}


def compare(expected: dict, actual: dict) -> list[Difference]:
    """Differences from `expected` to `actual`, in dependency order of their kinds."""
    f = Fixer(actual.get("schema") or expected.get("schema") or "public")
    out: list[Difference] = []
    out += _extensions(f, expected.get("extensions", []), actual.get("extensions", []))
    out += _enums(f, expected.get("enums", {}), actual.get("enums", {}))
    out += _keyed(f, "function", expected.get("functions", {}), actual.get("functions", {}))
    et, at = expected.get("tables", {}), actual.get("tables", {})
    es, as_ = expected.get("sequences", {}), actual.get("sequences", {})
    # A sequence owned by a missing or unexpected table comes and goes with that table.
    owned = {n: s for n, s in es.items() if n not in as_ and _owner(s) in set(et) - set(at)}
    gone = {n for n, s in as_.items() if n not in es and _owner(s) in set(at) - set(et)}
    out += _sequences(f, {n: s for n, s in es.items() if n not in owned}, {n: s for n, s in as_.items() if n not in gone})
    out += _tables(f, et, at, owned)
    out += _keyed(f, "view", expected.get("views", {}), actual.get("views", {}), _same_view)
    return sorted(out, key=lambda d: (KINDS.index(d.kind), d.object, d.problem))


def fix_script(diffs: Iterable[Difference]) -> list[str]:
    """Every fix statement, removals first (dependents before what they depend on), then additions."""
    steps = [s for d in diffs for s in d.steps]
    return [text for _, text in sorted(steps, key=lambda s: s[0])]


def _pairs(expected: Mapping, actual: Mapping):
    for name in sorted(set(expected) | set(actual)):
        yield name, expected.get(name), actual.get(name)


def _extensions(f: Fixer, expected: list, actual: list) -> list[Difference]:
    out = []
    for name in sorted(set(expected) - set(actual)):
        out.append(Difference("extension", name, "missing", name, None, f.create_extension(name)))
    for name in sorted(set(actual) - set(expected)):
        out.append(Difference("extension", name, "unexpected", None, name, f.drop_extension(name)))
    return out


def _changes(expected: Mapping, actual: Mapping, same=eq):
    """(name, problem, expected, actual) for every object that differs."""
    for name, e, a in _pairs(expected, actual):
        if e is None or a is None or not same(e, a):
            yield name, "missing" if a is None else "unexpected" if e is None else "different", e, a


def _enums(f: Fixer, expected: Mapping, actual: Mapping) -> list[Difference]:
    return [Difference("enum", name, problem, e, a, f.enum(name, e, a))
            for name, problem, e, a in _changes(expected, actual)]


def _keyed(f: Fixer, kind: str, expected: Mapping, actual: Mapping, same=eq) -> list[Difference]:
    """Functions and views: one definition each, replaced as a whole."""
    return [Difference(kind, name, problem, e, a,
                       f.drop_keyed(kind, name) if e is None else f.replace_keyed(kind, name, e))
            for name, problem, e, a in _changes(expected, actual, same)]


def _same_view(expected: str, actual: str) -> bool:
    # The shipped shapes come from one major; the live server may print views another way.
    return expected == actual or comparable_view(expected) == comparable_view(actual)


def _sequences(f: Fixer, expected: Mapping, actual: Mapping) -> list[Difference]:
    return [Difference("sequence", name, problem, e, a, f.sequence(name, e, a))
            for name, problem, e, a in _changes(expected, actual)]


def _owner(seq: dict) -> str | None:
    return (seq.get("owned_by") or "").partition(".")[0] or None


def _tables(f: Fixer, expected: Mapping, actual: Mapping, owned: Mapping) -> list[Difference]:
    out = []
    for name, e, a in _pairs(expected, actual):
        if a is None:
            steps = [st for n, s in owned.items() if _owner(s) == name for st in f.sequence(n, s, None)]
            out.append(Difference("table", name, "missing", e, None, steps + f.create_table(name, e)))
        elif e is None:
            out.append(Difference("table", name, "unexpected", None, {"columns": sorted(a["columns"])}, f.drop_table(name)))
        elif e != a:
            out += _table_parts(f, name, e, a)
    return out


def _changed(e: dict, a: dict, keys: Iterable[str]) -> tuple[dict, dict]:
    keys = [k for k in keys if e.get(k) != a.get(k)]
    return {k: e.get(k) for k in keys}, {k: a.get(k) for k in keys}


def _table_parts(f: Fixer, table: str, e: dict, a: dict) -> list[Difference]:
    out = []
    for col, ec, ac in _pairs(e["columns"], a["columns"]):
        obj = f"{table}.{col}"
        if ac is None:
            out.append(Difference("column", obj, "missing", ec, None, f.add_column(table, col, ec)))
            continue
        if ec is None:
            out.append(Difference("column", obj, "unexpected", None, ac, f.drop_column(table, col)))
            continue
        want, got = _changed(ec, ac, ("type", "not_null", "default"))
        if want:
            out.append(Difference("column", obj, "different", want, got, f.alter_column(table, col, want)))
        if ec.get("comment") != ac.get("comment"):
            out.append(Difference("comment", obj, "different", ec.get("comment"), ac.get("comment"),
                                  f.comment_column(table, col, ec.get("comment"))))
    for con, ed, ad in _pairs(e["constraints"], a["constraints"]):
        if ed == ad:
            continue
        problem = "missing" if ad is None else "unexpected" if ed is None else "different"
        out.append(Difference("constraint", f"{table}.{con}", problem, ed, ad, f.constraint(table, con, ed, ad)))
    # An index that backs a PRIMARY KEY, UNIQUE or EXCLUDE constraint comes and goes with it.
    backing = {n for cons in (e["constraints"], a["constraints"]) for n, d in cons.items()
               if d.startswith(("PRIMARY KEY", "UNIQUE", "EXCLUDE"))}
    for idx, ei, ai in _pairs(e["indexes"], a["indexes"]):
        if ei == ai:
            continue
        obj = f"{table}.{idx}"
        if ei and ai and ei["definition"] == ai["definition"]:
            if ei["valid"] and not ai["valid"]:
                out.append(Difference("index", obj, "invalid index", ei, ai, f.reindex(idx)))
            continue
        if idx in backing:
            continue
        problem = "missing" if ai is None else "unexpected" if ei is None else "different"
        out.append(Difference("index", obj, problem, ei and ei["definition"], ai and ai["definition"],
                              f.index(idx, ei and ei["definition"], ai is not None)))
    for trg, ed, ad in _pairs(e["triggers"], a["triggers"]):
        if ed == ad:
            continue
        problem = "missing" if ad is None else "unexpected" if ed is None else "different"
        out.append(Difference("trigger", f"{table}.{trg}", problem, ed, ad, f.trigger(table, trg, ed, ad)))
    if e.get("comment") != a.get("comment"):
        out.append(Difference("comment", table, "different", e.get("comment"), a.get("comment"),
                              f.comment_table(table, e.get("comment"))))
    return out


# -- the ignore list -------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRule:
    pattern: str
    reason: str
    source: str  # file:line, so a report says which rule hid a difference

    def matches(self, diff: Difference) -> bool:
        return fnmatch.fnmatchcase(diff.key, self.pattern)


def _granted_ahead(conn: psycopg.Connection, bookkeeping_schema: str, defs, schemas: Iterable[str]) -> list:
    """Extensions a DBA created (or dropped) ahead of the database's release, for granted steps no
    run has reached yet: expected differences, shown as ignored with the grant as the reason."""
    from glob import escape

    from ..bookkeeping.grantlog import TABLE, GrantLog
    from ..privileges.privileges import ext_name

    rules = []
    log = GrantLog(conn, bookkeeping_schema)
    for schema in schemas:
        migrations = defs.schemas[schema].migrations
        for g in log.open(schema):
            m = migrations.get(g.version)
            script = (m.up if g.up else m.down) if m else None
            for name in filter(None, (ext_name(st.node) for st in script.statements if st.privileged) if script else ()):
                rules.append(IgnoreRule(f"extension:{escape(name)}", f"granted ahead: {schema} {g.version} "
                                        f"({g.confirmed_by}); recorded applied when the upgrade reaches it", TABLE))
    return rules


def load_ignore(path: str | Path) -> list[IgnoreRule]:
    """`- pattern: "index:*_tmp"` / `reason: ...` entries, at the top level or under `ignore:`."""
    from ..errors import UsageError
    from ..definitions.yamlfile import YamlError, load_yaml

    path = Path(path)
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read ignore file {path}: {exc.strerror}") from None
    except YamlError as exc:
        raise UsageError(f"{path}:{exc.line}: {exc.message}") from None
    data, prefix = doc.data, ()
    if isinstance(data, dict) and "ignore" in data:
        data, prefix = data["ignore"], ("ignore",)
    if data is None:
        return []
    if not isinstance(data, list):
        raise UsageError(f"{path}: expected a list of `- pattern: ...` / `reason: ...` entries")
    rules = []
    for i, item in enumerate(data):
        line = doc.line(*prefix, i)
        if not isinstance(item, dict) or not isinstance(item.get("pattern"), str) or not str(item.get("reason") or "").strip():
            raise UsageError(f"{path}:{line}: each entry needs a `pattern` (kind:object, shell wildcards) and a `reason`",
                             hint='e.g. - pattern: "index:*_tmp"\n        reason: temporary indexes of the nightly job')
        rules.append(IgnoreRule(item["pattern"], str(item["reason"]).strip(), f"{path.name}:{line}"))
    return rules


def split_ignored(diffs: list[Difference], rules: list[IgnoreRule]) -> tuple[list[Difference], list[tuple[Difference, IgnoreRule]]]:
    kept, ignored = [], []
    for d in diffs:
        rule = next((r for r in rules if r.matches(d)), None)
        if rule is None:
            kept.append(d)
        else:
            ignored.append((d, rule))
    return kept, ignored


# -- a live database against its release -----------------------------------------------------


@dataclass
class DatabaseDrift:
    database: str  # user@host/db, never a password
    schemas: list[str]  # the schemas compared: those with migrations applied here
    versions: dict[str, str]
    differences: list[Difference] = field(default_factory=list)
    ignored: list[tuple[Difference, IgnoreRule]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    exempt: list[str] = field(default_factory=list)  # schemas with nothing applied here
    # Some schema is between releases or has an attempt running: a migrator is (or was) at work,
    # so differences may be its half-way state rather than drift.
    busy: bool = False
    # Nothing recorded, yet the product's tables are there: not "nothing to compare".
    unrecorded: Unrecorded | None = None

    @property
    def drifted(self) -> bool:
        return bool(self.differences) or self.unrecorded is not None

    @property
    def version(self) -> str | None:
        distinct = set(self.versions.values())
        if len(distinct) <= 1:
            return next(iter(distinct), None)
        return ", ".join(f"{s} {v}" for s, v in self.versions.items())

    def as_dict(self) -> dict:
        return {"database": self.database, "schemas": self.schemas, "version": self.version,
                "versions": self.versions, "exempt": self.exempt, "warnings": self.warnings,
                "unrecorded": self.unrecorded.as_dict() if self.unrecorded else None,
                "differences": [d.as_dict() for d in self.differences],
                "ignored": [{**d.as_dict(), "reason": r.reason, "pattern": r.pattern, "rule": r.source}
                            for d, r in self.ignored]}


def check(defs, dsns: Mapping[str, str], *, bookkeeping_schema: str = "public", schemas: list[str] | None = None,
          version: str | None = None, rules: list[IgnoreRule] = (), pg_schema: str = "public",
          load=None) -> list[DatabaseDrift]:
    """Compare each database holding a selected schema with the expected shape of its release.

    A database's expected shape is the merge of the shapes of every schema applied in it, each
    at its own version (derived from migration_logs unless `version` says otherwise).
    """
    from ..bookkeeping.bookkeeping import MigrationLog
    from ..connection import connect, describe_target
    from .describe import describe
    from .expected import load_expected, merge
    from ..bookkeeping.status import schema_version

    load = load or load_expected
    cache: dict[str, dict] = {}
    wanted = schemas or list(defs.schemas)
    for name in wanted:
        defs.schema(name)
    out = []
    for dsn in dict.fromkeys(dsns[s] for s in wanted):
        here = [s for s in defs.schemas if dsns[s] == dsn]  # every schema sharing the database
        report = DatabaseDrift(describe_target(dsn), [], {})
        with connect(dsn, role="drift") as conn, _snapshot(conn):
            shapes = []
            for s in here:
                state = MigrationLog(conn, bookkeeping_schema).state(s)
                if not state.applied:
                    report.exempt.append(s)
                    continue
                report.warnings += _state_warnings(s, state)
                v = defs.release(version).version if version else schema_version(defs, s, state.applied)
                if v is None:
                    report.warnings.append(f"{s}: its applied migrations match no release; its objects show as "
                                           "unexpected (pass --version to compare with a release)")
                    continue
                if v not in cache:
                    cache[v] = load(defs, v)
                if s not in cache[v]:
                    report.warnings.append(f"{s}: release {v} does not have this schema; its objects show as unexpected")
                    continue
                beyond = _beyond(defs, s, v, state.applied)
                report.warnings += beyond
                report.busy = report.busy or bool(beyond or state.in_progress)
                report.schemas.append(s)
                report.versions[s] = v
                shapes.append(cache[v][s])
            if shapes:
                diffs = compare(merge(shapes), describe(conn, pg_schema))
                granted = _granted_ahead(conn, bookkeeping_schema, defs, report.schemas)
                report.differences, report.ignored = split_ignored(diffs, [*rules, *granted])
            elif report.exempt == here:
                report.unrecorded = find_unrecorded(conn, defs, here, bookkeeping_schema, pg_schema)
        out.append(report)
    return out


@contextmanager
def _snapshot(conn):
    """migration_logs and the catalog read in one REPEATABLE READ snapshot: a migrator committing
    meanwhile (its DDL and its log row commit together) is seen entirely or not at all."""
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    with conn.transaction():
        yield


def _state_warnings(schema: str, state) -> list[str]:
    out = []
    if state.failed or state.stale:
        ids = sorted(set(state.failed) | set(state.stale))
        out.append(f"{schema}: migration(s) {', '.join(map(str, ids))} failed or were interrupted; "
                   "their partial effects show as drift (see `pgferry recover`)")
    if state.in_progress:
        out.append(f"{schema}: migration(s) {', '.join(map(str, sorted(state.in_progress)))} are running right now")
    return out


def _beyond(defs, schema: str, version: str, applied) -> list[str]:
    graph = defs.schemas[schema]
    done = graph.normalize(applied)
    required = defs.required(defs.release(version), schema)
    extra = sorted(done - required - set(graph.squashes))
    missing = sorted(required - done)
    out = []
    if extra:
        out.append(f"{schema}: {len(extra)} migration(s) applied beyond {version} ({', '.join(map(str, extra[:5]))}"
                   f"{', ...' if len(extra) > 5 else ''}): their changes show as drift")
    if missing:
        out.append(f"{schema}: {len(missing)} migration(s) of {version} are not applied; their absence shows as drift")
    return out


# -- a database holding the product that its bookkeeping knows nothing about ----------------


@dataclass(frozen=True)
class Unrecorded:
    """The product's tables are there, but the bookkeeping schema has no row about any of the
    database's schemas: a wrong --bookkeeping-schema, or an installation pgferry did not make.
    Planned from that bookkeeping it would look empty, and an install would run over the tables."""

    database: str  # user@host/db, never a password
    bookkeeping_schema: str
    schemas: tuple[str, ...]  # the definitions' schemas living in this database
    tables: tuple[str, ...]  # the product's tables found
    elsewhere: tuple[str, ...]  # other schemas of the database whose migration_logs know these schemas

    @property
    def message(self) -> str:
        n = len(self.tables)
        shown = ", ".join(self.tables[:3]) + (", ..." if n > 3 else "")
        return (f"{self.database} holds {n} of the product's tables ({shown}), but bookkeeping schema "
                f"{self.bookkeeping_schema!r} records no migration of {', '.join(self.schemas)}: it is not an empty "
                "database")

    @property
    def hint(self) -> str:
        if self.elsewhere:
            where = " or ".join(f"--bookkeeping-schema {s}" for s in self.elsewhere)
            return f"its migrations are recorded in another schema: pass {where}"
        return ("no schema of the database records its migrations: if it was installed without pgferry, recording "
                "it at its release (adoption) is a command still to come")

    def as_dict(self) -> dict:
        return {"message": self.message, "hint": self.hint, "schemas": list(self.schemas), "tables": list(self.tables),
                "bookkeeping_schema": self.bookkeeping_schema, "elsewhere": list(self.elsewhere)}


class UnrecordedDatabase(DriftFound):
    def __init__(self, found: Unrecorded):
        super().__init__(found.message + ". Nothing was changed.", hint=found.hint)
        self.found = found


def refuse_unrecorded(defs, dsns: Mapping[str, str], bookkeeping_schema: str = "public",
                      pg_schema: str = "public") -> None:
    """Raise UnrecordedDatabase (exit 5) for the first database holding the product's tables with
    nothing recorded about its schemas. Reads only; meant for when nothing applied was found."""
    from ..connection import connect

    for dsn in dict.fromkeys(dsns.values()):
        here = [s for s in defs.schemas if dsns.get(s) == dsn]
        with connect(dsn, role="status") as conn:
            found = find_unrecorded(conn, defs, here, bookkeeping_schema, pg_schema)
        if found is not None:
            raise UnrecordedDatabase(found)


def find_unrecorded(conn, defs, schemas: Iterable[str], bookkeeping_schema: str = "public",
                    pg_schema: str = "public") -> Unrecorded | None:
    from ..connection import describe_target
    from .describe import BOOKKEEPING
    from ..safetext import printable

    schemas = list(schemas)
    if _recorded(conn, bookkeeping_schema, schemas):
        return None
    live = {name for (name,) in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT (c.relname = ANY(%s))",
        [pg_schema, list(BOOKKEEPING)]).fetchall()}
    ours = sorted(live & _product_tables(defs, schemas, pg_schema)) if live else []
    if not ours:
        return None
    others = [name for (name,) in conn.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = 'migration_logs' AND c.relkind IN ('r', 'p') AND n.nspname <> %s "
        "AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT') ORDER BY 1",
        [bookkeeping_schema]).fetchall()]
    elsewhere = tuple(printable(s, one_line=True) for s in others if _recorded(conn, s, schemas))
    return Unrecorded(describe_target(conn.info.dsn), printable(bookkeeping_schema, one_line=True), tuple(schemas),
                      tuple(ours), elsewhere)


def _recorded(conn, bookkeeping_schema: str, schemas: list[str]) -> bool:
    """Any row at all (applied, reverted, failed, running) about any of `schemas`."""
    from ..bookkeeping.bookkeeping import MigrationLog

    if not MigrationLog(conn, bookkeeping_schema).exists():
        return False
    q = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE schema = ANY(%s))").format(
        sql.Identifier(bookkeeping_schema, "migration_logs"))
    return conn.execute(q, [schemas]).fetchone()[0]


def _product_tables(defs, schemas: list[str], pg_schema: str) -> set[str]:
    """Every table some up migration of `schemas` creates in `pg_schema`."""
    from pglast import ast

    out = set()
    for s in schemas:
        for m in defs.schemas[s].migrations.values():
            for st in m.up.statements:
                if st.kind == "CreateStmt":
                    rel = st.node.relation
                elif st.kind == "CreateTableAsStmt":
                    rel = st.node.into.rel
                else:
                    continue
                if isinstance(rel, ast.RangeVar) and (rel.schemaname or pg_schema) == pg_schema:
                    out.add(rel.relname)
    return out
