"""One migrator per schema: a session advisory lock taken by polling (docs/design.md §7.3).

`pg_try_advisory_lock` in autocommit mode holds no snapshot between polls, so a waiting
migrator can never block another's CREATE INDEX CONCURRENTLY, which waits for every older
transaction to end. A blocking `pg_advisory_lock` (or a transaction-level lock) is exactly
the reference migrator's deadlock.
"""
from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Callable

import psycopg
from psycopg import sql

from .errors import PgferryError
from .sessions import Session

if TYPE_CHECKING:  # imported by the first lock taken: the read-only commands only read the bookkeeping
    from .events import EventSink


def lock_key(*parts: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock(bigint)."""
    digest = hashlib.blake2b(":".join(("pgferry",) + parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_key_parts(key: int) -> tuple[int, int]:
    # pg_locks shows a bigint key as classid = high 32 bits, objid = low 32 bits (objsubid 1).
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


class LockWaitTimeout(PgferryError):
    pass


HOLDER_SQL = """
SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), coalesce(a.state, ''),
       coalesce(a.query, ''), extract(epoch FROM now() - a.backend_start)::float8, a.backend_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::oid AND l.objid = %s::oid AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
LIMIT 1
"""


class AdvisoryLock:
    def __init__(self, conn: psycopg.Connection, key: int, name: str, *, poll: float = 0.2,
                 timeout: float | None = None, on_event: EventSink | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        from .events import discard

        self.conn = conn
        self.key = key
        self.name = name
        self.poll = poll
        self.timeout = timeout
        self.on_event = on_event if on_event is not None else discard
        self.sleep = sleep
        self.held = False

    def holder(self) -> Session | None:
        classid, objid = lock_key_parts(self.key)
        row = self.conn.execute(HOLDER_SQL, [classid, objid]).fetchone()
        if not row:
            return None
        pid, app, client, state, query, age, since = row
        return Session(pid, app, client, state, query, age or 0.0, since)

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel on which a release is announced to waiters."""
        return f"pgferry_lock_{self.key & 0xFFFFFFFFFFFFFFFF:016x}"

    def try_acquire(self) -> bool:
        got = self.conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()[0]
        self.held = bool(got)
        return self.held

    def _wait(self, listening: bool) -> None:
        """Until the holder announces its release, or one poll interval (a holder that dies
        announces nothing: its session's end frees the lock and the next poll finds it)."""
        if listening:
            for _ in self.conn.notifies(timeout=self.poll, stop_after=1):
                pass
        else:
            self.sleep(self.poll)

    def acquire(self) -> None:
        from .events import LockAcquired, WaitingForLock

        start = time.monotonic()
        last_report = -10.0
        # Waiters LISTEN (autocommit: no transaction, no snapshot, so still never in a CIC's way)
        # and wake on the holder's NOTIFY instead of up to a poll interval later. Tests that
        # inject their own sleep keep plain polling.
        listen = self.sleep is time.sleep
        listening = False
        try:
            while not self.try_acquire():
                waited = time.monotonic() - start
                if self.timeout is not None and waited >= self.timeout:
                    h = self.holder()
                    who = h.describe() if h else "a session that has since gone"
                    raise LockWaitTimeout(
                        f"gave up after {waited:.0f}s waiting for the {self.name} migration lock, held by {who}",
                        hint="wait for the other migrator to finish (pgferry watch), or raise --lock-wait",
                    )
                if waited - last_report >= 1.0:
                    self.on_event(WaitingForLock(self.name, self.holder(), waited))
                    last_report = waited
                if listen and not listening:
                    self.conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    listening = True
                    continue  # the holder may have released between the try and the LISTEN
                self._wait(listening)
        finally:
            if listening and not self.conn.closed and not self.conn.broken:
                self.conn.execute(sql.SQL("UNLISTEN {}").format(sql.Identifier(self.channel)))
        self.on_event(LockAcquired(self.name, time.monotonic() - start))

    def release(self) -> None:
        if self.held:
            try:
                # A session lock ends with its session: on a lost connection there is nothing to
                # release, and trying would hide the error that lost it.
                if not self.conn.closed and not self.conn.broken:
                    self.conn.execute("SELECT pg_advisory_unlock(%s), pg_notify(%s, '')", [self.key, self.channel])
            finally:
                self.held = False

    def __enter__(self) -> "AdvisoryLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        if not self.conn.closed:
            self.release()
