"""Lint of loaded definitions (docs/design.md §3): warnings about statements that are risky on a
table already holding data, not idempotent, empty or session-level. An author may waive a rule in
metadata.yaml with a reason (`waivers: {rule: reason}`).
"""
from __future__ import annotations

from typing import Mapping

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, VariableSetKind
from pglast.visitors import Visitor

from ..errors import Finding
from . import digraph
from .definitions import Migration
from .graph import SchemaGraph

LINT_RULES = {
    "create-index-plain": "plain CREATE INDEX locks writes on a table that already holds data",
    "add-column-not-null": "ADD COLUMN ... NOT NULL without DEFAULT fails on a table with rows",
    "add-constraint-valid": "ADD CONSTRAINT without NOT VALID scans the table under a lock",
    "idempotency": "DDL without IF [NOT] EXISTS fails when run twice",
    "empty-migration": "an empty up.sql or down.sql records a step that changes nothing",
    "session-setting": "a session-level SET, RESET or set_config(..., false) outlives the migration's transaction",
}


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


# Statements that fail when what they create exists already (or what they drop is gone): the
# node's field that says IF [NOT] EXISTS was written, and what the finding calls the statement.
_GUARDED = {
    ast.CreateStmt: ("if_not_exists", "CREATE TABLE without IF NOT EXISTS"),
    ast.IndexStmt: ("if_not_exists", "CREATE INDEX without IF NOT EXISTS"),
    ast.CreateSeqStmt: ("if_not_exists", "CREATE SEQUENCE without IF NOT EXISTS"),
    ast.CreateSchemaStmt: ("if_not_exists", "CREATE SCHEMA without IF NOT EXISTS"),
    ast.CreateExtensionStmt: ("if_not_exists", "CREATE EXTENSION without IF NOT EXISTS"),
    ast.DropStmt: ("missing_ok", "DROP without IF EXISTS"),
}


def _idempotency_gap(node: ast.Node) -> str | None:
    guard = _GUARDED.get(type(node))
    if guard is not None:
        field, gap = guard
        return None if getattr(node, field) else gap
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
