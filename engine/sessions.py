"""Other database sessions as pg_stat_activity shows them, and how far an index build is: what a
lock wait names and a progress line shows (carried by events, read by the lock and build monitors)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Session:
    """Another database session, as pg_stat_activity shows it."""

    pid: int
    application: str = ""
    client: str = ""
    state: str = ""
    query: str = ""
    age_seconds: float = 0.0
    since: datetime | None = None

    def describe(self) -> str:
        app = f" ({self.application})" if self.application else ""
        q = " ".join(self.query.split())
        q = q[:117] + "..." if len(q) > 120 else q
        return f"pid {self.pid}{app}, {self.state or 'unknown'} for {self.age_seconds:.0f}s: {q}"


def build_fraction(blocks_done: int, blocks_total: int, tuples_done: int, tuples_total: int) -> float | None:
    """How far an index build is, from pg_stat_progress_create_index's counters (blocks first)."""
    if blocks_total:
        return blocks_done / blocks_total
    if tuples_total:
        return tuples_done / tuples_total
    return None
