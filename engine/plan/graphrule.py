"""The lint that knows the release graph (docs/design.md §6): a release whose `compatible_with` says
its schema still serves an older release's application must not drop or rename a column that
older application reads. During a rolling update both run at once; the old one fails on its first
query of the column. Pure: definitions only.
"""
from __future__ import annotations

from typing import Iterator

from pglast import ast
from pglast.enums import AlterTableType, ObjectType

from ..definitions.catalog import Definitions
from ..definitions.releases import Release
from .impact import LintFinding

RULE = "compatible-release-reads-column"


def relation_name(rv) -> str:
    """Schema-qualified, "public" when unqualified (the usual search_path), as locking.py names them."""
    return f"{(rv.schemaname or 'public').lower()}.{rv.relname.lower()}"


def column_changes(node) -> Iterator[tuple[str, str, str]]:
    """(relation, column, "drops" | "renames") for each column the statement takes away."""
    if isinstance(node, ast.AlterTableStmt) and node.relation is not None:
        for cmd in node.cmds or ():
            if isinstance(cmd, ast.AlterTableCmd) and cmd.subtype == AlterTableType.AT_DropColumn and cmd.name:
                yield relation_name(node.relation), cmd.name.lower(), "drops"
    elif (isinstance(node, ast.RenameStmt) and node.renameType == ObjectType.OBJECT_COLUMN
          and node.relation is not None and node.subname):
        yield relation_name(node.relation), node.subname.lower(), "renames"


def column_added(node, relation: str, column: str) -> bool:
    if isinstance(node, ast.CreateStmt) and node.relation is not None and relation_name(node.relation) == relation:
        return any(isinstance(e, ast.ColumnDef) and (e.colname or "").lower() == column for e in node.tableElts or ())
    if isinstance(node, ast.AlterTableStmt) and node.relation is not None and relation_name(node.relation) == relation:
        return any(isinstance(c, ast.AlterTableCmd) and c.subtype == AlterTableType.AT_AddColumn
                   and isinstance(c.def_, ast.ColumnDef) and (c.def_.colname or "").lower() == column
                   for c in node.cmds or ())
    if isinstance(node, ast.RenameStmt) and node.renameType == ObjectType.OBJECT_COLUMN and node.relation is not None:
        return relation_name(node.relation) == relation and (node.newname or "").lower() == column
    return False


def has_column(defs: Definitions, release: Release, schema: str, relation: str, column: str) -> bool:
    """Whether the schema at `release` has the column: some migration it has applied adds it and
    none takes it away again."""
    graph = defs.schemas[schema]
    present = False
    for mid in sorted(defs.required(release, schema)):
        m = graph.migrations.get(mid)
        for st in m.up.statements if m else ():
            if column_added(st.node, relation, column):
                present = True
            elif any(c[:2] == (relation, column) for c in column_changes(st.node)):
                present = False
    return present


def graph_findings(defs: Definitions, schema: str, migration, release: str | None) -> list[LintFinding]:
    """An upgrade step of `migration`, introduced by `release`: one finding per older release that
    release claims to serve and whose schema has a column the migration drops or renames."""
    r = defs.releases.find(release) if release else None
    if r is None or r.compatible_with is None:
        return []
    older = defs.releases.releases[:defs.releases.index(r)]
    out: list[LintFinding] = []
    for st in migration.up.statements:
        for relation, column, verb in column_changes(st.node):
            for v in older:
                if r.serves(v) and has_column(defs, v, schema, relation, column):
                    out.append(LintFinding(
                        RULE, "error", f"{r.version} claims to serve {v.version} but {verb} {relation}.{column} "
                        f"that {v.version} reads",
                        f"keep the column until a release that no longer serves {v.version} (narrow compatible_with "
                        f"of {r.version}), or add the new column and drop the old one later"))
                    break  # the oldest served release says it; the newer ones read it too
    return out
