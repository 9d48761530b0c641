"""Lint of loaded definitions (docs/design.md §3): warnings about statements that are risky on a
table already holding data, not idempotent, empty or session-level. An author may waive a rule in
metadata.yaml with a reason (`waivers: {rule: reason}`).
"""
from __future__ import annotations

from typing import Mapping

from pglast import ast
from pglast.enums import AlterTableType, VariableSetKind
from pglast.visitors import Visitor

from ..errors import Finding
from . import digraph
from .definitions import Migration
from .graph import SchemaGraph
from .lintrules import STATEMENT_RULES, relname, statement_hits
from .notes import LintNotes
from .sqlfile import Statement

LINT_RULES = {
    **STATEMENT_RULES,
    "idempotency": "DDL without IF [NOT] EXISTS fails when run twice",
    "empty-migration": "an empty up.sql or down.sql records a step that changes nothing",
    "session-setting": "a session-level SET, RESET or set_config(..., false) outlives the migration's transaction",
}


def lint_notes(st: Statement) -> LintNotes:
    """What the lint reads off a statement: as the shipped index says it, else from its tree."""
    if st.notes is not None:
        return st.notes
    n = st.node
    return LintNotes(_created(n), tuple(statement_hits(n)), _idempotency_gap(n), _session_setting(st))


def _created(n: ast.Node) -> str | None:
    """The table or named index a statement creates: the lint is quiet about them."""
    if isinstance(n, ast.CreateStmt):
        return relname(n.relation)
    if isinstance(n, ast.CreateTableAsStmt) and n.into is not None:
        return relname(n.into.rel)
    if isinstance(n, ast.IndexStmt) and n.idxname:
        schema = n.relation.schemaname
        return n.idxname.lower() if schema in (None, "public") else f"{schema.lower()}.{n.idxname.lower()}"
    return None


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
    # a squash re-creates tables its originals created, in earlier releases, and replays history
    # that was linted when it was written
    notes = {m.id: [lint_notes(st) for st in m.up.statements] for m in graph.migrations.values() if not m.replaces}
    creators: dict[str, list[int]] = {}
    for mid, up in notes.items():
        for t in dict.fromkeys(n.creates for n in up if n.creates):
            creators.setdefault(t, []).append(mid)

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
            continue
        for st, note in zip(m.up.statements, notes[m.id]):
            for hit in note.hits:
                if hit.rule not in m.waivers and not new_in_upgrade(hit.table, m):
                    out.append(Finding(m.up.path, st.line, hit.message, f"{hit.fix}; or waive it: `waivers: {{{hit.rule}: <reason>}}`", "warning", hit.rule))
            gap = note.idempotency_gap
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
            what = st.notes.session_setting if st.notes is not None else _session_setting(st)
            if what:
                also = ", and it drops pgferry's lock_timeout for the rest of this migration" if what == "RESET ALL" else ""
                out.append(Finding(
                    script.path, st.line, f"{what} is session-level: it lasts past this migration's transaction "
                    f"(pgferry resets its session after each migration; psql or a DBA running the file does not){also}",
                    f"{_session_setting_fix(what)}; or waive it: `waivers: {{session-setting: <reason>}}`",
                    "warning", "session-setting"))
    return out
