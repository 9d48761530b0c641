"""Fix SQL for drift: each statement with a rank that orders a whole script.

Removals run first, dependents before what they depend on (a view before the column it
reads); additions follow in dependency order (a type before the column using it, a table
before its constraints). Identifiers read as PostgreSQL's own quote_ident prints them (as in the
pg_get_*def text a fix quotes beside them); lines starting with `--` are advice where no statement is safe.
"""
from __future__ import annotations

import re
from functools import cache

from psycopg import sql

from .kinds import ObjectKind

# removals, reverse dependency order
DROP = {"view": 0, "trigger": 1, "index": 2, "constraint": 3, "column": 4, "table": 5, "sequence": 6,
        "function": 7, "enum": 8, "extension": 9}
# additions, dependency order
ADD = {"extension": 10, "enum": 11, "function": 12, "sequence": 13, "table": 14, "column": 15, "owned_by": 16,
       "constraint": 17, "foreign_key": 17.5, "index": 18, "trigger": 19, "view": 20, "comment": 21}

@cache
def _quoted_keywords() -> frozenset[str]:
    from pglast import keywords  # with the first fix written: `status` loads this module and writes none

    return frozenset(keywords.RESERVED_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS | keywords.COL_NAME_KEYWORDS)


def quote_ident(name: str) -> str:
    """`name` as PostgreSQL's quote_ident prints it: bare when it is a plain lower-case word and no keyword,
    else quoted by psycopg (no connection: a fix is text for the operator, made without one)."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in _quoted_keywords():
        return name
    return sql.Identifier(name).as_string()


def literal(value: str | None) -> str:
    return "NULL" if value is None else sql.Literal(value).as_string()


class Fixer:
    def __init__(self, schema: str):
        self.schema = schema

    def q(self, name: str) -> str:
        """A name qualified with the schema: right whatever the reader's search_path."""
        return f"{quote_ident(self.schema)}.{quote_ident(name)}"

    # -- extensions, enums, functions, views -------------------------------------------------

    def create_extension(self, name: str):
        return [(ADD["extension"], f"CREATE EXTENSION IF NOT EXISTS {quote_ident(name)};")]

    def drop_extension(self, name: str):
        return [(DROP["extension"], f"-- not part of the release; if nothing uses it: DROP EXTENSION {quote_ident(name)};")]

    def enum(self, name: str, expected: list | None, actual: list | None):
        t = self.q(name)
        if actual is None:
            return [(ADD["enum"], f"CREATE TYPE {t} AS ENUM ({', '.join(literal(v) for v in expected)});")]
        if expected is None:
            return [(DROP["enum"], f"DROP TYPE {t};")]
        steps = []
        present = [v for v in actual if v in expected]
        for i, label in enumerate(expected):
            if label in present:
                continue
            before = [v for v in expected[:i] if v in present]
            where = f" AFTER {literal(before[-1])}" if before else (f" BEFORE {literal(present[0])}" if present else "")
            steps.append((ADD["enum"], f"ALTER TYPE {t} ADD VALUE IF NOT EXISTS {literal(label)}{where};"))
            present.insert(present.index(before[-1]) + 1 if before else 0, label)
        extra = [v for v in actual if v not in expected]
        if extra:
            steps.append((ADD["enum"], f"-- PostgreSQL cannot remove enum labels ({', '.join(literal(v) for v in extra)}): "
                          f"update rows that use them, then recreate {t} with the expected labels and "
                          "ALTER every column using it (TYPE ... USING col::text::<new type>)"))
        elif present != expected:
            steps.append((ADD["enum"], f"-- the labels of {t} are in another order: recreate the type to restore "
                          f"({', '.join(literal(v) for v in expected)})"))
        return steps

    def replace_keyed(self, kind: ObjectKind, name: str, definition: str):
        if kind == ObjectKind.FUNCTION:
            # pg_get_functiondef output, whitespace collapsed by describe: a complete statement
            return [(ADD["function"], definition.rstrip().rstrip(";") + ";")]
        return [(ADD["view"], f"CREATE OR REPLACE VIEW {self.q(name)} AS {definition.rstrip().rstrip(';')};")]

    def drop_keyed(self, kind: ObjectKind, name: str):
        if kind == ObjectKind.FUNCTION:
            fname, _, args = name.partition("(")
            return [(DROP["function"], f"DROP FUNCTION {self.q(fname)}({args};")]
        return [(DROP["view"], f"DROP VIEW {self.q(name)};")]

    # -- sequences ---------------------------------------------------------------------------

    def _owned(self, name: str, owned_by: str | None):
        if not owned_by:
            return [(ADD["owned_by"], f"ALTER SEQUENCE {self.q(name)} OWNED BY NONE;")]
        table, _, col = owned_by.partition(".")
        return [(ADD["owned_by"], f"ALTER SEQUENCE {self.q(name)} OWNED BY {self.q(table)}.{quote_ident(col)};")]

    def sequence(self, name: str, expected: dict | None, actual: dict | None):
        s = self.q(name)
        if expected is None:
            # IF EXISTS: dropping the table that owns it drops it too
            return [(DROP["sequence"], f"DROP SEQUENCE IF EXISTS {s};")]
        opts = f"AS {expected['type']} INCREMENT BY {expected['increment']} START WITH {expected['start']}"
        if actual is None:
            steps = [(ADD["sequence"], f"CREATE SEQUENCE {s} {opts};")]
            return steps + (self._owned(name, expected["owned_by"]) if expected.get("owned_by") else [])
        steps = []
        if any(expected[k] != actual.get(k) for k in ("type", "increment", "start")):
            steps.append((ADD["sequence"], f"ALTER SEQUENCE {s} {opts};"))
        if expected.get("owned_by") != actual.get("owned_by"):
            steps += self._owned(name, expected.get("owned_by"))
        return steps

    # -- tables and their parts --------------------------------------------------------------

    @staticmethod
    def column_def(col: str, c: dict) -> str:
        text = f"{quote_ident(col)} {c['type']}"
        if c.get("default") is not None:
            text += f" DEFAULT {c['default']}"
        return text + (" NOT NULL" if c.get("not_null") else "")

    def create_table(self, name: str, t: dict):
        cols = ",\n    ".join(self.column_def(c, spec) for c, spec in t["columns"].items())
        steps = [(ADD["table"], f"CREATE TABLE {self.q(name)} (\n    {cols}\n);")]
        for con, definition in t["constraints"].items():
            steps += self.constraint(name, con, definition, None)
        backing = set(t["constraints"])
        for idx, spec in t["indexes"].items():
            if idx not in backing:
                # a new table is empty: a plain CREATE INDEX takes no time
                steps.append((ADD["index"], spec["definition"] + ";"))
        for trg, definition in t["triggers"].items():
            steps.append((ADD["trigger"], definition + ";"))
        if t.get("comment") is not None:
            steps += self.comment_table(name, t["comment"])
        for col, spec in t["columns"].items():
            if spec.get("comment") is not None:
                steps += self.comment_column(name, col, spec["comment"])
        return steps

    def drop_table(self, name: str):
        return [(DROP["table"], "-- drops the table and its rows: keep a backup"), (DROP["table"], f"DROP TABLE {self.q(name)};")]

    def add_column(self, table: str, col: str, c: dict):
        steps = [(ADD["column"], f"ALTER TABLE {self.q(table)} ADD COLUMN {self.column_def(col, c)};")]
        if c.get("comment") is not None:
            steps += self.comment_column(table, col, c["comment"])
        return steps

    def drop_column(self, table: str, col: str):
        return [(DROP["column"], f"ALTER TABLE {self.q(table)} DROP COLUMN {quote_ident(col)};")]

    def alter_column(self, table: str, col: str, want: dict):
        head = f"ALTER TABLE {self.q(table)} ALTER COLUMN {quote_ident(col)}"
        steps = []
        if "type" in want:
            steps.append((ADD["column"], f"{head} TYPE {want['type']} USING {quote_ident(col)}::{want['type']};"))
        if "default" in want:
            steps.append((ADD["column"], f"{head} SET DEFAULT {want['default']};" if want["default"] is not None
                          else f"{head} DROP DEFAULT;"))
        if "not_null" in want:
            steps.append((ADD["column"], f"{head} {'SET' if want['not_null'] else 'DROP'} NOT NULL;"))
        return steps

    def add_constraint(self, table: str, name: str, definition: str) -> str:
        return f"ALTER TABLE {self.q(table)} ADD CONSTRAINT {quote_ident(name)} {definition}"

    def constraint(self, table: str, name: str, expected: str | None, actual: str | None):
        steps = []
        if actual is not None:
            steps.append((DROP["constraint"], f"ALTER TABLE {self.q(table)} DROP CONSTRAINT {quote_ident(name)};"))
        if expected is not None:
            rank = ADD["foreign_key"] if expected.startswith("FOREIGN KEY") else ADD["constraint"]
            steps.append((rank, self.add_constraint(table, name, expected) + ";"))
        return steps

    def index(self, name: str, expected: str | None, exists: bool):
        steps = []
        if exists:
            steps.append((DROP["index"], f"DROP INDEX CONCURRENTLY {self.q(name)};"))
        if expected is not None:
            # the table may be large and busy: build without blocking writes
            cic = re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ", expected)
            steps.append((ADD["index"], cic + ";"))
        return steps

    def reindex(self, name: str):
        return [(ADD["index"], f"REINDEX INDEX CONCURRENTLY {self.q(name)};")]

    def trigger(self, table: str, name: str, expected: str | None, actual: str | None):
        steps = []
        if actual is not None:
            steps.append((DROP["trigger"], f"DROP TRIGGER {quote_ident(name)} ON {self.q(table)};"))
        if expected is not None:
            steps.append((ADD["trigger"], expected + ";"))
        return steps

    def comment_table(self, table: str, comment: str | None):
        return [(ADD["comment"], f"COMMENT ON TABLE {self.q(table)} IS {literal(comment)};")]

    def comment_column(self, table: str, col: str, comment: str | None):
        return [(ADD["comment"], f"COMMENT ON COLUMN {self.q(table)}.{quote_ident(col)} IS {literal(comment)};")]


def behind_duplicates(steps: list, duplicates, what: str) -> list:
    """The fix of a unique index or constraint (`what`) once its table was checked for duplicate keys:
    with some found, building it fails, so the fix lists them and keeps its statements as advice for
    afterwards; when the table was too large to check, the fix stands behind the query that would tell."""
    rank = min(r for r, _ in steps)
    advice = [(rank, f"-- {duplicates.advice(what)}"), (rank, duplicates.query + ";")]
    if not duplicates.found:
        return advice + steps
    return advice + [(rank, f"-- then: {line}") for _, text in sorted(steps, key=lambda s: s[0])
                     for line in text.splitlines()]
