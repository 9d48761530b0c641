"""Static validation and lint of loaded definitions (docs/design.md §3).

Every rule returns `Finding`s that name the file, the line and the fix. Errors make the
definitions unusable; warnings are lint that an author may waive in metadata.yaml with a
reason (`waivers: {rule: reason}`).
"""
from __future__ import annotations

from typing import Collection, Iterable, Mapping

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, VariableSetKind
from pglast.visitors import Visitor

from ..errors import Finding
from . import digraph
from .definitions import Migration
from .graph import SchemaGraph
from .releases import ReleaseCatalogue

LINT_RULES = {
    "create-index-plain": "plain CREATE INDEX locks writes on a table that already holds data",
    "add-column-not-null": "ADD COLUMN ... NOT NULL without DEFAULT fails on a table with rows",
    "add-constraint-valid": "ADD CONSTRAINT without NOT VALID scans the table under a lock",
    "idempotency": "DDL without IF [NOT] EXISTS fails when run twice",
    "empty-migration": "an empty up.sql or down.sql records a step that changes nothing",
    "session-setting": "a session-level SET, RESET or set_config(..., false) outlives the migration's transaction",
}


def _err(m: Migration, which: str, line: int | None, message: str, hint: str, rule: str) -> Finding:
    path = m.metadata_path if which == "metadata" else getattr(m, which).path
    return Finding(path, line, message, hint, "error", rule)


# -- per-migration rules -----------------------------------------------------------------


def check_migration(m: Migration) -> list[Finding]:
    out: list[Finding] = []
    for which in ("up", "down"):
        script = getattr(m, which)
        for st in script.statements:
            if st.transaction_control:
                out.append(_err(m, which, st.line, f"explicit transaction control ({st.text.split()[0].upper()})",
                                "remove it: pgferry runs each migration in its own transaction", "transaction-control"))
            if st.privileged and not m.privileged:
                out.append(_err(m, which, st.line, f"privileged statement ({st.privilege}) in a migration not marked privileged",
                                "move it to its own migration with `privileged: true` in metadata.yaml", "privileged-unmarked"))
            if which == "down" and st.concurrent:
                out.append(_err(m, which, st.line, "CONCURRENTLY in down.sql",
                                "drop CONCURRENTLY: down migrations run in a transaction", "concurrent-down"))
            elif st.non_transactional and not (which == "up" and m.create_index_concurrently and st.is_create_index_concurrently):
                if st.is_create_index_concurrently:
                    out.append(_err(m, which, st.line, "CREATE INDEX CONCURRENTLY in a migration without createIndexConcurrently",
                                    "put it alone in its own migration with `createIndexConcurrently: true`", "cic-unmarked"))
                else:  # down migrations run in a transaction too
                    out.append(_err(m, which, st.line, f"{st.non_transactional} cannot run inside a transaction",
                                    "remove it; pgferry runs each migration in one transaction", "non-transactional"))
    if m.privileged:
        priv = [s for s in m.up.statements if s.privileged]
        plain = [s for s in m.up.statements if not s.privileged]
        if not priv:
            out.append(_err(m, "metadata", m.line_of("privileged"), "marked privileged but up.sql has no privileged statement",
                            "remove `privileged: true` or move the privileged statement here", "privileged-none"))
        elif plain:
            out.append(_err(m, "up", plain[0].line, "privileged migration mixes privileged and ordinary statements",
                            "move the ordinary statements to a child migration so the objects are owned by the application role",
                            "privileged-mixed"))
        plain_down = [s for s in m.down.statements if not s.privileged]
        # Only an actual mix: a down.sql without privileged statements mixes nothing.
        if plain_down and len(plain_down) < len(m.down.statements):
            out.append(_err(m, "down", plain_down[0].line, "privileged migration's down.sql mixes privileged and ordinary statements",
                            "keep only the privileged statements here", "privileged-mixed"))
    if m.create_index_concurrently:
        sts = m.up.statements
        if m.privileged:
            out.append(_err(m, "metadata", m.line_of("createIndexConcurrently"), "a migration cannot be both privileged and createIndexConcurrently",
                            "split it into two migrations", "cic-flag"))
        if len(sts) != 1 or not sts[0].is_create_index_concurrently:
            line = sts[1].line if len(sts) > 1 else (sts[0].line if sts else None)
            out.append(_err(m, "up", line, f"createIndexConcurrently needs exactly one CREATE INDEX CONCURRENTLY and nothing else (found {len(sts)} statement(s))",
                            "keep only the CREATE INDEX CONCURRENTLY statement in up.sql", "cic-flag"))
        elif not sts[0].node.idxname:
            out.append(_err(m, "up", sts[0].line, "CREATE INDEX CONCURRENTLY must name its index",
                            "write CREATE INDEX CONCURRENTLY <name> ON ... so pgferry can check and repair it", "cic-flag"))
    return out


