"""Transactional migrations: each in its own transaction with its success row, pipelined, retried
after a lock timeout (docs/design.md §7, rules 1, 5 and 6)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

import psycopg

from ..definitions.graph import Step
from ..definitions.sqlfile import Statement
from ..events import LockRetry, MigrationFinished, MigrationStarted, Retrying, RunInterrupted, StatementStarted
from .pipeline import Pipeline, error_from
from .session import RETRYABLE, MigratorSession, RunResult

# pipeline tags (migration position, n): n > 0 is its n-th statement, 0 its BEGIN
_ROW, _COMMIT, _RESTORE, _SYNC = -1, -2, -3, -4
FATAL_ERROR = psycopg.pq.ExecStatus.FATAL_ERROR


class _StepFailed(Exception):
    """A statement of the migration at `position` in a pipelined batch failed (see pipeline.py).

    Private on purpose: pure control flow between `_pipelined` and `_run_transactional`, which
    turns it into a retry or a MigrationFailed; it never leaves this module."""

    def __init__(self, position: int, statement: Statement | None, error: psycopg.Error, wall: datetime,
                 note: str = ""):
        self.position, self.statement, self.error, self.wall, self.note = position, statement, error, wall, note
        self.retryable = isinstance(error, RETRYABLE)


@dataclass
class _OnServer:
    """Positions in a pipelined batch whose outcome this process has not delivered yet: what an
    interruption leaves undecided (the server may be a migration ahead of the events)."""

    committing: int | None = None  # its COMMIT was sent; cleared once its MigrationFinished is out
    answered: bool = False  # ... and the server's answer to that COMMIT was read
    open: int | None = None  # its statements were sent, its COMMIT not: it cannot have committed


class TransactionalSteps(MigratorSession):
    """Applies consecutive transactional steps (everything but CIC and privileged ones)."""

    def _run_transactional(self, steps: list[Step], result: RunResult, total: int, failed: Mapping) -> None:
        """Apply `steps` in order, each in its own transaction with its success row (rules 1, 5, 6).

        Pipelined (pipeline.py): while this process handles one migration's results, the server
        is already running the next one's statements. That one's success row and COMMIT are sent
        only once the migration before it is finished and its events delivered, so neither a
        failure nor a stop asked for between migrations can let a later migration commit: the one
        in flight is rolled back instead. A lock timeout retries from the migration that hit it."""
        start, attempt = 0, 1
        while start < len(steps):
            try:
                self._pipelined(steps[start:], result, total, failed, attempt)
                return
            except _StepFailed as f:
                self._rollback()
                start += f.position
                attempt = attempt if f.position == 0 else 1  # counts per migration
                step = steps[start]
                if f.retryable and attempt <= self.options.lock_retries:
                    delay = self._backoff(attempt)
                    self.on_event(LockRetry(step.schema, step.id, attempt, self.options.lock_retries + 1, delay,
                                            self.monitor.last_blockers))
                    time.sleep(delay)
                    attempt += 1
                    continue
                blockers = self.monitor.last_blockers
                extra = ""
                if f.retryable:
                    who = "; blocked by " + "; ".join(b.describe() for b in blockers) if blockers else ""
                    extra = f" after {attempt} attempts{who}"
                self._fail(step, f.statement, f.error, f.wall, extra + f.note)

    def _pipelined(self, steps: list[Step], result: RunResult, total: int, failed: Mapping, attempt: int) -> None:
        conn, log, monitor, on_event = self.conn, self.log, self.monitor, self.on_event
        pid = self.pid
        pipe = Pipeline(conn)
        sent = _OnServer()

        def send_body(i: int) -> None:
            step = steps[i]
            sent.open = i
            pipe.send("BEGIN", (i, 0))
            for n, st in enumerate(step.script.statements, 1):
                pipe.send(st.text, (i, n))
            # Inside the migration's transaction: what the migration SET goes with its COMMIT, and
            # with its rollback, so every migration (and the bookkeeping between) starts from
            # pgferry's settings, however the run was split. The success row is written after it.
            # Not flushed: a Sync (send_ahead) or the flushed COMMIT (send_end) follows them.
            for q in self.restore:
                pipe.send(q, (i, _RESTORE), flush=False)

        def send_end(i: int) -> None:
            step = steps[i]
            pipe.send(log.success_statement(step.schema, step.id, step.up, step.script,
                                            step.backfill, self.run_id), (i, _ROW), flush=False)
            sent.committing, sent.answered, sent.open = i, False, None  # before it leaves: a check is never wrong
            pipe.send("COMMIT", (i, _COMMIT))

        def send_ahead(i: int) -> None:
            """Migration i's statements, to run while this process handles the one before. The
            Sync after them makes the server report the transaction idle while it waits for the
            end, so idle_in_transaction_session_timeout bounds how long a stopped process holds
            their locks (without it the server waits 'active' for ever). It also ends the skipping
            after an error there: the success row sent next fails on the aborted transaction, and
            the server skips the rest up to the following Sync."""
            send_body(i)
            pipe.sync((i, _SYNC))

        def start(i: int) -> tuple[float, datetime]:
            step = steps[i]
            if step.id in failed:
                on_event(Retrying(step.schema, step.id, failed[step.id].error_message or ""))
            if i or attempt == 1:
                # Kept across retries: if the monitor misses a short wait, the blockers it saw
                # on an earlier attempt are still the best answer to "who is in the way?".
                monitor.reset_blockers()
            done = len(result.applied) + len(result.reverted)
            on_event(MigrationStarted(step.schema, step.id, step.migration.name, step.up, done + 1, total,
                                      attempt=attempt if i == 0 else 1))
            return time.monotonic(), datetime.now(timezone.utc)

        try:
            # Events go out before the COMMIT they announce: an event sink may stop the run.
            t0, wall = start(0)
            pipe.open()
            send_body(0)
            send_end(0)
            if len(steps) > 1:
                send_ahead(1)
            pipe.push()
            while pipe.pending:
                k, n = pipe.pending[0]  # migration k's n-th statement (0: BEGIN) is next
                step = steps[k]
                st = None
                if n > 0:
                    st = step.script.statements[n - 1]
                    on_event(StatementStarted(step.schema, step.id, st.line, n, len(step.script.statements), st.text))
                    monitor.watch(step.schema, step.id, st.line, pid)
                    _, res = pipe.result()
                    monitor.clear()
                else:
                    _, res = pipe.result()
                if res.status == FATAL_ERROR:
                    note = " (restoring pgferry's session settings after the migration's statements)" \
                        if n == _RESTORE else ""
                    raise _StepFailed(k, st, error_from(res, conn), wall, note)
                if n != _COMMIT:
                    continue
                sent.answered = True
                (result.applied if step.up else result.reverted).append(step.id)
                on_event(MigrationFinished(step.schema, step.id, step.up, time.monotonic() - t0, step.backfill))
                sent.committing = None
                if k + 1 < len(steps):
                    t0, wall = start(k + 1)
                    send_end(k + 1)
                    if k + 2 < len(steps):
                        send_ahead(k + 2)
                    pipe.push()
        except _StepFailed:
            try:
                pipe.close()  # the server skipped the rest: read it, leave pipeline mode
            except psycopg.OperationalError:
                if not conn.closed:
                    raise
                # the error was the server going away: _fail reports the lost connection
            raise
        except BaseException as exc:
            # Interrupted from outside (a stop asked for, Ctrl-C): end the session rather than wait
            # for statements still queued on the server. The migration in flight never got its
            # COMMIT and is rolled back with the session (when a COMMIT had left but its answer had
            # not come back, that migration committed with its success row or not at all: on Ctrl-C,
            # the line printed says which, read back from the database).
            monitor.clear()
            conn.close()
            if isinstance(exc, KeyboardInterrupt):  # Ctrl-C's line tells what the server did, not what we heard
                self._report_interrupted(steps, sent, pid)
            raise
        pipe.close()

    def _report_interrupted(self, steps: list[Step], sent: _OnServer, pid: int) -> None:
        """Say what became of the migrations on the server when the run was stopped from outside:
        a COMMIT sent but not answered is looked up in migration_logs, never guessed."""
        if sent.committing is None and sent.open is None:
            return
        about = lambda i: (steps[i].id, steps[i].migration.name, steps[i].up)  # noqa: E731
        opened = (about(sent.open),) if sent.open is not None else ()
        if sent.committing is None:
            self.on_event(RunInterrupted(self.graph.name, rolled_back=opened))
            return
        committing = about(sent.committing)
        committed = True if sent.answered else self._settled_commit(pid, steps[sent.committing])
        if committed is None:
            self.on_event(RunInterrupted(self.graph.name, unknown=(committing,)))
        elif committed:
            self.on_event(RunInterrupted(self.graph.name, committed=(committing,), rolled_back=opened))
        else:  # the server never got past it: the statements sent after it never ran
            self.on_event(RunInterrupted(self.graph.name, rolled_back=(committing,)))
