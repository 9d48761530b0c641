"""A side connection that watches the runner's current statement from outside.

While a statement runs longer than a moment, it reports who blocks it (pg_blocking_pids)
and, for a concurrent index build, the build's phase and counters
(pg_stat_progress_create_index). It reads only views any session can see, which is also
what lets `pgferry watch` on another machine show the same thing.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psycopg

from ..connection import connect
from ..events import EventSink, IndexProgress, LockWait
from ..sessions import Session

BLOCKERS_SQL = """
SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), coalesce(a.state, ''),
       coalesce(a.query, ''), extract(epoch FROM now() - coalesce(a.xact_start, a.query_start, a.backend_start))::float8,
       coalesce(a.xact_start, a.query_start)
FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids(%s))
ORDER BY a.pid
"""

PROGRESS_SQL = """
SELECT p.pid, p.phase, p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total, p.lockers_done, p.lockers_total
FROM pg_stat_progress_create_index p WHERE p.pid = %s
"""


def blockers(conn: psycopg.Connection, pid: int) -> tuple[Session, ...]:
    return tuple(Session(*row) for row in conn.execute(BLOCKERS_SQL, [pid]).fetchall())


def index_progress(conn: psycopg.Connection, pid: int, schema: str, migration_id: int, index: str) -> IndexProgress | None:
    row = conn.execute(PROGRESS_SQL, [pid]).fetchone()
    if not row:
        return None
    bpid, phase, bd, bt, td, tt, ld, lt = row
    return IndexProgress(schema, migration_id, index, phase or "", bd or 0, bt or 0, td or 0, tt or 0, ld or 0, lt or 0, bpid)


@dataclass(frozen=True)
class Watched:
    schema: str
    migration_id: int
    line: int
    pid: int
    index: str | None
    since: float


def timing_for(lock_timeout: float | None) -> dict[str, float]:
    """Monitor timing for statements that give up after `lock_timeout` seconds.

    Blockers can only be seen while the statement waits (pg_blocking_pids is empty once
    lock_timeout has cancelled it), so a short lock timeout needs an early, frequent look:
    several looks fit in the wait whatever the timeout.
    """
    if not lock_timeout:
        return {"interval": 0.25, "after": 0.5}
    return {"interval": min(0.25, lock_timeout / 5), "after": min(0.5, lock_timeout / 4)}


class Monitor:
    def __init__(self, dsn: str, on_event: EventSink, *, interval: float = 0.25, after: float = 0.5):
        self.dsn = dsn
        self.on_event = on_event
        self.interval = interval
        self.after = after
        self.current: Watched | None = None
        self.last_blockers: tuple[Session, ...] = ()
        self._conn: psycopg.Connection | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pgferry-monitor", daemon=True)
        self._thread.start()

    def watch(self, schema: str, migration_id: int, line: int, pid: int, index: str | None = None) -> None:
        self.current = Watched(schema, migration_id, line, pid, index, time.monotonic())

    def clear(self) -> None:
        self.current = None

    def reset_blockers(self) -> None:
        """Forget the blockers seen so far (at the start of a migration, not of each retry)."""
        self.last_blockers = ()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass

    def _connect(self) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.dsn, role="monitor")

    def _loop(self) -> None:
        try:
            self._connect()  # now, so that the first look at a blocked statement is not spent connecting
        except Exception:  # noqa: BLE001 - retried at the first look
            self._conn = None
        while not self._stop.wait(self.interval):
            w = self.current
            if w is None or time.monotonic() - w.since < self.after:
                continue
            try:
                self._connect()
                found = blockers(self._conn, w.pid)
                if self.current is not w:
                    continue
                if found:
                    self.last_blockers = found
                    self.on_event(LockWait(w.schema, w.migration_id, w.line, found, time.monotonic() - w.since))
                if w.index:
                    progress = index_progress(self._conn, w.pid, w.schema, w.migration_id, w.index)
                    if progress and self.current is w:
                        self.on_event(progress)
            except Exception:  # noqa: BLE001 - the monitor is advisory; the runner reports real errors
                self._conn = None
                time.sleep(self.interval)