# -- graph rules -------------------------------------------------------------------------


def check_graph(graph: SchemaGraph, broken: Collection[int] = ()) -> list[Finding]:
    """`broken`: ids whose folders failed to load (already reported; not unknown here)."""
    out: list[Finding] = []
    ms = graph.migrations
    for m in ms.values():
        for p in m.parents:
            if p not in ms and p not in broken:
                out.append(Finding(m.metadata_path, m.line_of("parents"), f"unknown parent {p}",
                                   f"use an existing id of schema {graph.name} or add migration {p}", "error", "unknown-parent"))
            if p == m.id:
                out.append(Finding(m.metadata_path, m.line_of("parents"), "a migration cannot be its own parent",
                                   "remove its own id from parents", "error", "cycle"))
        for r in m.replaces:
            if r in broken:
                continue
            if r not in ms:
                out.append(Finding(m.metadata_path, m.line_of("replaces"), f"replaces unknown migration {r}",
                                   "list only ids that exist in this schema", "error", "unknown-replaced"))
            elif r == m.id:
                out.append(Finding(m.metadata_path, m.line_of("replaces"), "a migration cannot replace itself",
                                   "remove its own id from replaces", "error", "cycle"))
            elif ms[r].replaces:
                out.append(Finding(m.metadata_path, m.line_of("replaces"), f"replaces {r}, which is itself a squash",
                                   "replace the original migrations instead", "error", "nested-squash"))
    by_replaced: dict[int, int] = {}
    for m in ms.values():
        for r in m.replaces:
            if r in by_replaced and by_replaced[r] != m.id:
                out.append(Finding(m.metadata_path, m.line_of("replaces"), f"migration {r} is also replaced by {by_replaced[r]}",
                                   "a migration may be replaced by one squash only", "error", "double-squash"))
            by_replaced[r] = m.id
    if out or broken:
        return out  # the graph is not well-formed enough for the rest
    g = digraph.DiGraph((u, v) for u, v in graph.requirement.edges if u in ms and v in ms)
    g.add_nodes_from(ms)
    cycle = digraph.find_cycle(g)
    roots = set(graph.roots())
    if cycle:
        ids = [u for u, _ in cycle] + [cycle[-1][1]]
        first = ms[cycle[0][1]]
        out.append(Finding(first.metadata_path, first.line_of("parents"), "cycle: " + " -> ".join(map(str, ids)),
                           "remove one of these parent links", "error", "cycle"))
        if not roots:
            # Every migration having a parent always closes a cycle; say what is missing too.
            m = ms[min(ms)]
            out.append(Finding(m.metadata_path, m.line_of("parents"), f"schema {graph.name} has no root",
                               "the first migration needs `parents: []`", "error", "no-root"))
        return out
    # A squash and the root it replaces count as one.
    for s, replaced in graph.squashes.items():
        if s in roots and roots & replaced:
            roots.discard(s)
    if len(roots) > 1:
        names = ", ".join(str(r) for r in sorted(roots))
        m = ms[max(roots)]
        out.append(Finding(m.metadata_path, m.line_of("parents"), f"schema {graph.name} has {len(roots)} roots ({names})",
                           "give every migration but the first a parent", "error", "multiple-roots"))
    return out


