"""What one statement locks and what work it does, read from its parse tree (no database).

For every statement: the relations it locks and in which mode (PostgreSQL's documented levels:
"Explicit Locking" and each command's page; ALTER TABLE's subcommands in altertable.py), what
each lock blocks, and the work (scan, rewrite, index build, catalog only) whose cost depends on
the size of `tables`. Statements it does not model say so (`known` False) and claim no lock.
engine/upgrade/impact.py turns these into time estimates with the live sizes;
tests/engine/test_locking.py checks the modes against pg_locks on a real server.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from pglast import ast
from pglast.enums import ObjectType

from . import altertable, datacommands
from .datacommands import Acc, read_tables
from .altertable import qualified, type_of
from .lockmodes import Blocks, LockMode, Work, strongest  # noqa: F401 - Work and Blocks are part of this API


@dataclass(frozen=True)
class LockTake:
    relation: str  # "schema.name"
    mode: LockMode

    @property
    def blocks(self) -> Blocks:
        return self.mode.blocks


@dataclass(frozen=True)
class StatementEffect:
    command: str  # "ALTER TABLE", "CREATE INDEX CONCURRENTLY", ...
    locks: tuple[LockTake, ...] = ()
    work: tuple[Work, ...] = ()
    tables: tuple[str, ...] = ()  # relations whose size the work depends on
    created: tuple[str, ...] = ()  # those of `tables` made earlier in the script or plan: empty
    new_relations: tuple[str, ...] = ()  # relations this statement creates
    volatile_default: bool | None = None  # ADD COLUMN ... DEFAULT: volatile (rewrite) or not
    concurrent: bool = False
    known: bool = True  # False: not modelled, no lock claimed
    notes: tuple[str, ...] = ()

    def lock_on(self, relation: str) -> LockMode | None:
        return strongest(t.mode for t in self.locks if t.relation == relation)

    @property
    def blocks(self) -> Blocks:
        """The worst any of its locks blocks."""
        order = list(Blocks)
        return max((t.blocks for t in self.locks), key=order.index, default=Blocks.NOTHING)


def _names(names) -> str:
    parts = [n.sval for n in names]
    return ".".join(parts) if len(parts) > 1 else f"public.{parts[0]}"


# -- one handler per statement kind -----------------------------------------------------------

def _create_table(n: ast.CreateStmt, ctx) -> Acc:
    acc = Acc("CREATE TABLE")
    name = qualified(n.relation)
    acc.new.append(name)
    acc.lock(name, LockMode.ACCESS_EXCLUSIVE).does(Work.CATALOG_ONLY)
    cons = [c for c in (n.tableElts or ()) if isinstance(c, ast.Constraint)]
    for col in (e for e in (n.tableElts or ()) if isinstance(e, ast.ColumnDef)):
        cons += [c for c in (col.constraints or ()) if isinstance(c, ast.Constraint)]
    for c in cons:
        if c.pktable is not None:  # REFERENCES: a trigger on the referenced table
            acc.lock(qualified(c.pktable), LockMode.SHARE_ROW_EXCLUSIVE)
    if n.partbound is not None:
        for parent in n.inhRelations or ():
            acc.lock(qualified(parent), LockMode.ACCESS_EXCLUSIVE)
    return acc


def _create_table_as(n: ast.CreateTableAsStmt, ctx) -> Acc:
    view = n.objtype == ObjectType.OBJECT_MATVIEW
    acc = Acc("CREATE MATERIALIZED VIEW" if view else "CREATE TABLE AS")
    name = qualified(n.into.rel)
    acc.new.append(name)
    acc.lock(name, LockMode.ACCESS_EXCLUSIVE)
    sources = read_tables(n.query)
    for t in sources:
        acc.lock(t, LockMode.ACCESS_SHARE)
    if n.into.skipData:
        return acc.does(Work.CATALOG_ONLY)
    return acc.does(Work.SCAN, on=sources)


def _create_index(n: ast.IndexStmt, ctx) -> Acc:
    acc = Acc("CREATE INDEX CONCURRENTLY" if n.concurrent else "CREATE INDEX", concurrent=bool(n.concurrent))
    table = qualified(n.relation)
    if n.idxname:
        acc.new.append(f"{n.relation.schemaname or 'public'}.{n.idxname}")
    mode = LockMode.SHARE_UPDATE_EXCLUSIVE if n.concurrent else LockMode.SHARE
    return acc.lock(table, mode).does(Work.INDEX_BUILD, on=[table])


def _alter_table(n: ast.AlterTableStmt, ctx) -> Acc:
    kind = {ObjectType.OBJECT_INDEX: "ALTER INDEX", ObjectType.OBJECT_VIEW: "ALTER VIEW",
            ObjectType.OBJECT_MATVIEW: "ALTER MATERIALIZED VIEW", ObjectType.OBJECT_SEQUENCE: "ALTER SEQUENCE"}
    acc = Acc(kind.get(n.objtype, "ALTER TABLE"))
    table = qualified(n.relation)
    columns = ctx.columns.get(table)
    for cmd in n.cmds or ():
        sub = altertable.subcommand(cmd, columns)
        acc.lock(table, sub.mode)
        for relation, mode in sub.other_locks:
            acc.lock(relation, mode)
        acc.does(*sub.work, on=[table] if set(sub.work) - {Work.CATALOG_ONLY} else [])
        acc.notes += sub.notes
        acc.known &= sub.known
        if sub.volatile_default is not None:
            acc.volatile = bool(acc.volatile) or sub.volatile_default
    if Work.CATALOG_ONLY in acc.work and len(acc.work) > 1:
        acc.work.remove(Work.CATALOG_ONLY)
    return acc


_DROPPED_RELATIONS = {
    ObjectType.OBJECT_TABLE: "DROP TABLE", ObjectType.OBJECT_VIEW: "DROP VIEW",
    ObjectType.OBJECT_MATVIEW: "DROP MATERIALIZED VIEW", ObjectType.OBJECT_SEQUENCE: "DROP SEQUENCE",
    ObjectType.OBJECT_FOREIGN_TABLE: "DROP FOREIGN TABLE",
}
# Objects defined on a table (`DROP TRIGGER t ON tbl`): the table is locked ACCESS EXCLUSIVE.
_DROPPED_ON_TABLE = {ObjectType.OBJECT_TRIGGER: "DROP TRIGGER", ObjectType.OBJECT_RULE: "DROP RULE",
                     ObjectType.OBJECT_POLICY: "DROP POLICY"}


def _drop(n: ast.DropStmt, ctx) -> Acc:
    kind = n.removeType
    objects = [o if isinstance(o, tuple) else (o,) for o in (n.objects or ())]
    if kind in _DROPPED_RELATIONS:
        acc = Acc(_DROPPED_RELATIONS[kind])
        for o in objects:
            acc.lock(_names(o), LockMode.ACCESS_EXCLUSIVE)
        if kind == ObjectType.OBJECT_TABLE:
            acc.notes.append("a foreign key to another table also locks that table ACCESS EXCLUSIVE")
        return acc.does(Work.CATALOG_ONLY)
    if kind == ObjectType.OBJECT_INDEX:
        acc = Acc("DROP INDEX CONCURRENTLY" if n.concurrent else "DROP INDEX", concurrent=bool(n.concurrent))
        mode = LockMode.SHARE_UPDATE_EXCLUSIVE if n.concurrent else LockMode.ACCESS_EXCLUSIVE
        for o in objects:
            index = _names(o)
            acc.lock(index, mode)
            table = ctx.indexes.get(index)
            if table:
                acc.lock(table, mode)
            else:
                acc.notes.append(f"{index}: its table is locked {mode} too")
        return acc.does(Work.CATALOG_ONLY)
    if kind in _DROPPED_ON_TABLE:
        acc = Acc(_DROPPED_ON_TABLE[kind])
        for o in objects:
            acc.lock(_names(o[:-1]), LockMode.ACCESS_EXCLUSIVE)
        return acc.does(Work.CATALOG_ONLY)
    acc = Acc(f"DROP {kind.name[7:].replace('_', ' ')}")
    acc.notes.append("no table lock, unless CASCADE drops something a table depends on")
    return acc.does(Work.CATALOG_ONLY)


_RENAME_LOCKS = {
    ObjectType.OBJECT_TABLE: LockMode.ACCESS_EXCLUSIVE, ObjectType.OBJECT_COLUMN: LockMode.ACCESS_EXCLUSIVE,
    ObjectType.OBJECT_TABCONSTRAINT: LockMode.ACCESS_EXCLUSIVE, ObjectType.OBJECT_VIEW: LockMode.ACCESS_EXCLUSIVE,
    ObjectType.OBJECT_MATVIEW: LockMode.ACCESS_EXCLUSIVE, ObjectType.OBJECT_SEQUENCE: LockMode.ACCESS_EXCLUSIVE,
    ObjectType.OBJECT_TRIGGER: LockMode.ACCESS_EXCLUSIVE, ObjectType.OBJECT_POLICY: LockMode.ACCESS_EXCLUSIVE,
    ObjectType.OBJECT_INDEX: LockMode.SHARE_UPDATE_EXCLUSIVE,  # PostgreSQL 12+
}


def _rename(n: ast.RenameStmt, ctx) -> Acc:
    what = n.renameType
    acc = Acc(f"RENAME {what.name[7:].replace('_', ' ')}")
    mode = _RENAME_LOCKS.get(what)
    if mode is not None and n.relation is not None:
        acc.lock(qualified(n.relation), mode)
    return acc.does(Work.CATALOG_ONLY)


def _trigger(n: ast.CreateTrigStmt, ctx) -> Acc:
    return Acc("CREATE TRIGGER").lock(qualified(n.relation), LockMode.SHARE_ROW_EXCLUSIVE).does(Work.CATALOG_ONLY)


def _policy(n, ctx) -> Acc:
    return Acc("POLICY").lock(_table_of(n), LockMode.ACCESS_EXCLUSIVE).does(Work.CATALOG_ONLY)


def _table_of(n) -> str:
    return qualified(n.table)


_COMMENTED_RELATIONS = {ObjectType.OBJECT_TABLE, ObjectType.OBJECT_VIEW, ObjectType.OBJECT_MATVIEW,
                        ObjectType.OBJECT_INDEX, ObjectType.OBJECT_SEQUENCE, ObjectType.OBJECT_FOREIGN_TABLE}
_COMMENTED_ON_TABLE = {ObjectType.OBJECT_COLUMN, ObjectType.OBJECT_TABCONSTRAINT, ObjectType.OBJECT_TRIGGER,
                       ObjectType.OBJECT_POLICY, ObjectType.OBJECT_RULE}


def _comment(n: ast.CommentStmt, ctx) -> Acc:
    acc = Acc("COMMENT").does(Work.CATALOG_ONLY)
    names = n.object if isinstance(n.object, tuple) else None
    if names and n.objtype in _COMMENTED_RELATIONS:
        acc.lock(_names(names), LockMode.SHARE_UPDATE_EXCLUSIVE)
    elif names and n.objtype in _COMMENTED_ON_TABLE:
        acc.lock(_names(names[:-1]), LockMode.SHARE_UPDATE_EXCLUSIVE)
    return acc


def _view(n: ast.ViewStmt, ctx) -> Acc:
    acc = Acc("CREATE VIEW")
    name = qualified(n.view)
    if n.replace:  # an existing view is replaced under ACCESS EXCLUSIVE; a new one is new
        acc.lock(name, LockMode.ACCESS_EXCLUSIVE)
    else:
        acc.new.append(name)
    return acc.does(Work.CATALOG_ONLY)


# Statements that change only the catalog and lock no table.
_CATALOG_STATEMENTS = {
    ast.AlterEnumStmt: "ALTER TYPE", ast.CreateEnumStmt: "CREATE TYPE", ast.CompositeTypeStmt: "CREATE TYPE",
    ast.CreateDomainStmt: "CREATE DOMAIN", ast.DefineStmt: "CREATE", ast.CreateFunctionStmt: "CREATE FUNCTION",
    ast.AlterFunctionStmt: "ALTER FUNCTION", ast.CreateSeqStmt: "CREATE SEQUENCE", ast.CreateSchemaStmt: "CREATE SCHEMA",
    ast.CreateExtensionStmt: "CREATE EXTENSION", ast.AlterExtensionStmt: "ALTER EXTENSION", ast.GrantStmt: "GRANT",
    ast.GrantRoleStmt: "GRANT", ast.CreateRoleStmt: "CREATE ROLE", ast.AlterRoleStmt: "ALTER ROLE",
    ast.AlterDefaultPrivilegesStmt: "ALTER DEFAULT PRIVILEGES", ast.AlterOwnerStmt: "ALTER OWNER",
    ast.VariableSetStmt: "SET", ast.TransactionStmt: "TRANSACTION", ast.CreateCastStmt: "CREATE CAST",
    ast.AlterSeqStmt: "ALTER SEQUENCE",
}

_HANDLERS = {
    ast.CreateStmt: _create_table, ast.CreateTableAsStmt: _create_table_as, ast.IndexStmt: _create_index,
    ast.AlterTableStmt: _alter_table, ast.DropStmt: _drop, ast.RenameStmt: _rename, ast.CreateTrigStmt: _trigger,
    ast.CreatePolicyStmt: _policy, ast.AlterPolicyStmt: _policy, ast.CommentStmt: _comment,
    ast.InsertStmt: datacommands.dml, ast.UpdateStmt: datacommands.dml, ast.DeleteStmt: datacommands.dml, ast.VacuumStmt: datacommands.vacuum,
    ast.ClusterStmt: datacommands.cluster, ast.ReindexStmt: datacommands.reindex, ast.RefreshMatViewStmt: datacommands.refresh, ast.LockStmt: datacommands.lock,
    ast.TruncateStmt: datacommands.truncate, ast.ViewStmt: _view, ast.SelectStmt: datacommands.select,
}


@dataclass(frozen=True)
class _Context:
    indexes: Mapping[str, str]  # index -> its table
    columns: Mapping[str, Mapping[str, tuple]]  # table -> column -> type_of(...)


def analyse(node: ast.Node, *, created: Iterable[str] = frozenset(), indexes: Mapping[str, str] | None = None,
            columns: Mapping[str, Mapping[str, tuple]] | None = None) -> StatementEffect:
    """One statement's locks and work. `created`: relations made earlier in the script or plan
    (empty: their work costs nothing); `indexes` (index -> table) and `columns` (table -> column ->
    type) from the catalog or earlier statements, where known, sharpen DROP INDEX and ALTER TYPE."""
    if isinstance(node, ast.RawStmt):
        node = node.stmt
    handler = _HANDLERS.get(type(node))
    ctx = _Context(indexes or {}, columns or {})
    if handler is not None:
        acc = handler(node, ctx)
    elif type(node) in _CATALOG_STATEMENTS:
        acc = Acc(_CATALOG_STATEMENTS[type(node)]).does(Work.CATALOG_ONLY)
    else:
        return StatementEffect(type(node).__name__, known=False, notes=("statement not modelled: no lock claimed",))
    effect = StatementEffect(
        acc.command, tuple(LockTake(r, m) for r, m in acc.locks.items()), tuple(Work(w) for w in acc.work),
        tuple(acc.tables), (), tuple(acc.new), acc.volatile, acc.concurrent, acc.known, tuple(acc.notes))
    return _with_created(effect, set(created))


def _with_created(effect: StatementEffect, created: set[str]) -> StatementEffect:
    """Tables made earlier are empty: whatever the work, it is as cheap as the catalog."""
    mine = tuple(t for t in effect.tables if t in created)
    if not mine:
        return effect
    work = effect.work if len(mine) < len(effect.tables) else (Work.CATALOG_ONLY,)
    return replace(effect, created=mine, work=work,
                   notes=effect.notes + tuple(f"{t} is created earlier in this plan: empty" for t in mine))


def analyse_script(script, *, created: Iterable[str] = frozenset(), indexes: Mapping[str, str] | None = None,
                   columns: Mapping[str, Mapping[str, tuple]] | None = None) -> list[StatementEffect]:
    """Every statement of a script (an SqlScript, or statements / parse nodes) in order; what an
    earlier statement creates (tables, indexes, column types) informs the later ones."""
    made = set(created)
    index_of = dict(indexes or {})
    column_types = {t: dict(c) for t, c in (columns or {}).items()}
    out = []
    for st in getattr(script, "statements", script):
        node = getattr(st, "node", st)
        effect = analyse(node, created=made, indexes=index_of, columns=column_types)
        out.append(effect)
        _remember(node, effect, made, index_of, column_types)
    return out


def _remember(node, effect: StatementEffect, made: set, index_of: dict, column_types: dict) -> None:
    made.update(r for r in effect.new_relations)
    if isinstance(node, ast.IndexStmt) and node.idxname:
        index_of[f"{node.relation.schemaname or 'public'}.{node.idxname}"] = qualified(node.relation)
    elif isinstance(node, ast.CreateStmt):
        column_types[qualified(node.relation)] = {
            e.colname: type_of(e.typeName) for e in (node.tableElts or ()) if isinstance(e, ast.ColumnDef) and e.typeName}
    elif isinstance(node, ast.RenameStmt) and node.renameType == ObjectType.OBJECT_TABLE and node.relation is not None:
        old = qualified(node.relation)
        new = f"{node.relation.schemaname or 'public'}.{node.newname}"
        if old in made:
            made.add(new)
        if old in column_types:
            column_types[new] = column_types.pop(old)
