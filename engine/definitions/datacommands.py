"""The data and maintenance commands' locks and work (INSERT, UPDATE, DELETE, SELECT, VACUUM,
ANALYZE, CLUSTER, REINDEX, REFRESH MATERIALIZED VIEW, LOCK, TRUNCATE), and the accumulator every
handler of locking.py fills: one module per job, locking.py keeps the DDL."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from pglast import ast
from pglast.enums import ReindexObjectType
from pglast.visitors import Visitor

from .altertable import qualified
from .lockmodes import LockMode, Work, strongest


@dataclass
class Acc:
    command: str
    locks: dict[str, LockMode] = field(default_factory=dict)
    work: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    volatile: bool | None = None
    concurrent: bool = False
    known: bool = True

    def lock(self, relation: str, mode: LockMode) -> "Acc":
        held = self.locks.get(relation)
        self.locks[relation] = mode if held is None else strongest((held, mode))
        return self

    def does(self, *work: str, on: Iterable[str] = ()) -> "Acc":
        self.work += [w for w in work if w not in self.work]
        self.tables += [t for t in on if t not in self.tables and t not in self.new]
        return self


class _RangeVars(Visitor):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def visit_RangeVar(self, ancestors, node: ast.RangeVar) -> None:
        name = qualified(node)
        if name not in self.found:
            self.found.append(name)


def read_tables(node) -> list[str]:
    """Every table a query names (CTE names included: harmless, they have no size)."""
    if node is None:
        return []
    v = _RangeVars()
    v(node)
    return v.found


def dml(n, ctx) -> Acc:
    verb = type(n).__name__[:-4].upper()
    acc = Acc(verb)
    table = qualified(n.relation)
    acc.lock(table, LockMode.ROW_EXCLUSIVE)
    sources = [t for t in read_tables(getattr(n, "selectStmt", None)) + read_tables(getattr(n, "fromClause", None))
               + read_tables(getattr(n, "usingClause", None)) if t != table]
    for t in sources:
        acc.lock(t, LockMode.ACCESS_SHARE)
    if isinstance(n, ast.InsertStmt):
        return acc.does(Work.SCAN, on=sources) if sources else acc.does(Work.ROWS)
    if _narrow(n.whereClause):
        return acc.does(Work.ROWS)
    acc.notes.append(f"{verb} without a narrow WHERE reads and writes every matching row of {table} in one transaction")
    return acc.does(Work.SCAN, on=[table, *sources])


def _narrow(where) -> bool:
    """WHERE col = constant (or IN a list of them), alone or ANDed with anything."""
    if where is None:
        return False
    if isinstance(where, ast.BoolExpr) and where.boolop == 0:  # AND
        return any(_narrow(a) for a in where.args)
    if isinstance(where, ast.A_Expr) and where.kind in (0, 6) and where.name[-1].sval == "=":
        return isinstance(where.lexpr, ast.ColumnRef) and (
            isinstance(where.rexpr, (ast.A_Const, ast.ParamRef, ast.TypeCast))
            or isinstance(where.rexpr, tuple) and all(isinstance(x, ast.A_Const) for x in where.rexpr))
    return False


def vacuum(n: ast.VacuumStmt, ctx) -> Acc:
    opts = {o.defname for o in (n.options or ())}
    tables = [qualified(r.relation) for r in (n.rels or ()) if r.relation is not None]
    if not n.is_vacuumcmd:
        acc, mode, work = Acc("ANALYZE"), LockMode.SHARE_UPDATE_EXCLUSIVE, Work.SCAN
    elif "full" in opts:
        acc, mode, work = Acc("VACUUM FULL"), LockMode.ACCESS_EXCLUSIVE, Work.REWRITE
    else:
        acc, mode, work = Acc("VACUUM"), LockMode.SHARE_UPDATE_EXCLUSIVE, Work.SCAN
    for t in tables:
        acc.lock(t, mode)
    if not tables:
        acc.notes.append("every table of the database, one at a time")
    return acc.does(work, on=tables)


def cluster(n: ast.ClusterStmt, ctx) -> Acc:
    acc = Acc("CLUSTER")
    if n.relation is None:
        acc.notes.append("every table clustered before, one at a time")
        return acc.does(Work.REWRITE, Work.INDEX_BUILD)
    table = qualified(n.relation)
    return acc.lock(table, LockMode.ACCESS_EXCLUSIVE).does(Work.REWRITE, Work.INDEX_BUILD, on=[table])


def reindex(n: ast.ReindexStmt, ctx) -> Acc:
    concurrent = any(p.defname == "concurrently" for p in (n.params or ()))
    acc = Acc("REINDEX CONCURRENTLY" if concurrent else "REINDEX", concurrent=concurrent)
    table_mode = LockMode.SHARE_UPDATE_EXCLUSIVE if concurrent else LockMode.SHARE
    if n.kind == ReindexObjectType.REINDEX_OBJECT_TABLE:
        table = qualified(n.relation)
        return acc.lock(table, table_mode).does(Work.INDEX_BUILD, on=[table])
    if n.kind == ReindexObjectType.REINDEX_OBJECT_INDEX:
        index = qualified(n.relation)
        acc.lock(index, LockMode.SHARE_UPDATE_EXCLUSIVE if concurrent else LockMode.ACCESS_EXCLUSIVE)
        table = ctx.indexes.get(index)
        if table:
            acc.lock(table, table_mode)
        else:
            acc.notes.append(f"{index}: its table is locked {table_mode} too")
        return acc.does(Work.INDEX_BUILD, on=[table] if table else [])
    acc.notes.append("every index of the schema or database, one table at a time")
    return acc.does(Work.INDEX_BUILD)


def refresh(n: ast.RefreshMatViewStmt, ctx) -> Acc:
    acc = Acc("REFRESH MATERIALIZED VIEW CONCURRENTLY" if n.concurrent else "REFRESH MATERIALIZED VIEW",
               concurrent=bool(n.concurrent))
    view = qualified(n.relation)
    return acc.lock(view, LockMode.EXCLUSIVE if n.concurrent else LockMode.ACCESS_EXCLUSIVE).does(Work.REWRITE, on=[view])


def lock(n: ast.LockStmt, ctx) -> Acc:
    acc = Acc("LOCK")
    for rv in n.relations or ():
        acc.lock(qualified(rv), list(LockMode)[n.mode - 1])
    return acc.does(Work.CATALOG_ONLY)


def truncate(n: ast.TruncateStmt, ctx) -> Acc:
    acc = Acc("TRUNCATE")
    for rv in n.relations or ():
        acc.lock(qualified(rv), LockMode.ACCESS_EXCLUSIVE)
    return acc.does(Work.CATALOG_ONLY)


def select(n: ast.SelectStmt, ctx) -> Acc:
    acc = Acc("SELECT")
    tables = read_tables(n.fromClause)
    for t in tables:
        acc.lock(t, LockMode.ACCESS_SHARE)
    return acc.does(Work.SCAN, on=tables) if tables else acc
