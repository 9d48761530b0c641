"""SQL files parsed with PostgreSQL's own parser (pglast): statements, lines, and what they need."""
from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pglast import ast

    from .notes import LintNotes

# pglast is imported where a file is parsed or a tree is built, never by loading this module: the
# commands that only decide whether anything is to be done (status, check, up with nothing pending)
# get their definitions from the cache (defcache) and never parse (tests/cli/test_lazy_imports.py).

# Objects whose DROP/COMMENT/ALTER needs rights an ordinary owner role lacks (docs/design.md §8).
_PRIVILEGED_OBJECTS = {  # keyed by the JSON's spelling: the name of pglast.enums.ObjectType's member
    "OBJECT_EXTENSION": "EXTENSION",
    "OBJECT_EVENT_TRIGGER": "EVENT TRIGGER",
    "OBJECT_LANGUAGE": "LANGUAGE",
    "OBJECT_FDW": "FOREIGN DATA WRAPPER",
    "OBJECT_ROLE": "ROLE",
    "OBJECT_TABLESPACE": "TABLESPACE",
    "OBJECT_SUBSCRIPTION": "SUBSCRIPTION",
}

_PRIVILEGED_NODES = {
    "CreateExtensionStmt": "CREATE EXTENSION",
    "AlterExtensionStmt": "ALTER EXTENSION",
    "AlterExtensionContentsStmt": "ALTER EXTENSION",
    "CreateRoleStmt": "CREATE ROLE",
    "AlterRoleStmt": "ALTER ROLE",
    "AlterRoleSetStmt": "ALTER ROLE SET",
    "DropRoleStmt": "DROP ROLE",
    "GrantRoleStmt": "GRANT role",
    "AlterSystemStmt": "ALTER SYSTEM",
    "CreateEventTrigStmt": "CREATE EVENT TRIGGER",
    "AlterEventTrigStmt": "ALTER EVENT TRIGGER",
    "CreatePLangStmt": "CREATE LANGUAGE",
    "CreateFdwStmt": "CREATE FOREIGN DATA WRAPPER",
    "AlterFdwStmt": "ALTER FOREIGN DATA WRAPPER",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "DropTableSpaceStmt": "DROP TABLESPACE",
    "CreateSubscriptionStmt": "CREATE SUBSCRIPTION",
    "LoadStmt": "LOAD",
}

# Statements PostgreSQL refuses inside a transaction block.
_NON_TRANSACTIONAL_NODES = {
    "VacuumStmt": "VACUUM",
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "AlterSystemStmt": "ALTER SYSTEM",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "DropTableSpaceStmt": "DROP TABLESPACE",
}


