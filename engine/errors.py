"""Errors the engine raises, each tied to the command line's exit code (docs/design.md §11)."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Sequence


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2  # usage error or invalid definitions
    PRIVILEGED = 3  # a privileged step needs someone else
    DIRTY = 4
    DRIFT = 5
    CONNECT = 6


class PgferryError(Exception):
    """Base class: a message fit for an operator, plus the exit code it maps to."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(PgferryError):
    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class Finding:
    """One validation result: an error or a lint warning, pointing at a file and line."""

    path: str
    line: int | None
    message: str
    hint: str | None = None
    severity: str = "error"  # "error" | "warning"
    rule: str = ""

    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "message": self.message,
            "hint": self.hint,
            "rule": self.rule,
        }


class DefinitionError(PgferryError):
    """The migration definitions on disk are invalid (exit 2)."""

    exit_code = ExitCode.USAGE

    def __init__(self, findings: list[Finding]):
        self.findings = [f for f in findings if f.severity == "error"]
        first = self.findings[0] if self.findings else None
        text = f"{first.location()}: {first.message}" if first else "invalid definitions"
        if len(self.findings) > 1:
            text += f" (and {len(self.findings) - 1} more; run `pgferry validate`)"
        super().__init__(text, hint=first.hint if first else None)


class ConnectError(PgferryError):
    exit_code = ExitCode.CONNECT


class ReadOnlyDatabase(PgferryError):
    """The connection cannot write: a hot standby, or default_transaction_read_only (exit 1)."""

    exit_code = ExitCode.FAILURE


class DirtyDatabase(PgferryError):
    exit_code = ExitCode.DIRTY


class PrivilegeRequired(PgferryError):
    exit_code = ExitCode.PRIVILEGED


class DriftFound(PgferryError):
    exit_code = ExitCode.DRIFT


# Backups tied to runs (issue 15 §5).
class MigratorBusy(PgferryError):
    """Another migrator holds a lock on the databases a restore would replace (exit 1, as every lock pgferry cannot have)."""

    exit_code = ExitCode.FAILURE


@dataclass
class StatementFailure:
    """Where and why a statement failed: enough to point an operator at the file line."""

    schema: str
    migration_id: int
    path: str
    line: int
    statement: str
    sqlstate: str | None
    message: str
    detail: str | None = None
    hint: str | None = None
    extra: dict = field(default_factory=dict)

    def describe(self) -> str:
        parts = [f"{self.path}:{self.line}: {self.message}"]
        if self.sqlstate:
            parts[0] += f" (SQLSTATE {self.sqlstate})"
        if self.detail:
            parts.append(f"DETAIL: {self.detail}")
        if self.hint:
            parts.append(f"HINT: {self.hint}")
        return "\n".join(parts)


class MigrationFailed(PgferryError):
    """A migration's statement failed; its transaction was rolled back."""

    exit_code = ExitCode.FAILURE

    def __init__(self, failure: StatementFailure, *, rolled_back: bool = True):
        self.failure = failure
        self.rolled_back = rolled_back
        head = f"{failure.schema} migration {failure.migration_id} failed at {failure.describe()}"
        tail = (
            "The migration's transaction was rolled back: nothing of it is applied."
            if rolled_back
            else "The step ran outside a transaction; run `pgferry recover` to inspect it."
        )
        super().__init__(f"{head}\n{tail}")


class LockTimeout(PgferryError):
    """DDL could not get its lock within lock_timeout after every retry."""

    exit_code = ExitCode.FAILURE


# Raised while running (engine/run/)


class ConnectionLost(PgferryError):
    """The session ended mid-run (restart, pg_terminate_backend, network): every migration is
    either committed with its row or rolled back, so running again continues (exit 1)."""


class OutOfBandFailed(PgferryError):
    """An out-of-band migration stopped: repeated batch errors, no progress, or a lost session."""


# What the server said, read one way wherever a psycopg error becomes text (run/, connection.py,
# the command line, the app); each caller masks and neutralises it for where it goes.


@dataclass(frozen=True)
class ServerMessage:
    """A psycopg error as the server (or libpq, when the server never answered) put it."""

    text: str  # the primary message; else the driver's first line; else the error's type
    sqlstate: str | None = None
    detail: str | None = None
    hint: str | None = None
    position: int | None = None  # 1-based character of the statement the server points at

    def with_state(self) -> str:
        return f"{self.text} (SQLSTATE {self.sqlstate})" if self.sqlstate else self.text


def server_message(exc: BaseException) -> ServerMessage:
    diag = getattr(exc, "diag", None)
    said = (str(exc).strip().splitlines() or [""])[0]
    text = (diag.message_primary if diag is not None else None) or said or type(exc).__name__
    if diag is None:
        return ServerMessage(text, getattr(exc, "sqlstate", None))
    position = diag.statement_position
    return ServerMessage(text, getattr(exc, "sqlstate", None), diag.message_detail, diag.message_hint,
                         int(position) if position and position.isdigit() else None)


# Raised by recovery actions (engine/repair/)

class CatalogDisagrees(PgferryError):
    """The catalog contradicts what the action would record, or shows it would fail: nothing changed.

    Exit 1, not 2: the command was well formed, the database says no. Not 4 either: the refusal is
    about this one action, and the database need not be dirty at all (marking a pending migration);
    `pgferry recover` without an action is what answers "is it dirty"."""

    exit_code = ExitCode.FAILURE


# Raised while planning and moving between releases (engine/plan/, engine/upgrade/)

class PlanError(UsageError):
    """No plan leads from where the database stands to the target (exit 2)."""


class PreflightFailed(PgferryError):
    """A preflight check failed before a move; nothing was changed (exit 1)."""

    def __init__(self, failures: Sequence, to: str):  # engine.upgrade.preflight.Check, failed ones
        first = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(f"preflight failed: {first.name}: {first.reason}{more}",
                         hint=f"`pgferry preflight --to {to}` shows every check with its fix; "
                              "--skip-preflight runs anyway, at the risk the check names")
        self.failures = list(failures)


class OutOfBandPaused(PgferryError):
    """An out-of-band migration was paused at a stop of the run; the run stopped there (exit 1)."""


class RunStopped(PgferryError):
    """Someone asked the run to pause or abort; it stopped at a safe point (no migration half-applied)."""

    def __init__(self, control: str, by: str | None, position: int, total: int, to_version: str):
        self.control = control
        self.status = "paused" if control == "pause" else "aborted"
        super().__init__(
            f"upgrade {self.status} at step {position}/{total} as {by or 'someone'} asked; every step so far is "
            "complete and nothing is half-applied",
            hint=f"run the same upgrade to {to_version} again to continue" if control == "pause"
            else "the database is between releases: pick a target and run again to finish or go back")


class DumpFailed(PgferryError):
    """pg_dump could not write its checkpoint (exit 1)."""


# Fleet upgrades (engine/fleet/, issue 18)

class InventoryError(UsageError):
    """The fleet's inventory file is invalid (exit 2): one line per problem, each with its file and line."""

    def __init__(self, findings: list[Finding]):
        self.findings = list(findings)
        lines = [f"{f.location()}: {f.message}" + (f" (fix: {f.hint})" if f.hint else "") for f in self.findings]
        super().__init__("\n".join(lines) or "invalid inventory")
