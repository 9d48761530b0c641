"""What the catalog shows about a failed attempt (docs/design.md §9): the objects its up.sql creates
and whether they are there and usable, and the invalid indexes nothing will rebuild (with the duplicate
keys that keep a unique one invalid: `duplicates.py`). Read-only."""
from __future__ import annotations

import psycopg
from psycopg import sql

from ..definitions.catalog import Definitions
from ..definitions.definitions import Migration
from ..definitions.sqlfile import Statement
from ..run.runner import INDEX_STATE_SQL
from .diagnosis import INVALID, Effect, InvalidIndex
from .duplicates import duplicate_keys
from .kinds import EffectKind


def quoted(conn: psycopg.Connection, *parts: str | None) -> str:
    """A (schema-qualified) name as to_regclass and to_regtype read it: quoted, so case and dots survive."""
    return sql.Identifier(*(p for p in parts if p)).as_string(conn)


def index_state(conn: psycopg.Connection, name: str) -> tuple[bool | None, int | None]:
    """(valid, pid building it) of an index; (None, None) when there is none."""
    row = conn.execute(INDEX_STATE_SQL, [name]).fetchone()
    return (None, None) if row is None else (bool(row[0]), row[1])


# -- what up.sql creates, checked against the catalog --------------------------------------------


def _names(nodes) -> list[str]:
    return [n.sval for n in nodes or ()]


def _targets(st: Statement) -> list[tuple[EffectKind, tuple, str]]:
    """(kind, name parts, display) of what one statement creates; [] for anything else."""
    from pglast import ast  # with the first tree read: recover and the gate load this module for every run
    from pglast.enums import AlterTableType

    n = st.node
    out = []

    def rel(kind, rv):
        if rv is not None:
            parts = (rv.schemaname, rv.relname)
            out.append((kind, parts, ".".join(p for p in parts if p)))

    if isinstance(n, ast.CreateStmt):
        rel(EffectKind.TABLE, n.relation)
    elif isinstance(n, ast.IndexStmt) and n.idxname:
        schema = n.relation.schemaname if n.relation else None
        out.append((EffectKind.INDEX, (schema, n.idxname), ".".join(p for p in (schema, n.idxname) if p)))
    elif isinstance(n, ast.AlterTableStmt):
        for cmd in n.cmds or ():
            if cmd.subtype == AlterTableType.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                parts = (n.relation.schemaname, n.relation.relname, cmd.def_.colname)
                out.append((EffectKind.COLUMN, parts, ".".join(p for p in parts if p)))
    elif isinstance(n, ast.CreateExtensionStmt):
        out.append((EffectKind.EXTENSION, (n.extname,), n.extname))
    elif isinstance(n, ast.ViewStmt):
        rel(EffectKind.VIEW, n.view)
    elif isinstance(n, ast.CreateTableAsStmt) and n.into is not None:
        rel(EffectKind.VIEW if n.objtype.name == "OBJECT_MATVIEW" else EffectKind.TABLE, n.into.rel)
    elif isinstance(n, ast.CreateSeqStmt):
        rel(EffectKind.SEQUENCE, n.sequence)
    elif isinstance(n, ast.CreateEnumStmt):
        parts = tuple(_names(n.typeName))
        out.append((EffectKind.TYPE, parts, ".".join(parts)))
    elif isinstance(n, ast.CompositeTypeStmt):
        rel(EffectKind.TYPE, n.typevar)
    elif isinstance(n, ast.CreateDomainStmt):
        parts = tuple(_names(n.domainname))
        out.append((EffectKind.TYPE, parts, ".".join(parts)))
    elif isinstance(n, ast.CreateFunctionStmt):
        parts = tuple(_names(n.funcname))
        out.append((EffectKind.FUNCTION, parts, ".".join(parts)))
    return out


def _check(conn: psycopg.Connection, kind: EffectKind, parts: tuple) -> tuple[bool, str | None]:
    """(present, detail) of one object up.sql creates."""
    q = conn.execute
    if kind == EffectKind.INDEX:
        valid, builder = index_state(conn, quoted(conn, *parts))
        if valid is None:
            return False, None
        return True, (f"being built by pid {builder}" if builder else None if valid else INVALID)
    if kind in (EffectKind.TABLE, EffectKind.VIEW, EffectKind.SEQUENCE):
        return bool(q("SELECT to_regclass(%s) IS NOT NULL", [quoted(conn, *parts)]).fetchone()[0]), None
    if kind == EffectKind.COLUMN:
        *table, column = parts
        name = quoted(conn, *table)
        row = q("SELECT to_regclass(%s) IS NOT NULL, EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
                "to_regclass(%s) AND attname = %s AND attnum > 0 AND NOT attisdropped)",
                [name, name, column]).fetchone()
        return bool(row[1]), (None if row[0] else "its table is absent")
    if kind == EffectKind.EXTENSION:
        return bool(q("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = %s)", parts).fetchone()[0]), None
    if kind == EffectKind.TYPE:
        return bool(q("SELECT to_regtype(%s) IS NOT NULL", [quoted(conn, *parts)]).fetchone()[0]), None
    *schema, name = parts  # a function
    row = q("SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE p.proname = %s AND (n.nspname = %s OR (%s IS NULL AND n.nspname = ANY(current_schemas(false)))))",
            [name, schema[0] if schema else None, schema[0] if schema else None]).fetchone()
    return bool(row[0]), None


def effects_of(conn: psycopg.Connection, migration: Migration) -> tuple[Effect, ...]:
    out = []
    for st in migration.up.statements:
        for kind, parts, display in _targets(st):
            present, detail = _check(conn, kind, parts)
            out.append(Effect(kind, display, present, st.line, detail))
    return tuple(out)


def created_index(conn: psycopg.Connection, migration: Migration) -> str:
    """The quoted name of the index a CIC migration's one statement creates."""
    _, parts, _ = _targets(migration.up.statements[0])[0]
    return quoted(conn, *parts)


# -- invalid indexes nothing will rebuild --------------------------------------------------------


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
    from pglast import ast

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
            out.append(InvalidIndex(database, name, rel, table, definition,
                                    f"{owner[0]} {owner[1]}" if owner else None, duplicate_keys(conn, name)))
    return out

