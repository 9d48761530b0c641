"""Rebuilding the indexes a collation version change may have corrupted, before a plan's schema steps.

A plan carries them as `Reindex` steps (one `REINDEX INDEX CONCURRENTLY` each) estimated from the
index's size; engine/upgrade/collation.py finds them and runs them. Nothing here touches a database.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..sizes import human_size

# A concurrent rebuild reads the table twice and sorts: on ordinary hardware it moves tens of MB
# of index a second. The estimate is for planning a window, not a promise.
REINDEX_BYTES_PER_SECOND = 32 * 1024 * 1024


def estimate_seconds(size: int) -> float:
    """At least a second: a concurrent rebuild waits out two rounds of older transactions."""
    return max(1.0, round(size / REINDEX_BYTES_PER_SECOND, 1))


@dataclass(frozen=True)
class Reindex:
    database: str
    index: str  # schema-qualified and quoted, as format('%I.%I') gives it
    table: str
    size: int  # bytes, pg_relation_size
    collations: tuple[str, ...]  # the changed collations it uses

    @property
    def seconds(self) -> float:
        return estimate_seconds(self.size)

    @property
    def sql(self) -> str:
        return f"REINDEX INDEX CONCURRENTLY {self.index}"

    def describe(self) -> str:
        return f"{self.index} on {self.table} ({human_size(self.size)}, ~{self.seconds:g}s; {', '.join(self.collations)})"

    def as_dict(self) -> dict:
        return {"kind": "reindex", "database": self.database, "index": self.index, "table": self.table,
                "size": self.size, "collations": list(self.collations), "estimated_seconds": self.seconds}