class SqlSyntaxError(Exception):
    def __init__(self, path: str, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset (one lookup; `Lines` for many in the same text)."""
    return text.count("\n", 0, max(0, offset)) + 1


class Lines:
    """Line numbers of many offsets in one text: the newlines are found once and each lookup is a
    binary search, so a file of N statements costs N log N, not N times its length."""

    __slots__ = ("_newlines",)

    def __init__(self, text: str):
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    def of(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, max(0, offset)) + 1


def privilege_reason(kind: str, body: dict) -> str | None:
    """Why an ordinary owner role could not run this statement, or None (`body`: its JSON)."""
    reason = _PRIVILEGED_NODES.get(kind)
    if reason:
        return reason
    field = {"DropStmt": "removeType", "CommentStmt": "objtype", "RenameStmt": "renameType"}.get(kind)
    obj = _PRIVILEGED_OBJECTS.get(body.get(field)) if field else None
    if obj:
        verb = {"DropStmt": "DROP", "CommentStmt": "COMMENT ON", "RenameStmt": "ALTER"}[kind]
        return f"{verb} {obj}" + (" RENAME" if kind == "RenameStmt" else "")
    return None


def _concurrent(kind: str, body: dict) -> bool:
    if kind in ("IndexStmt", "DropStmt", "RefreshMatViewStmt"):
        return bool(body.get("concurrent"))
    if kind == "ReindexStmt":
        return any(p.get("DefElem", {}).get("defname") == "concurrently" for p in body.get("params") or ())
    if kind == "AlterTableStmt":
        # ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY
        return any(c.get("AlterTableCmd", {}).get("def", {}).get("PartitionCmd", {}).get("concurrent")
                   for c in body.get("cmds") or ())
    return False


class Facts(NamedTuple):
    """What the loader needs to know about a statement, read off the parser's JSON."""

    kind: str  # the parse node's class: IndexStmt, CreateStmt, ...
    privilege: str | None
    concurrent: bool
    non_transactional: str | None
    create_index_concurrently: bool
    names_index: bool = False  # CREATE INDEX <name> ...: a CIC must (validate.check_migration)


def facts_of(wrapped: dict | None) -> Facts:
    ((kind, body),) = (wrapped or {"": {}}).items()
    concurrent = _concurrent(kind, body)
    if kind == "VacuumStmt" and not body.get("is_vacuumcmd"):
        non_tx = None  # plain ANALYZE shares VacuumStmt but runs fine in a transaction
    else:
        non_tx = _NON_TRANSACTIONAL_NODES.get(kind) or ("CONCURRENTLY" if concurrent else None)
    return Facts(kind, privilege_reason(kind, body), concurrent, non_tx,
                 kind == "IndexStmt" and bool(body.get("concurrent")), kind == "IndexStmt" and bool(body.get("idxname")))


class LaterTrees:
    """A file's statement trees, built (all at once, by pgparse.parse_sql) the first time one is asked for."""

    __slots__ = ("text", "_trees")

    def __init__(self, text: str):
        self.text = text
        self._trees: tuple | None = None

    def __reduce__(self):
        return LaterTrees, (self.text,)  # the text only: trees are rebuilt where needed (defcache)

    def node(self, i: int):
        if self._trees is None:
            from .pgparse import parse_sql

            self._trees = tuple(raw.stmt for raw in parse_sql(self.text))
        return self._trees[i]


@dataclass(frozen=True)
class Statement:
    """One statement of a file. What kind it is comes from the parser's JSON (`facts`); the
    typed tree (`node`) is built on first use (see LaterTrees)."""

    text: str
    line: int  # line of the file where the statement starts
    offset: int  # character offset in the file
    facts: Facts = field(repr=False, compare=False)
    source: LaterTrees = field(repr=False, compare=False)
    index: int = field(default=0, repr=False, compare=False)
    # What the lint reads off the tree, when the shipped index says it (lint.lint_notes reads the tree otherwise)
    notes: LintNotes | None = field(default=None, repr=False, compare=False)

    def __reduce__(self):
        # Never the built tree: it is rebuilt from the file's text when needed (defcache).
        return Statement, (self.text, self.line, self.offset, self.facts, self.source, self.index, self.notes)

    @cached_property
    def node(self) -> ast.Node:
        return self.source.node(self.index)

    @property
    def kind(self) -> str:
        return self.facts.kind

    @property
    def privilege(self) -> str | None:
        return self.facts.privilege

    @property
    def privileged(self) -> bool:
        return self.facts.privilege is not None

    @property
    def transaction_control(self) -> bool:
        return self.facts.kind == "TransactionStmt"

    @property
    def concurrent(self) -> bool:
        return self.facts.concurrent

    @property
    def non_transactional(self) -> str | None:
        return self.facts.non_transactional

    @property
    def is_create_index_concurrently(self) -> bool:
        return self.facts.create_index_concurrently


@dataclass(frozen=True)
class SqlScript:
    """One SQL file: its text, its checksum and its statements in order."""

    path: str
    text: str
    statements: tuple[Statement, ...]

    @cached_property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @cached_property
    def token_checksum(self) -> str | None:
        """The checksum of what PostgreSQL reads: equal for two versions of the file that differ only
        in whitespace, comments or the case of keywords (a literal, an identifier, a function body
        are compared as written). None when the scanner cannot read the text."""
        return token_checksum(self.text)

    @property
    def empty(self) -> bool:
        return not self.statements


_COMMENTS = frozenset(("SQL_COMMENT", "C_COMMENT"))


def token_checksum(text: str) -> str | None:
    """sha256 of the text's tokens (PostgreSQL's own scanner, through pglast) without comments,
    keywords in lower case, one NUL between tokens (no token holds one)."""
    from pglast.parser import ParseError, scan

    try:
        tokens = scan(text)
    except ParseError:  # an unterminated string or comment: the file never loads anyway
        return None
    words = (text[t.start:t.end + 1] if t.kind == "NO_KEYWORD" else text[t.start:t.end + 1].lower()
             for t in tokens if t.name not in _COMMENTS)
    return hashlib.sha256("\0".join(words).encode()).hexdigest()


def parse_script(path: str, text: str) -> SqlScript:
    """Split a file into statements with their starting lines; raise SqlSyntaxError on bad SQL."""
    from pglast.parser import ParseError

    from .pgparse import ParsedFile

    try:
        parsed = ParsedFile(text)
    except ParseError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        offset = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        raise SqlSyntaxError(path, line_of(text, offset), message) from None
    # the JSON is dropped with `parsed`: the statements keep only their facts
    return script_of(path, text, parsed.spans, [facts_of(body) for body in parsed.bodies])


def script_of(path: str, text: str, spans, facts, notes=None) -> SqlScript:
    """The script whose statements stand at `spans` ((start, length) in characters, length 0 for
    "to the end") with these facts: from the parser, or from the shipped index (defindex.py)."""
    statements = []
    lines = Lines(text)
    trees = LaterTrees(text)  # shared by the file's statements
    for i, (start, length) in enumerate(spans):
        start = start or 0
        end = start + length if length else len(text)
        chunk = text[start:end]
        body = chunk.strip()
        # the parser reports the start of leading comments in some cases; point at the first code line.
        lead = len(chunk) - len(chunk.lstrip())
        statements.append(Statement(body, lines.of(start + lead), start + lead, facts[i], trees, i,
                                    notes[i] if notes else None))
    return SqlScript(path, text, tuple(statements))
