"""A schema's live shape as canonical JSON (docs/design.md §10): what drift compares.

Canonical means stable across equivalent histories: objects keyed and sorted by name,
column order ignored (ADD COLUMN appends, a squash may not), bookkeeping tables left out.
Definitions are the server's own text; where servers of different majors print the same object
differently, `comparable_view` gives the form to compare.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:  # pglast is imported by the first view compared: `status` loads this module, never parses
    from pglast import ast

BOOKKEEPING = ("migration_logs", "out_of_band_migrations", "out_of_band_migrations_errors", "upgrade_runs",
               "privileged_grants", "collation_versions")

# Objects an extension created belong to the extension (its version), not to the schema.
_NOT_EXT = ("NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = '{}'::regclass AND x.objid = {} "
            "AND x.deptype = 'e')")


def describe(conn: psycopg.Connection, schema: str = "public", *, exclude: tuple[str, ...] = BOOKKEEPING) -> dict:
    q = conn.execute
    ns = q("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
    if ns is None:
        return {"schema": schema, "extensions": [], "enums": {}, "functions": {}, "sequences": {}, "tables": {}, "views": {}}
    nsoid = ns[0]
    excluded = list(exclude)
    extensions = sorted(r[0] for r in q("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'").fetchall())
    enums: dict[str, list[str]] = {}
    for name, label in q(
        "SELECT t.typname, e.enumlabel FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid "
        "WHERE t.typnamespace = %s AND " + _NOT_EXT.format("pg_type", "t.oid") + " ORDER BY t.typname, e.enumsortorder",
        [nsoid]).fetchall():
        enums.setdefault(name, []).append(label)
    functions = {
        f"{name}({args})": " ".join(body.split())
        for name, args, body in q(
            "SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid) FROM pg_proc p "
            "WHERE p.pronamespace = %s AND p.prokind IN ('f', 'p') "
            "AND " + _NOT_EXT.format("pg_proc", "p.oid"), [nsoid]).fetchall()
    }
    # pg_depend's objid is an OID of the catalog in classid: without it, a default's (pg_attrdef)
    # OID equal to the sequence's, common after pg_upgrade renumbers all but relations, names the
    # wrong column as its owner.
    # A dump taken without the bookkeeping tables (pg_dump -T migration_logs ...) keeps their
    # sequences, orphaned: still pgferry's, not the schema's.
    serials = {f"{t}_id_seq" for t in exclude}
    sequences = {
        name: {"type": typ, "start": int(start), "increment": int(inc), "owned_by": owner}
        for name, typ, start, inc, owner in q(
            "SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, "
            "(SELECT t.relname || '.' || a.attname FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid "
            " JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
            " WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass "
            " AND d.deptype IN ('a', 'i') LIMIT 1) "
            "FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid WHERE c.relnamespace = %s AND "
            + _NOT_EXT.format("pg_class", "c.oid"), [nsoid]).fetchall()
        if not (owner and owner.split(".")[0] in exclude) and name not in serials
    }
    tables: dict[str, dict] = {}
    for (name,) in q("SELECT relname FROM pg_class c WHERE relnamespace = %s AND relkind IN ('r', 'p') "
                     "AND NOT (relname = ANY(%s)) AND " + _NOT_EXT.format("pg_class", "c.oid"), [nsoid, excluded]).fetchall():
        tables[name] = {"columns": {}, "constraints": {}, "indexes": {}, "triggers": {}, "comment": None}
    for table, col, typ, notnull, default, comment in q(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE c.relnamespace = %s AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped", [nsoid]).fetchall():
        if table in tables:
            tables[table]["columns"][col] = {"type": typ, "not_null": notnull, "default": default, "comment": comment}
    for table, con, definition in q(
        "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = %s AND k.contype <> 'n'", [nsoid]).fetchall():
        if table in tables:
            tables[table]["constraints"][con] = definition
    for table, idx, definition, valid in q(
        "SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid), x.indisvalid FROM pg_index x "
        "JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE c.relnamespace = %s", [nsoid]).fetchall():
        if table in tables:
            tables[table]["indexes"][idx] = {"definition": definition, "valid": valid}
    for table, trg, definition in q(
        "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relnamespace = %s AND NOT t.tgisinternal", [nsoid]).fetchall():
        if table in tables:
            tables[table]["triggers"][trg] = definition
    for table, comment in q("SELECT relname, obj_description(oid, 'pg_class') FROM pg_class "
                            "WHERE relnamespace = %s AND relkind IN ('r', 'p')", [nsoid]).fetchall():
        if table in tables:
            tables[table]["comment"] = comment
    views = {
        name: " ".join(definition.split())
        for name, definition in q("SELECT c.relname, pg_get_viewdef(c.oid, true) FROM pg_class c "
                                  "WHERE c.relnamespace = %s AND c.relkind IN ('v', 'm') AND "
                                  + _NOT_EXT.format("pg_class", "c.oid"), [nsoid]).fetchall()
    }
    return _sorted({"schema": schema, "extensions": extensions, "enums": enums, "functions": functions,
                    "sequences": sequences, "tables": tables, "views": views})


@lru_cache(maxsize=1024)
def comparable_view(definition: str) -> str:
    """A view's definition in a form that does not depend on the server's major version.

    PostgreSQL 16 dropped the OLD/NEW entries from a view's range table, so pg_get_viewdef no
    longer qualifies the columns of a query over a single relation: 15 prints `SELECT repo.id
    FROM repo`, 16 and later `SELECT id FROM repo`. Both mean the same; this drops such
    qualifiers wherever they are redundant (a SELECT whose FROM is one plain relation, the
    qualifier naming that relation) and prints the tree with pglast's deparser, so other layout
    differences between majors do not count either. Qualifiers that tell relations apart (joins,
    references to an outer query) are kept: changing those is a real change.
    """
    from pglast import ast
    from pglast.parser import ParseError
    from pglast.stream import RawStream

    from ..definitions.pgparse import parse_sql

    try:
        tree = parse_sql(definition)
    except ParseError:
        return definition  # not ours to judge: compared as the server printed it
    for node in _nodes(tree, into_selects=True):
        if isinstance(node, ast.SelectStmt):
            _drop_redundant_qualifiers(node)
    return RawStream()(tree)


def _nodes(value, *, into_selects: bool):
    """Every node under `value`; below a SELECT only when `into_selects` (its own clauses otherwise)."""
    from pglast import ast

    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _nodes(item, into_selects=into_selects)
    elif isinstance(value, ast.Node):
        yield value
        for attr in value.__slots__:
            child = getattr(value, attr)
            if into_selects or not isinstance(child, ast.SelectStmt):
                yield from _nodes(child, into_selects=into_selects)


def _drop_redundant_qualifiers(select: ast.SelectStmt) -> None:
    from pglast import ast

    if len(select.fromClause or ()) != 1 or not isinstance(select.fromClause[0], ast.RangeVar):
        return
    rel = select.fromClause[0]
    names = {(rel.alias.aliasname,)} if rel.alias else {(rel.relname,), (rel.schemaname, rel.relname)}
    for attr in select.__slots__:
        for node in _nodes(getattr(select, attr), into_selects=False):
            if isinstance(node, ast.ColumnRef) and len(node.fields) > 1 and isinstance(node.fields[-1], ast.String) \
                    and tuple(f.sval for f in node.fields[:-1] if isinstance(f, ast.String)) in names:
                node.fields = node.fields[-1:]


def _sorted(value):
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def canonical_json(description: dict) -> str:
    return json.dumps(description, indent=2, sort_keys=True) + "\n"
