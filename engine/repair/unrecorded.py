"""A database holding the product that its bookkeeping knows nothing about (docs/design.md §10).

Planned from that bookkeeping it would look empty, and an install would run over the tables:
`find_unrecorded` says so, with where the bookkeeping may be instead."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from psycopg import sql

from ..bookkeeping.bookkeeping import MigrationLog
from ..connection import describe_target
from ..safetext import printable
from .describe import BOOKKEEPING


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
        return ("no schema of the database records its migrations: if it was installed without pgferry (a restored "
                "dump, another tool), record the release it is at with `pgferry adopt --release V`")

    def as_dict(self) -> dict:
        return {"message": self.message, "hint": self.hint, "schemas": list(self.schemas), "tables": list(self.tables),
                "bookkeeping_schema": self.bookkeeping_schema, "elsewhere": list(self.elsewhere)}


def find_unrecorded(conn, defs, schemas: Iterable[str], bookkeeping_schema: str = "public",
                    pg_schema: str = "public") -> Unrecorded | None:
    schemas = list(schemas)
    if recorded(conn, bookkeeping_schema, schemas):
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
    elsewhere = tuple(printable(s, one_line=True) for s in others if recorded(conn, s, schemas))
    return Unrecorded(describe_target(conn.info.dsn), printable(bookkeeping_schema, one_line=True), tuple(schemas),
                      tuple(ours), elsewhere)


def recorded(conn, bookkeeping_schema: str, schemas: list[str]) -> bool:
    """Any row at all (applied, reverted, failed, running) about any of `schemas`."""
    if not MigrationLog(conn, bookkeeping_schema).exists():
        return False
    q = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE schema = ANY(%s))").format(
        sql.Identifier(bookkeeping_schema, "migration_logs"))
    return conn.execute(q, [schemas]).fetchone()[0]


def _product_tables(defs, schemas: list[str], pg_schema: str) -> set[str]:
    """Every table some up migration of `schemas` creates in `pg_schema`."""
    from pglast import ast  # only a database with nothing recorded gets here

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
