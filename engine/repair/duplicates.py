"""Duplicate keys a unique index cannot hold (docs/design.md §9, §10): why a REINDEX, a CREATE UNIQUE
INDEX or an ADD CONSTRAINT ... UNIQUE / PRIMARY KEY fails. Recovery asks about an invalid index that
is there; drift about the index or constraint its fix would build. Read-only and bounded: a table too
large to scan quickly is not checked, and the answer says so."""
from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..safetext import printable
from .diagnosis import DUPLICATES_MAX_BYTES, DUPLICATES_SHOWN, DUPLICATES_TIMEOUT_MS, Duplicates


@dataclass(frozen=True)
class UniqueKey:
    """What a unique index or constraint keeps unique: its table, key columns (or expressions, as SQL)
    and partial predicate, and whether NULLs count as distinct (they never collide then)."""

    table: str  # schema-qualified, quoted as needed
    keys: tuple[str, ...]
    predicate: str | None = None
    nulls_distinct: bool = True

    def query(self, limit: int | None = None) -> str:
        """The SELECT listing the keys held more than once, most repeated first."""
        cols = ", ".join(self.keys)
        where = [f"{k} IS NOT NULL" for k in self.keys] if self.nulls_distinct else []
        where += [f"({self.predicate})"] if self.predicate else []
        text = f"SELECT {cols}, count(*) AS copies FROM {self.table}"
        text += f" WHERE {' AND '.join(where)}" if where else ""
        text += f" GROUP BY {cols} HAVING count(*) > 1 ORDER BY count(*) DESC"
        return text + (f" LIMIT {limit}" if limit else "")


LIVE_KEY_SQL = """
SELECT format('%%I.%%I', n.nspname, t.relname),
       array(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k ORDER BY k),
       pg_get_expr(i.indpred, i.indrelid, true),
       NOT coalesce((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false)  -- PostgreSQL 15 and later
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE i.indexrelid = to_regclass(%s) AND i.indisunique
"""


def live_key(conn: psycopg.Connection, index: str) -> UniqueKey | None:
    """The key of an index in the catalog; None when it is not a unique index."""
    row = conn.execute(LIVE_KEY_SQL, [index]).fetchone()
    return None if row is None else UniqueKey(row[0], tuple(row[1]), row[2], row[3])


def statement_key(statement: str) -> UniqueKey | None:
    """The key a CREATE UNIQUE INDEX or an ALTER TABLE ... ADD CONSTRAINT ... UNIQUE / PRIMARY KEY
    statement builds (as pg_get_indexdef and the drift fix print them); None for any other statement."""
    from pglast import ast
    from pglast.enums import ConstrType
    from pglast.parser import ParseError
    from pglast.stream import RawStream

    from ..definitions.pgparse import parse_sql
    from .fixes import quote_ident

    try:
        node = parse_sql(statement)[0].stmt
    except ParseError:
        return None  # a server's text this parser does not know: not checked rather than a failed drift check

    def table(rv) -> str:
        return ".".join(quote_ident(p) for p in (rv.schemaname, rv.relname) if p)

    if isinstance(node, ast.IndexStmt) and node.unique:
        keys = tuple(quote_ident(e.name) if e.name else f"({RawStream()(e.expr)})" for e in node.indexParams)
        where = RawStream()(node.whereClause) if node.whereClause else None
        return UniqueKey(table(node.relation), keys, where, not node.nulls_not_distinct)
    if isinstance(node, ast.AlterTableStmt) and len(node.cmds) == 1 and isinstance(node.cmds[0].def_, ast.Constraint):
        con = node.cmds[0].def_
        if con.contype in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY) and con.keys:
            return UniqueKey(table(node.relation), tuple(quote_ident(k.sval) for k in con.keys), None,
                             not con.nulls_not_distinct)
    return None


def find_duplicates(conn: psycopg.Connection, key: UniqueKey) -> Duplicates | None:
    """The keys `key.table` holds more than once, the most repeated first; None when the key names what
    the table does not have (yet): a column the same fix adds, a table it creates.

    One GROUP BY, only over a table (heap and TOAST) under DUPLICATES_MAX_BYTES and under a statement
    timeout, in a read-only savepoint rolled back afterwards so that neither setting outlives the check
    (drift runs it inside its snapshot)."""
    shown = key.query()
    try:
        with conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(DUPLICATES_TIMEOUT_MS)))
            size = conn.execute("SELECT pg_table_size(to_regclass(%s))", [key.table]).fetchone()[0]
            if size is None:
                return None
            if size > DUPLICATES_MAX_BYTES:
                return Duplicates(key.table, shown, checked=False)
            rows = conn.execute(key.query(DUPLICATES_SHOWN)).fetchall()
    except psycopg.errors.QueryCanceled:
        return Duplicates(key.table, shown, checked=False)
    except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedFunction, psycopg.errors.UndefinedObject):
        return None
    # application data, on its way to a terminal: control characters shown escaped
    examples = tuple("(" + ", ".join("NULL" if v is None else printable(v, one_line=True) for v in r[:-1]) +
                     f") ×{r[-1]}" for r in rows)
    return Duplicates(key.table, shown, examples)


def duplicate_keys(conn: psycopg.Connection, index: str) -> Duplicates | None:
    """For a unique index in the catalog: the keys its table holds more than once (None for any other index)."""
    key = live_key(conn, index)
    return None if key is None else find_duplicates(conn, key)
