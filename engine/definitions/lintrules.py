"""The lint's rules about single statements that are risky on a table already holding data
(docs/authoring.md, "Lint rules"): each has an id, a one-line explanation, and for each finding a
message naming the table and column and the safe rewrite in SQL. What a statement locks and
whether it rewrites or scans comes from locking.py. lint.py decides where they apply (not on a
table the same upgrade creates) and honours waivers.
"""
from __future__ import annotations

from typing import Iterator

from pglast import ast
from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType, DropBehavior, ObjectType, ReindexObjectType

from . import altertable
from .locking import Work, analyse
from .notes import Hit

# id -> one line: what is risky. The first six predate issue 16 (lint.py's own rules among them).
STATEMENT_RULES = {
    "create-index-plain": "plain CREATE INDEX locks writes on a table that already holds data",
    "add-column-not-null": "ADD COLUMN ... NOT NULL without DEFAULT fails on a table with rows",
    "add-constraint-valid": "ADD CONSTRAINT without NOT VALID scans the table under a lock",
    "add-column-volatile-default": "ADD COLUMN with a volatile DEFAULT rewrites the table under ACCESS EXCLUSIVE",
    "add-column-serial": "ADD COLUMN serial, identity or stored generated fills every row: a rewrite under ACCESS EXCLUSIVE",
    "add-unique-constraint": "ADD UNIQUE or PRIMARY KEY builds its index under ACCESS EXCLUSIVE",
    "changing-column-type": "ALTER COLUMN TYPE rewrites the table under ACCESS EXCLUSIVE (unless binary-coercible)",
    "set-not-null": "SET NOT NULL scans the table under ACCESS EXCLUSIVE",
    "drop-index-plain": "plain DROP INDEX takes ACCESS EXCLUSIVE on the index's table",
    "reindex-plain": "plain REINDEX blocks writes to the table while it builds",
    "renaming-column": "RENAME COLUMN breaks every running release's queries that name the column",
    "renaming-table": "RENAME TABLE breaks every running release's queries that name the table",
    "drop-column": "DROP COLUMN breaks running code that still reads or writes the column",
    "drop-table": "DROP TABLE loses the data and breaks running code that still uses the table",
    "truncate-cascade": "TRUNCATE ... CASCADE empties every table that references this one",
    "char-field": "char(n) pads with spaces and compares surprisingly: use text or varchar",
    "prefer-bigint": "int and smallint keys run out; changing the type later rewrites the table",
    "prefer-text-field": "varchar(n)'s limit can only be lifted without a rewrite; a CHECK is easier to change",
    "prefer-timestamptz": "timestamp without time zone stores local times that change meaning with the server's zone",
}


def relname(rv) -> str | None:
    """lint.py's table names: public.t and t are the same table for the usual search_path."""
    if rv is None or not rv.relname:
        return None
    schema = rv.schemaname.lower() if rv.schemaname else "public"
    name = rv.relname.lower()
    return name if schema == "public" else f"{schema}.{name}"


def _joined(names) -> str:
    parts = [n.sval.lower() for n in names]
    return parts[-1] if parts[:-1] in ([], ["public"]) else ".".join(parts)


def statement_hits(node: ast.Node) -> Iterator[Hit]:
    """Every rule one statement breaks, wherever it runs (lint.py keeps quiet on new tables)."""
    if isinstance(node, ast.IndexStmt) and not node.concurrent:
        t = relname(node.relation)
        yield Hit("create-index-plain", f"plain CREATE INDEX on {t} blocks writes while it builds", t,
                  "use a separate migration with CREATE INDEX CONCURRENTLY and createIndexConcurrently: true")
    elif isinstance(node, ast.AlterTableStmt):
        yield from _alter_table(node)
    elif isinstance(node, ast.RenameStmt):
        yield from _rename(node)
    elif isinstance(node, ast.DropStmt):
        yield from _drop(node)
    elif isinstance(node, ast.TruncateStmt) and node.behavior == DropBehavior.DROP_CASCADE:
        names = ", ".join(relname(r) for r in node.relations or ())
        yield Hit("truncate-cascade", f"TRUNCATE {names} CASCADE also empties every table with a foreign key to it",
                  relname(node.relations[0]) if node.relations else None,
                  f"name every table to empty: TRUNCATE {names}, <referencing tables>;")
    elif isinstance(node, ast.ReindexStmt) and not any(p.defname == "concurrently" for p in node.params or ()) \
            and node.kind in (ReindexObjectType.REINDEX_OBJECT_TABLE, ReindexObjectType.REINDEX_OBJECT_INDEX):
        t = relname(node.relation)
        yield Hit("reindex-plain", f"REINDEX {t} blocks writes to the table while it rebuilds", t,
                  f"REINDEX ... CONCURRENTLY {t}, run outside a transaction (an out-of-band step or by hand)")


