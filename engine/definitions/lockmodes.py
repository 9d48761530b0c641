"""The work a statement does and PostgreSQL's table-level lock modes and what each keeps an application from doing
(PostgreSQL documentation, "Explicit Locking", table 13.2: conflicting lock modes)."""
from __future__ import annotations

from enum import StrEnum



class Blocks(StrEnum):
    """What a lock keeps other sessions from doing while it is held (PostgreSQL's conflict table,
    seen from an application's plain SELECT and INSERT/UPDATE/DELETE). Re-exported by plan/impact.py."""

    NOTHING = "nothing"
    WRITES = "writes"
    READS_AND_WRITES = "reads and writes"


class Work(StrEnum):
    """What a statement does to a table's rows (the cost that grows with the table)."""

    SCAN = "scan"  # reads every row (under the statement's lock)
    REWRITE = "rewrite"  # copies every row into a new file, indexes rebuilt
    INDEX_BUILD = "index build"
    CATALOG_ONLY = "catalog only"  # an instant, whatever the table's size
    ROWS = "rows"  # writes the rows it names: not a function of the table's size


class LockMode(StrEnum):
    """The eight table-level modes, weakest first (the order `max` and `strongest` use)."""

    ACCESS_SHARE = "ACCESS SHARE"  # SELECT
    ROW_SHARE = "ROW SHARE"  # SELECT ... FOR UPDATE/SHARE
    ROW_EXCLUSIVE = "ROW EXCLUSIVE"  # INSERT, UPDATE, DELETE
    SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"  # VACUUM, ANALYZE, CREATE INDEX CONCURRENTLY, VALIDATE
    SHARE = "SHARE"  # CREATE INDEX
    SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"  # CREATE TRIGGER, ADD FOREIGN KEY
    EXCLUSIVE = "EXCLUSIVE"  # REFRESH MATERIALIZED VIEW CONCURRENTLY
    ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"  # most ALTER TABLE, DROP, TRUNCATE, VACUUM FULL, CLUSTER

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @property
    def blocks(self) -> Blocks:
        """What an application's plain reads (ACCESS SHARE) and writes (ROW EXCLUSIVE) wait for."""
        if conflicts(self, LockMode.ACCESS_SHARE):
            return Blocks.READS_AND_WRITES
        if conflicts(self, LockMode.ROW_EXCLUSIVE):
            return Blocks.WRITES
        return Blocks.NOTHING

    @classmethod
    def from_pg(cls, name: str) -> "LockMode":
        """pg_locks' spelling ("ShareRowExclusiveLock") to the documented name."""
        return _FROM_PG[name]


_ORDER = list(LockMode)

# Table 13.2, as the set of modes each mode conflicts with (the relation is symmetric).
_CONFLICTS: dict[LockMode, frozenset[LockMode]] = {
    LockMode.ACCESS_SHARE: frozenset({LockMode.ACCESS_EXCLUSIVE}),
    LockMode.ROW_SHARE: frozenset({LockMode.EXCLUSIVE, LockMode.ACCESS_EXCLUSIVE}),
    LockMode.ROW_EXCLUSIVE: frozenset({LockMode.SHARE, LockMode.SHARE_ROW_EXCLUSIVE, LockMode.EXCLUSIVE,
                                       LockMode.ACCESS_EXCLUSIVE}),
    LockMode.SHARE_UPDATE_EXCLUSIVE: frozenset({LockMode.SHARE_UPDATE_EXCLUSIVE, LockMode.SHARE,
                                                LockMode.SHARE_ROW_EXCLUSIVE, LockMode.EXCLUSIVE,
                                                LockMode.ACCESS_EXCLUSIVE}),
    LockMode.SHARE: frozenset({LockMode.ROW_EXCLUSIVE, LockMode.SHARE_UPDATE_EXCLUSIVE, LockMode.SHARE_ROW_EXCLUSIVE,
                               LockMode.EXCLUSIVE, LockMode.ACCESS_EXCLUSIVE}),
    LockMode.SHARE_ROW_EXCLUSIVE: frozenset({LockMode.ROW_EXCLUSIVE, LockMode.SHARE_UPDATE_EXCLUSIVE, LockMode.SHARE,
                                             LockMode.SHARE_ROW_EXCLUSIVE, LockMode.EXCLUSIVE,
                                             LockMode.ACCESS_EXCLUSIVE}),
    LockMode.EXCLUSIVE: frozenset(set(LockMode) - {LockMode.ACCESS_SHARE}),
    LockMode.ACCESS_EXCLUSIVE: frozenset(LockMode),
}

_FROM_PG = {"".join(w.title() for w in m.value.split()) + "Lock": m for m in LockMode}


def conflicts(a: LockMode, b: LockMode) -> bool:
    return b in _CONFLICTS[a]


def strongest(modes) -> LockMode | None:
    modes = list(modes)
    return max(modes, key=lambda m: m.rank) if modes else None
