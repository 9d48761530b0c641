"""The names diagnosis, recovery and drift compare, store and print (docs/json.md).

StrEnums: each member is its string, so JSON, transcripts and `--<action>` flags carry exactly
the text they always did, while the code compares typed values instead of spelling strings.
"""
from __future__ import annotations

from enum import StrEnum


class ProblemKind(StrEnum):
    """What an open attempt is: its latest row failed, its backend died mid-way, or it runs now."""

    FAILED = "failed"
    STALE = "stale"
    IN_PROGRESS = "in_progress"


class ActionKind(StrEnum):
    """A recovery action; the value is its `pgferry recover --<value>` flag."""

    RETRY = "retry"
    DOWN = "down"
    MARK_APPLIED = "mark-applied"
    MARK_REVERTED = "mark-reverted"
    REPAIR_INDEX = "repair-index"

    @property
    def marks(self) -> bool:
        """Records a result in migration_logs and runs nothing."""
        return self in (ActionKind.MARK_APPLIED, ActionKind.MARK_REVERTED)

    @property
    def leaves_applied(self) -> bool:
        """The migration counts as applied once it succeeded (retry, mark applied)."""
        return self in (ActionKind.RETRY, ActionKind.MARK_APPLIED)


MIGRATION_ACTIONS = (ActionKind.RETRY, ActionKind.DOWN, ActionKind.MARK_APPLIED, ActionKind.MARK_REVERTED)


class EffectKind(StrEnum):
    """An object an up.sql creates, as recovery asks the catalog about it."""

    TABLE = "table"
    INDEX = "index"
    COLUMN = "column"
    EXTENSION = "extension"
    VIEW = "view"
    TYPE = "type"
    FUNCTION = "function"
    SEQUENCE = "sequence"


class ObjectKind(StrEnum):
    """What a drift difference is about, in dependency order: differences are listed in this order."""

    EXTENSION = "extension"
    ENUM = "enum"
    FUNCTION = "function"
    SEQUENCE = "sequence"
    TABLE = "table"
    COLUMN = "column"
    CONSTRAINT = "constraint"
    INDEX = "index"
    TRIGGER = "trigger"
    VIEW = "view"
    COMMENT = "comment"

    @property
    def rank(self) -> int:
        return list(ObjectKind).index(self)


class DriftProblem(StrEnum):
    MISSING = "missing"  # expected, not there
    UNEXPECTED = "unexpected"  # there, not expected
    DIFFERENT = "different"
    INVALID_INDEX = "invalid index"  # same definition, but the live one is INVALID