def check_releases(catalogue: ReleaseCatalogue, graphs: Mapping[str, SchemaGraph],
                   broken: Collection[str] = ()) -> list[Finding]:
    """`broken`: schemas that exist but whose errors are reported already; their leaves are not checked."""
    out: list[Finding] = []
    previous: dict[str, frozenset[int]] = {}
    prev_version: dict[str, str] = {}
    for r in catalogue.releases:
        for schema, leaves in r.leaves.items():
            graph = graphs.get(schema)
            if schema in broken:
                continue
            if graph is None:
                out.append(Finding(catalogue.path, r.line, f"release {r.version} names unknown schema {schema!r}",
                                   f"known schemas: {', '.join(sorted(graphs)) or 'none'}", "error", "release-leaves"))
                continue
            missing = [i for i in leaves if i not in graph.migrations]
            if missing:
                out.append(Finding(catalogue.path, r.line, f"release {r.version}: {schema} leaf {missing[0]} does not exist",
                                   f"use an existing migration id of {schema}", "error", "release-leaves"))
                continue
            required = graph.ancestors(leaves)
            if schema in previous and not previous[schema] <= required:
                lost = sorted(previous[schema] - required)
                out.append(Finding(catalogue.path, r.line,
                                   f"release {r.version}: {schema} drops {len(lost)} migration(s) of {prev_version[schema]} (e.g. {lost[0]})",
                                   "a later release's leaves must descend from every earlier release's leaves", "error", "release-shrinks"))
            previous[schema], prev_version[schema] = required, r.version
        for schema in previous:
            if schema not in r.leaves:
                out.append(Finding(catalogue.path, r.line, f"release {r.version} omits schema {schema}, present in {prev_version[schema]}",
                                   f"list {schema}'s leaves in every release after it appears", "error", "release-shrinks"))
    return out


# -- lint --------------------------------------------------------------------------------


def _relname(rv) -> str | None:
    if rv is None:
        return None
    name = rv.relname.lower() if rv.relname else None
    # public.t and t are the same table for the usual search_path; other schemas stay qualified.
    schema = rv.schemaname.lower() if rv.schemaname else "public"
    return name if schema == "public" else f"{schema}.{name}"


def _created_tables(m: Migration) -> set[str]:
    out: set[str] = set()
    for st in m.up.statements:
        n = st.node
        if isinstance(n, ast.CreateStmt):
            out.add(_relname(n.relation))
        elif isinstance(n, ast.CreateTableAsStmt) and n.into is not None:
            out.add(_relname(n.into.rel))
        elif isinstance(n, ast.RenameStmt) and n.relation is not None and n.newname and n.renameType is not None and n.subname is None:
            # ALTER TABLE a RENAME TO b keeps the "new in this upgrade" status of a.
            pass
    return {t for t in out if t}


def _idempotency_gap(node: ast.Node) -> str | None:
    if isinstance(node, ast.CreateStmt) and not node.if_not_exists:
        return "CREATE TABLE without IF NOT EXISTS"
    if isinstance(node, ast.IndexStmt) and not node.if_not_exists:
        return "CREATE INDEX without IF NOT EXISTS"
    if isinstance(node, ast.CreateSeqStmt) and not node.if_not_exists:
        return "CREATE SEQUENCE without IF NOT EXISTS"
    if isinstance(node, ast.CreateSchemaStmt) and not node.if_not_exists:
        return "CREATE SCHEMA without IF NOT EXISTS"
    if isinstance(node, ast.CreateExtensionStmt) and not node.if_not_exists:
        return "CREATE EXTENSION without IF NOT EXISTS"
    if isinstance(node, ast.DropStmt) and not node.missing_ok:
        return "DROP without IF EXISTS"
    if isinstance(node, ast.AlterTableStmt):
        for cmd in node.cmds or ():
            if cmd.subtype == AlterTableType.AT_AddColumn and not cmd.missing_ok:
                return "ADD COLUMN without IF NOT EXISTS"
            if cmd.subtype == AlterTableType.AT_DropColumn and not cmd.missing_ok:
                return "DROP COLUMN without IF EXISTS"
    return None


