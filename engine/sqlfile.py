"""SQL files parsed with PostgreSQL's own parser (pglast): statements, lines, and what they need."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

from pglast import ast
from pglast.enums import ObjectType
from pglast.parser import ParseError

from .pgparse import parse_sql

# Objects whose DROP/COMMENT/ALTER needs rights an ordinary owner role lacks (DESIGN §8).
_PRIVILEGED_OBJECTS = {
    ObjectType.OBJECT_EXTENSION: "EXTENSION",
    ObjectType.OBJECT_EVENT_TRIGGER: "EVENT TRIGGER",
    ObjectType.OBJECT_LANGUAGE: "LANGUAGE",
    ObjectType.OBJECT_FDW: "FOREIGN DATA WRAPPER",
    ObjectType.OBJECT_ROLE: "ROLE",
    ObjectType.OBJECT_TABLESPACE: "TABLESPACE",
    ObjectType.OBJECT_SUBSCRIPTION: "SUBSCRIPTION",
}

_PRIVILEGED_NODES = {
    ast.CreateExtensionStmt: "CREATE EXTENSION",
    ast.AlterExtensionStmt: "ALTER EXTENSION",
    ast.AlterExtensionContentsStmt: "ALTER EXTENSION",
    ast.CreateRoleStmt: "CREATE ROLE",
    ast.AlterRoleStmt: "ALTER ROLE",
    ast.AlterRoleSetStmt: "ALTER ROLE SET",
    ast.DropRoleStmt: "DROP ROLE",
    ast.GrantRoleStmt: "GRANT role",
    ast.AlterSystemStmt: "ALTER SYSTEM",
    ast.CreateEventTrigStmt: "CREATE EVENT TRIGGER",
    ast.AlterEventTrigStmt: "ALTER EVENT TRIGGER",
    ast.CreatePLangStmt: "CREATE LANGUAGE",
    ast.CreateFdwStmt: "CREATE FOREIGN DATA WRAPPER",
    ast.AlterFdwStmt: "ALTER FOREIGN DATA WRAPPER",
    ast.CreateTableSpaceStmt: "CREATE TABLESPACE",
    ast.DropTableSpaceStmt: "DROP TABLESPACE",
    ast.CreateSubscriptionStmt: "CREATE SUBSCRIPTION",
    ast.LoadStmt: "LOAD",
}

# Statements PostgreSQL refuses inside a transaction block.
_NON_TRANSACTIONAL_NODES = {
    ast.VacuumStmt: "VACUUM",
    ast.CreatedbStmt: "CREATE DATABASE",
    ast.DropdbStmt: "DROP DATABASE",
    ast.AlterSystemStmt: "ALTER SYSTEM",
    ast.CreateTableSpaceStmt: "CREATE TABLESPACE",
    ast.DropTableSpaceStmt: "DROP TABLESPACE",
}


class SqlSyntaxError(Exception):
    def __init__(self, path: str, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, max(0, offset)) + 1


def privilege_reason(node: ast.Node) -> str | None:
    """Why an ordinary owner role could not run this statement, or None."""
    for cls, reason in _PRIVILEGED_NODES.items():
        if isinstance(node, cls):
            return reason
    if isinstance(node, ast.DropStmt) and node.removeType in _PRIVILEGED_OBJECTS:
        return f"DROP {_PRIVILEGED_OBJECTS[node.removeType]}"
    if isinstance(node, ast.CommentStmt) and node.objtype in _PRIVILEGED_OBJECTS:
        return f"COMMENT ON {_PRIVILEGED_OBJECTS[node.objtype]}"
    if isinstance(node, ast.RenameStmt) and node.renameType in _PRIVILEGED_OBJECTS:
        return f"ALTER {_PRIVILEGED_OBJECTS[node.renameType]} RENAME"
    return None


def _concurrent(node: ast.Node) -> bool:
    if isinstance(node, (ast.IndexStmt, ast.DropStmt)):
        return bool(node.concurrent)
    if isinstance(node, ast.ReindexStmt):
        return any(getattr(p, "defname", "") == "concurrently" for p in (node.params or ()))
    if isinstance(node, ast.RefreshMatViewStmt):
        return bool(node.concurrent)
    if isinstance(node, ast.AlterTableStmt):
        # ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY
        return any(
            isinstance(c.def_, ast.PartitionCmd) and c.def_.concurrent for c in (node.cmds or ())
        )
    return False


@dataclass(frozen=True)
class Statement:
    text: str
    line: int  # line of the file where the statement starts
    offset: int  # character offset in the file
    node: ast.Node

    @property
    def kind(self) -> str:
        return type(self.node).__name__

    @cached_property
    def privilege(self) -> str | None:
        return privilege_reason(self.node)

    @property
    def privileged(self) -> bool:
        return self.privilege is not None

    @property
    def transaction_control(self) -> bool:
        return isinstance(self.node, ast.TransactionStmt)

    @property
    def concurrent(self) -> bool:
        return _concurrent(self.node)

    @property
    def non_transactional(self) -> str | None:
        if isinstance(self.node, ast.VacuumStmt) and not self.node.is_vacuumcmd:
            return None  # plain ANALYZE shares VacuumStmt but runs fine in a transaction
        for cls, what in _NON_TRANSACTIONAL_NODES.items():
            if isinstance(self.node, cls):
                return what
        if self.concurrent:
            return "CONCURRENTLY"
        return None

    @property
    def is_create_index_concurrently(self) -> bool:
        return isinstance(self.node, ast.IndexStmt) and bool(self.node.concurrent)


@dataclass(frozen=True)
class SqlScript:
    """One SQL file: its text, its checksum and its statements in order."""

    path: str
    text: str
    statements: tuple[Statement, ...]

    @cached_property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def empty(self) -> bool:
        return not self.statements


def parse_script(path: str, text: str) -> SqlScript:
    """Split a file into statements with their starting lines; raise SqlSyntaxError on bad SQL."""
    try:
        raw = parse_sql(text)
    except ParseError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        offset = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        raise SqlSyntaxError(path, line_of(text, offset), message) from None
    statements = []
    for r in raw:
        start = r.stmt_location or 0
        end = start + r.stmt_len if r.stmt_len else len(text)
        body = text[start:end].strip()
        # pglast reports the start of leading comments in some cases; point at the first code line.
        lead = len(text[start:end]) - len(text[start:end].lstrip())
        statements.append(Statement(body, line_of(text, start + lead), start + lead, r.stmt))
    return SqlScript(path, text, tuple(statements))