def _alter_table(node: ast.AlterTableStmt) -> Iterator[Hit]:
    t = relname(node.relation)
    for cmd in node.cmds or ():
        d = cmd.def_
        if cmd.subtype == AT.AT_AddColumn and isinstance(d, ast.ColumnDef):
            yield from _add_column(t, d)
        elif cmd.subtype == AT.AT_AddConstraint and isinstance(d, ast.Constraint):
            yield from _add_constraint(t, d)
        elif cmd.subtype == AT.AT_AlterColumnType and isinstance(d, ast.ColumnDef):
            sub = altertable.subcommand(cmd)
            if Work.REWRITE in sub.work:
                assumed = " (assumed: its current type is not known here)" if "assumed" in " ".join(sub.notes) else ""
                yield Hit("changing-column-type", f"ALTER COLUMN {cmd.name} TYPE on {t} rewrites the table under "
                          f"ACCESS EXCLUSIVE{assumed}", t,
                          f"ALTER TABLE {t} ADD COLUMN {cmd.name}_new <type>; backfill it in batches (an out-of-band "
                          f"step), switch the application, then ALTER TABLE {t} DROP COLUMN {cmd.name}")
        elif cmd.subtype == AT.AT_SetNotNull:
            c = cmd.name
            yield Hit("set-not-null", f"SET NOT NULL on {t}.{c} scans the table under ACCESS EXCLUSIVE", t,
                      f"ALTER TABLE {t} ADD CONSTRAINT {t}_{c}_not_null CHECK ({c} IS NOT NULL) NOT VALID; then, in a later "
                      f"migration: ALTER TABLE {t} VALIDATE CONSTRAINT {t}_{c}_not_null; ALTER TABLE {t} ALTER COLUMN {c} "
                      f"SET NOT NULL; ALTER TABLE {t} DROP CONSTRAINT {t}_{c}_not_null")
        elif cmd.subtype == AT.AT_DropColumn:
            yield Hit("drop-column", f"DROP COLUMN {cmd.name} on {t}: code of a release still running may use it", t,
                      f"stop reading and writing {t}.{cmd.name} in every supported release first; then drop it")


def _add_column(t: str, d: ast.ColumnDef) -> Iterator[Hit]:
    c = d.colname
    cons = [x for x in (d.constraints or ()) if isinstance(x, ast.Constraint)]
    kinds = {x.contype for x in cons}
    if (d.is_not_null or kinds & {ConstrType.CONSTR_NOTNULL, ConstrType.CONSTR_PRIMARY}) and not (
            kinds & {ConstrType.CONSTR_DEFAULT, ConstrType.CONSTR_IDENTITY, ConstrType.CONSTR_GENERATED}):
        yield Hit("add-column-not-null", f"ADD COLUMN {c} NOT NULL without DEFAULT fails on {t} if it has rows", t,
                  "add a DEFAULT, or add the column nullable, backfill, then SET NOT NULL")
    tname, mods = altertable.type_of(d.typeName) if d.typeName else ("", ())
    sub = altertable.add_column(d)
    if sub.volatile_default and tname not in altertable.SERIAL_TYPES:
        yield Hit("add-column-volatile-default", f"ADD COLUMN {c} on {t} with a volatile DEFAULT rewrites the table"
                  + (f" ({sub.notes[0]})" if sub.notes else ""), t,
                  f"ALTER TABLE {t} ADD COLUMN {c} <type>; ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT <expr>; "
                  f"then fill the existing rows in batches (an out-of-band step)")
    elif Work.REWRITE in sub.work:
        yield Hit("add-column-serial", f"ADD COLUMN {c} on {t} (serial, identity or stored generated) rewrites the table", t,
                  f"ALTER TABLE {t} ADD COLUMN {c} bigint; CREATE SEQUENCE {t}_{c}_seq; ALTER TABLE {t} ALTER COLUMN {c} "
                  f"SET DEFAULT nextval('{t}_{c}_seq'); then fill the existing rows in batches")
    yield from _column_type(t, c, tname, mods)