def _table_rules(node: ast.Node):
    """Yield (rule, message, table) for statements that are risky on an existing table."""
    if isinstance(node, ast.IndexStmt) and not node.concurrent:
        yield "create-index-plain", "plain CREATE INDEX blocks writes while it builds", _relname(node.relation)
    if isinstance(node, ast.AlterTableStmt):
        table = _relname(node.relation)
        for cmd in node.cmds or ():
            d = cmd.def_
            if cmd.subtype == AlterTableType.AT_AddColumn and isinstance(d, ast.ColumnDef):
                kinds = {c.contype for c in (d.constraints or ()) if isinstance(c, ast.Constraint)}
                if (d.is_not_null or ConstrType.CONSTR_NOTNULL in kinds or ConstrType.CONSTR_PRIMARY in kinds) and not (
                    kinds & {ConstrType.CONSTR_DEFAULT, ConstrType.CONSTR_IDENTITY, ConstrType.CONSTR_GENERATED}
                ):
                    yield "add-column-not-null", f"ADD COLUMN {d.colname} NOT NULL without DEFAULT fails on a table with rows", table
            if cmd.subtype == AlterTableType.AT_AddConstraint and isinstance(d, ast.Constraint):
                if d.contype in (ConstrType.CONSTR_FOREIGN, ConstrType.CONSTR_CHECK) and not d.skip_validation:
                    yield "add-constraint-valid", "ADD CONSTRAINT without NOT VALID scans the table under an exclusive lock", table


class _SessionSetConfig(Visitor):
    """Finds set_config(name, value, false) calls: the session-level form of SET."""

    def __init__(self):
        super().__init__()
        self.found: str | None = None

    def visit_FuncCall(self, ancestors, node: ast.FuncCall) -> None:
        if self.found is None and node.funcname[-1].sval == "set_config" and len(node.args or ()) == 3 \
                and _constant_false(node.args[2]):
            name = node.args[0].val.sval if isinstance(node.args[0], ast.A_Const) and isinstance(
                node.args[0].val, ast.String) else "..."
            self.found = f"set_config('{name}', ..., false)"


def _constant_false(arg: ast.Node) -> bool:
    if isinstance(arg, ast.TypeCast):
        arg = arg.arg
    if not isinstance(arg, ast.A_Const) or arg.isnull:
        return False
    v = arg.val
    if isinstance(v, ast.Boolean):
        return not v.boolval
    return isinstance(v, ast.String) and v.sval.strip().lower() in ("false", "f", "off", "no", "n", "0")


def _session_setting(st) -> str | None:
    """The session-level setting a statement makes (it outlives the migration's transaction), or None.

    Besides reaching past the migration, RESET ALL and SET ... TO DEFAULT drop pgferry's own
    lock_timeout and client_connection_check_interval for the rest of the migration."""
    if st.kind == "VariableSetStmt":
        n = st.node
        if n.is_local or n.kind == VariableSetKind.VAR_SET_MULTI and n.name == "TRANSACTION":
            return None  # SET LOCAL, SET TRANSACTION: this transaction only
        if n.kind == VariableSetKind.VAR_RESET_ALL:
            return "RESET ALL"
        if n.kind == VariableSetKind.VAR_RESET:
            return f"RESET {n.name}"
        if n.kind == VariableSetKind.VAR_SET_DEFAULT:
            return f"SET {n.name} TO DEFAULT"
        return "SET SESSION CHARACTERISTICS" if n.name == "SESSION CHARACTERISTICS" else f"SET {n.name}"
    if "set_config" in st.text.lower():  # only then is the tree worth building
        finder = _SessionSetConfig()
        finder(st.node)
        return finder.found
    return None


def _session_setting_fix(what: str) -> str:
    if what.startswith("set_config"):
        return "pass true as set_config's third argument: the setting then ends with the migration's transaction"
    if what == "SET SESSION CHARACTERISTICS":
        return "use SET TRANSACTION ... for this migration's transaction"
    return "use SET LOCAL (it ends with the migration's transaction), or reset only what this migration set"


