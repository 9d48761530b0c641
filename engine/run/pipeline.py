"""libpq pipeline mode on a psycopg connection: queries leave without waiting, results come back in order.

The runner uses it so that the server works on one migration while this process handles the
results of the one before (on a small machine the two share the CPUs: waiting for each round trip
in turn leaves one of them idle). Each query is tagged by the caller; `result()` returns the next
query's tag with its result, so an error is always matched to the statement that caused it.

After an error the server skips every query up to the next Sync; `close()` sends a Sync,
reads what is left (through every Sync still due) and leaves pipeline mode, so the connection is
usable again by ordinary `execute()` calls.
"""
from __future__ import annotations

import select
from collections import deque
from typing import Any

import psycopg
from psycopg import pq

ExecStatus = pq.ExecStatus
_ABORTED = ExecStatus.PIPELINE_ABORTED
_SYNC = ExecStatus.PIPELINE_SYNC


class Pipeline:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.pg = conn.pgconn
        self.pending: deque[Any] = deque()  # one tag per query sent and not yet read, in order
        self._poll = select.poll()
        self._fd = self.pg.socket
        self._poll.register(self._fd, select.POLLIN)
        self._open = False
        self._encoding = conn.info.encoding or "utf-8"
        self._syncs = 0  # Syncs sent whose result has not been read

    # -- sending ---------------------------------------------------------------------------

    def open(self) -> None:
        self.pg.enter_pipeline_mode()
        self._open = True

    def send(self, query: str, tag: Any, flush: bool = True) -> None:
        """Queue one statement (extended protocol: exactly one statement per query).

        Followed by a Flush message unless `flush` is false: without one the server holds the
        result back until the next Flush or Sync, and the caller could not tell which statement
        is running. Leave it out only where a flushed query or a Sync follows in the same push
        and nothing waits on this result alone (each Flush is a write on the server and a wake-up
        here; an error is sent at once either way)."""
        self.pg.send_query_params(query.encode(self._encoding), None)
        if flush:
            self.pg.send_flush_request()
        self.pending.append(tag)

    def sync(self, tag: Any) -> None:
        """Queue a Sync: the server ends its implicit transaction there, reports ReadyForQuery
        (an open transaction block then shows as idle in transaction) and, after an error,
        stops skipping queries."""
        self.pg.pipeline_sync()
        self.pending.append(tag)
        self._syncs += 1

    def push(self) -> None:
        """Write out everything queued."""
        self._flush()

    # -- receiving -------------------------------------------------------------------------

    def result(self) -> tuple[Any, pq.abc.PGresult]:
        """The next query's (tag, result), waiting for it. ExecStatus.PIPELINE_ABORTED marks a
        query the server skipped after an earlier error."""
        tag = self.pending.popleft()
        first = self._get()
        if first is None:
            raise psycopg.OperationalError("the connection to the server was lost")
        if first.status == _SYNC:  # a Sync's result is not followed by the end-of-query NULL
            self._syncs -= 1
            return tag, first
        # libpq ends each query's results with NULL; a statement returns one result.
        while (extra := self._get()) is not None:
            if first.status != ExecStatus.FATAL_ERROR and extra.status == ExecStatus.FATAL_ERROR:
                first = extra
        return tag, first

    def close(self) -> None:
        """Sync, read everything still due (skipped or not), leave pipeline mode."""
        if not self._open:
            return
        self._open = False
        pg = self.pg
        if pg.status == pq.ConnStatus.BAD:
            return
        try:
            pg.pipeline_sync()
            self._flush()
            due = self._syncs + 1
            while pg.status != pq.ConnStatus.BAD:  # a lost connection has nothing more to say
                r = self._get()
                if r is not None and r.status == _SYNC:
                    due -= 1
                    if not due:
                        break
            self._syncs = 0
            self.pending.clear()
            if pg.status != pq.ConnStatus.BAD:
                pg.exit_pipeline_mode()
        finally:
            self._poll.unregister(self._fd)

    # -- libpq plumbing (its calls raise psycopg.OperationalError when the connection is lost) --

    def _flush(self) -> None:
        """Write out the queue; read meanwhile, so a server blocked on sending results cannot
        deadlock with us blocked on sending queries."""
        pg = self.pg
        while True:
            if not pg.flush():
                return
            self._poll.modify(self._fd, select.POLLIN | select.POLLOUT)
            events = self._wait()
            self._poll.modify(self._fd, select.POLLIN)
            if events & select.POLLIN:
                pg.consume_input()

    def _get(self) -> pq.abc.PGresult | None:
        pg = self.pg
        while pg.is_busy():
            self._wait()
            try:
                pg.consume_input()
            except psycopg.OperationalError:
                # The server may have said why before it hung up (a FATAL error: shutdown,
                # terminated backend): that result is the better report.
                r = pg.get_result()
                if r is not None and r.status == ExecStatus.FATAL_ERROR:
                    return r
                raise
        return pg.get_result()

    def _wait(self) -> int:
        while True:
            ready = self._poll.poll()
            if ready:
                return ready[0][1]


def error_from(result: pq.abc.PGresult, conn: psycopg.Connection) -> psycopg.Error:
    """The psycopg exception (with .diag and .sqlstate) for a FATAL_ERROR result."""
    from psycopg import errors

    return errors.error_from_result(result, encoding=conn.info.encoding or "utf-8")