_SMALL_INTEGERS = {"int4": "integer (32-bit)", "int2": "smallint (16-bit)", "serial": "serial (32-bit)",
                   "serial4": "serial (32-bit)", "serial2": "smallserial (16-bit)", "smallserial": "smallserial (16-bit)"}


def _column_type(t: str, c: str, tname: str, mods: tuple) -> Iterator[Hit]:
    if tname == "bpchar":
        yield Hit("char-field", f"{t}.{c} is char(n)", t, f"use text (or varchar) for {t}.{c}")
    elif tname in _SMALL_INTEGERS:
        yield Hit("prefer-bigint", f"{t}.{c} is {_SMALL_INTEGERS[tname]}", t, f"use bigint (bigserial) for {t}.{c}")
    elif tname == "varchar" and mods:
        yield Hit("prefer-text-field", f"{t}.{c} is varchar({mods[0]})", t,
                  f"use text with CHECK (length({c}) <= {mods[0]}) NOT VALID for {t}.{c}")
    elif tname == "timestamp":
        yield Hit("prefer-timestamptz", f"{t}.{c} is timestamp without time zone", t, f"use timestamptz for {t}.{c}")


def _add_constraint(t: str, d: ast.Constraint) -> Iterator[Hit]:
    if d.contype in (ConstrType.CONSTR_FOREIGN, ConstrType.CONSTR_CHECK) and not d.skip_validation:
        name = d.conname or "<name>"
        mode = altertable.add_constraint(d).mode
        yield Hit("add-constraint-valid", f"ADD CONSTRAINT without NOT VALID scans {t} under {mode}, which blocks "
                  f"{mode.blocks} ({name})", t, f"ALTER TABLE {t} ADD CONSTRAINT {name} ... NOT VALID; then, in a later "
                  f"migration: ALTER TABLE {t} VALIDATE CONSTRAINT {name}")
    elif d.contype in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY) and not d.indexname:
        name = d.conname or f"{t}_key"
        cols = ", ".join(k.sval for k in d.keys or ())
        kind = "PRIMARY KEY" if d.contype == ConstrType.CONSTR_PRIMARY else "UNIQUE"
        yield Hit("add-unique-constraint", f"ADD {kind} ({cols}) on {t} builds its index under ACCESS EXCLUSIVE", t,
                  f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {t} ({cols}) (its own migration, createIndexConcurrently: "
                  f"true); then ALTER TABLE {t} ADD CONSTRAINT {name} {kind} USING INDEX {name}")


def _rename(node: ast.RenameStmt) -> Iterator[Hit]:
    t = relname(node.relation)
    if node.renameType == ObjectType.OBJECT_COLUMN:
        yield Hit("renaming-column", f"RENAME COLUMN {t}.{node.subname} to {node.newname}: code of a release still running may use the old name", t,
                  f"ALTER TABLE {t} ADD COLUMN {node.newname} ...; write both and backfill; switch the readers; "
                  f"drop {node.subname} once no supported release uses it")
    elif node.renameType == ObjectType.OBJECT_TABLE:
        yield Hit("renaming-table", f"RENAME TABLE {t} to {node.newname}: code of a release still running may use the old name", t,
                  f"ALTER TABLE {t} RENAME TO {node.newname}; CREATE VIEW {t} AS SELECT * FROM {node.newname}; "
                  f"drop the view once no supported release uses {t}")


def _drop(node: ast.DropStmt) -> Iterator[Hit]:
    objects = [o if isinstance(o, tuple) else (o,) for o in node.objects or ()]
    if node.removeType == ObjectType.OBJECT_TABLE:
        for o in objects:
            t = _joined(o)
            yield Hit("drop-table", f"DROP TABLE {t}: its data is gone and running code may still use it", t,
                      f"stop using {t} in every supported release, keep a copy (ALTER TABLE {t} RENAME TO {t}_dropped) "
                      f"for a release, then drop it")
    elif node.removeType == ObjectType.OBJECT_INDEX and not node.concurrent:
        effect = analyse(node)
        mode = effect.locks[0].mode if effect.locks else "ACCESS EXCLUSIVE"
        for o in objects:
            i = _joined(o)
            yield Hit("drop-index-plain", f"DROP INDEX {i} takes {mode} on its table: reads and writes wait", i,
                      f"DROP INDEX CONCURRENTLY IF EXISTS {i}, run outside a transaction (an out-of-band step or by hand)")