def lint(graph: SchemaGraph, intro: Mapping[int, str]) -> list[Finding]:
    """Lint warnings with DAG context: a table created earlier in the same release is new."""
    out: list[Finding] = []
    creators: dict[str, list[int]] = {}
    for m in graph.migrations.values():
        if m.replaces:
            continue  # a squash re-creates tables its originals created, in earlier releases
        for t in _created_tables(m):
            creators.setdefault(t, []).append(m.id)

    def new_in_upgrade(table: str | None, m: Migration) -> bool:
        if table is None:
            return False
        for c in creators.get(table, ()):
            if c == m.id:
                return True
            if intro.get(c) == intro.get(m.id) and digraph.has_path(graph.requirement, c, m.id):
                return True
        return False

    for m in graph.migrations.values():
        out += _session_settings(m)
        if m.replaces:
            continue  # a squash replays history that was linted when it was written
        for st in m.up.statements:
            for rule, message, table in _table_rules(st.node):
                if rule not in m.waivers and not new_in_upgrade(table, m):
                    out.append(Finding(m.up.path, st.line, message, f"{_lint_fix(rule)}; or waive it: `waivers: {{{rule}: <reason>}}`", "warning", rule))
            gap = _idempotency_gap(st.node)
            if gap and not m.non_idempotent and "idempotency" not in m.waivers:
                out.append(Finding(m.up.path, st.line, f"{gap}: running it twice fails", "add IF [NOT] EXISTS, or mark the migration `nonIdempotent: true`", "warning", "idempotency"))
        for which in ("up", "down"):
            script = getattr(m, which)
            if script.empty and "empty-migration" not in m.waivers and not (which == "down" and m.replaces):
                out.append(Finding(script.path, 1, f"{which}.sql has no statement",
                                   "write the migration, or waive it: `waivers: {empty-migration: <reason>}`",
                                   "warning", "empty-migration"))
        for rule in m.waivers:
            if rule not in LINT_RULES:
                out.append(Finding(m.metadata_path, m.line_of("waivers"), f"waiver for unknown rule {rule!r}", f"known rules: {', '.join(LINT_RULES)}", "warning", "waiver"))
    return out


def _session_settings(m: Migration) -> list[Finding]:
    """Session-level settings, squashes included: a pg_dump header (set_config('search_path', '',
    false)) pasted into a squash is the usual way one gets in."""
    if "session-setting" in m.waivers:
        return []
    out = []
    for which in ("up", "down"):
        script = getattr(m, which)
        for st in script.statements:
            what = _session_setting(st)
            if what:
                also = ", and it drops pgferry's lock_timeout for the rest of this migration" if what == "RESET ALL" else ""
                out.append(Finding(
                    script.path, st.line, f"{what} is session-level: it lasts past this migration's transaction "
                    f"(pgferry resets its session after each migration; psql or a DBA running the file does not){also}",
                    f"{_session_setting_fix(what)}; or waive it: `waivers: {{session-setting: <reason>}}`",
                    "warning", "session-setting"))
    return out


def _lint_fix(rule: str) -> str:
    return {
        "create-index-plain": "use a separate migration with CREATE INDEX CONCURRENTLY and createIndexConcurrently: true",
        "add-column-not-null": "add a DEFAULT, or add the column nullable, backfill, then SET NOT NULL",
        "add-constraint-valid": "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration",
    }[rule]


def introduced_in(graph: SchemaGraph, catalogue: ReleaseCatalogue) -> dict[int, str]:
    """The first release whose leaves need each migration; unreleased ones map to 'unreleased'.

    One walk over the whole history: each release only visits what no earlier release reached."""
    intro: dict[int, str] = {}
    g = graph.requirement
    for r in catalogue.releases:
        stack = [i for i in r.leaves.get(graph.name, ()) if i in graph.migrations and i not in intro]
        while stack:
            n = stack.pop()
            if n in intro:
                continue
            intro[n] = r.version
            stack.extend(p for p in g.predecessors(n) if p not in intro)
    for i in graph.migrations:
        intro.setdefault(i, "unreleased")
    return intro


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.severity != "error", f.path, f.line or 0, f.message))
