"""Applying and reverting one schema's migrations in one database (docs/design.md §7).

The seven rules, and where they live:
1. a transactional migration writes its success row in its own transaction (`_run_in_transaction`);
2. only CREATE INDEX CONCURRENTLY commits an attempt row first, and the index's catalog
   state settles an interrupted attempt (`_run_concurrent_index`);
3. one migrator per schema, by polling a session advisory lock released during CIC (`locks.py`);
4. a pending row whose backend is gone is stale, not dirty (`MigrationLog.state`);
5. DDL runs under lock_timeout with retries and backoff, blockers reported (`Monitor`);
6. statements are sent one by one (pipelined, never joined), so progress and errors point at a file line;
7. a failure carries SQLSTATE, message, detail, hint and the line.
"""
from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from dataclasses import dataclass, field
from typing import Callable, Mapping

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from ..bookkeeping.bookkeeping import MigrationLog, SchemaState
from ..bookkeeping.grantlog import Grant, GrantLog
from ..connection import connect, describe_target, ensure_writable, is_connection_loss, loss_reason, with_database
from ..definitions.graph import SchemaGraph, Step
from ..definitions.sqlfile import Statement, line_of
from ..errors import MigrationFailed, PgferryError, StatementFailure
from ..events import (
    EventSink, IndexRepaired, LockRetry, MigrationFailedEvent, MigrationFinished, MigrationStarted, Retrying,
    RunFinished, RunStarted, StaleAttempt, StatementStarted, WaitingForBuild, discard,
)
from ..locks import AdvisoryLock, LockWaitTimeout, lock_key
from ..privileges.privileges import usable_grants
from .monitor import Monitor, index_progress, timing_for
from .pipeline import Pipeline, error_from

RETRYABLE = (pgerrors.LockNotAvailable, pgerrors.DeadlockDetected)


@dataclass(frozen=True)
class RunOptions:
    bookkeeping_schema: str = "public"
    lock_timeout: float = 3.0  # seconds a DDL statement may wait for its lock
    lock_retries: int = 5  # retries after a lock timeout, with exponential backoff
    retry_backoff: float = 0.5
    retry_backoff_max: float = 10.0
    cic_lock_timeout: float = 300.0  # CIC waits for older transactions: a longer policy
    statement_timeout: float | None = None
    # The server ends a migrator session that sits this long inside a transaction without a word
    # from pgferry (a process stopped with Ctrl-Z): pipelined, the next migration's locks are
    # already taken, and would otherwise be held for as long as the process stays stopped.
    idle_in_transaction_timeout: float | None = 10.0
    lock_wait: float | None = None  # how long to wait for another migrator; None = as long as it takes
    poll: float = 0.2
    # A separate (superuser) connection used only for privileged migrations (docs/design.md §8).
    privileged_dsn: str | None = None


@dataclass
class RunResult:
    schema: str
    applied: list[int] = field(default_factory=list)
    reverted: list[int] = field(default_factory=list)
    seconds: float = 0.0


class ConnectionLost(PgferryError):
    pass


def _ms(seconds: float | None) -> str:
    return "0" if not seconds else f"{int(seconds * 1000)}ms"


# pipeline tags (migration position, n): n > 0 is its n-th statement, 0 its BEGIN
_ROW, _COMMIT, _RESTORE, _SYNC = -1, -2, -3, -4
FATAL_ERROR = psycopg.pq.ExecStatus.FATAL_ERROR


class _StepFailed(Exception):
    """A statement of the migration at `position` in a pipelined batch failed (see pipeline.py)."""

    def __init__(self, position: int, statement: Statement | None, error: psycopg.Error, wall: datetime,
                 note: str = ""):
        self.position, self.statement, self.error, self.wall, self.note = position, statement, error, wall, note
        self.retryable = isinstance(error, RETRYABLE)


def _failure(step: Step, st: Statement | None, exc: psycopg.Error, extra: str = "") -> StatementFailure:
    diag = exc.diag
    line = st.line if st else 1
    if st is not None and diag.statement_position:
        try:
            line = st.line + line_of(st.text, max(0, int(diag.statement_position) - 1)) - 1
        except ValueError:
            pass
    message = (diag.message_primary or str(exc).strip().splitlines()[0]) + extra
    return StatementFailure(
        schema=step.schema, migration_id=step.id, path=step.script.path, line=line,
        statement=st.text if st else "", sqlstate=exc.sqlstate, message=message,
        detail=diag.message_detail, hint=diag.message_hint,
    )


def session_restore(conn: psycopg.Connection, o: RunOptions) -> tuple[str, str]:
    """The two statements that put a migrator session back to pgferry's settings, whatever a
    migration did to it (SET, RESET ALL, set_config(..., false), SET ROLE, SET SESSION
    CHARACTERISTICS): RESET ALL returns to the connection's defaults (role and database
    settings, the DSN's options), the SELECT sets pgferry's own on top, and the role the session
    started with (which RESET ALL leaves alone)."""
    settings = {
        "lock_timeout": _ms(o.lock_timeout),
        "idle_in_transaction_session_timeout": _ms(o.idle_in_transaction_timeout),
        "role": conn.execute("SELECT current_setting('role')").fetchone()[0],
    }
    if conn.info.server_version >= 140000:
        # If this process dies mid-statement, the server aborts the transaction (and frees the
        # migrator lock) within a second instead of when the statement would have ended.
        settings["client_connection_check_interval"] = "1s"
    if o.statement_timeout:
        settings["statement_timeout"] = _ms(o.statement_timeout)
    calls = sql.SQL(", ").join(sql.SQL("set_config({}, {}, false)").format(sql.Literal(k), sql.Literal(v))
                               for k, v in settings.items())
    return "RESET ALL", sql.SQL("SELECT {}").format(calls).as_string(conn)


def cic_index(step: Step) -> tuple[str, str]:
    """(display name, quoted name for to_regclass and DROP) of a CIC migration's index."""
    node = step.script.statements[0].node
    parts = [node.relation.schemaname, node.idxname] if node.relation.schemaname else [node.idxname]
    return ".".join(parts), sql.Identifier(*parts).as_string(None)


INDEX_STATE_SQL = """
SELECT i.indisvalid, p.pid
FROM pg_index i
LEFT JOIN pg_stat_progress_create_index p ON p.index_relid = i.indexrelid AND p.pid <> pg_backend_pid()
WHERE i.indexrelid = to_regclass(%s)
"""


class Migrator:
    """Runs steps for one schema against one database. Use as a context manager."""

    def __init__(self, dsn: str, graph: SchemaGraph, options: RunOptions = RunOptions(),
                 on_event: EventSink = discard, run_id: int | None = None):
        self.dsn = dsn
        self.graph = graph
        self.options = options
        self.on_event = on_event
        self.run_id = run_id
        self.conn: psycopg.Connection | None = None
        self.log: MigrationLog | None = None
        self.monitor: Monitor | None = None
        self.lock: AdvisoryLock | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> "Migrator":
        self.conn = connect(self.dsn)
        try:
            ensure_writable(self.conn, self.dsn)
        except BaseException:
            self.conn.close()
            raise
        o = self.options
        self.restore = session_restore(self.conn, o)
        self.restore_session()
        self.log = MigrationLog(self.conn, o.bookkeeping_schema)
        self.lock = AdvisoryLock(self.conn, lock_key(o.bookkeeping_schema, self.graph.name), self.graph.name,
                                 poll=o.poll, timeout=o.lock_wait, on_event=self.on_event)
        return self

    def __exit__(self, *exc) -> None:
        if self.monitor:
            self.monitor.close()
            self.monitor = None
        if self.conn is not None:
            if not self.conn.closed and not self.conn.broken:
                try:
                    self.lock.release()
                except psycopg.Error:
                    pass
            self.conn.close()
            self.conn = None

    @property
    def pid(self) -> int:
        return self.conn.info.backend_pid

    def restore_session(self) -> None:
        """Back to pgferry's own session settings (one round trip)."""
        self.conn.execute("; ".join(self.restore))

    def state(self) -> SchemaState:
        return self.log.state(self.graph.name)

    def ensure_bookkeeping(self) -> None:
        if not self.log.missing_columns():
            return
        lock = AdvisoryLock(self.conn, lock_key(self.options.bookkeeping_schema, "bookkeeping"), "bookkeeping",
                            poll=self.options.poll, timeout=self.options.lock_wait, on_event=discard)
        with lock:
            self.log.ensure()

    # -- the run loop ----------------------------------------------------------------------

    def run(self, compute: Callable[[frozenset[int]], list[Step]]) -> RunResult:
        """Take the lock, then apply `compute(applied)` step by step, recomputing after CIC."""
        start = time.monotonic()
        result = RunResult(self.graph.name)
        self.ensure_bookkeeping()
        # Timed to the lock timeout: blockers are visible only while a statement still waits.
        self.monitor = Monitor(self.dsn, self.on_event, **timing_for(self.options.lock_timeout))
        try:
            self._run_steps(compute, result)
        except psycopg.Error as exc:
            if not is_connection_loss(exc):
                raise
            raise ConnectionLost(
                f"lost the connection to {describe_target(self.dsn)} while migrating {self.graph.name} "
                f"({loss_reason(exc, self.dsn)}). Nothing half-done is recorded; run the same command again to continue."
            ) from None
        finally:
            if not self.conn.closed and not self.conn.broken:
                try:
                    self.lock.release()
                except psycopg.Error:
                    pass  # the session (and with it the lock) is gone
            self.monitor.close()
            self.monitor = None
        result.seconds = time.monotonic() - start
        self.on_event(RunFinished(self.graph.name, len(result.applied), len(result.reverted), result.seconds))
        return result

    def _run_steps(self, compute: Callable[[frozenset[int]], list[Step]], result: RunResult) -> None:
        self.lock.acquire()
        announced = False
        while True:
            state = self.state()
            steps = compute(state.applied)
            if not announced:
                self.on_event(RunStarted(self.graph.name, len(steps), describe_target(self.dsn)))
                announced = True
            if not steps:
                break
            if state.in_progress:
                self._wait_for_others(state)
                continue
            total = len(result.applied) + len(result.reverted) + len(steps)
            granted = usable_grants(self.conn, self.options.bookkeeping_schema, self.graph.name, steps)
            batch: list[Step] = []  # consecutive transactional steps, applied pipelined
            for step in steps:
                if step.up and step.migration.create_index_concurrently or \
                        step.migration.privileged and (self.options.privileged_dsn or (step.id, step.up) in granted):
                    self._run_transactional(batch, result, total, state.failed)
                    batch = []
                    done = len(result.applied) + len(result.reverted)
                    if step.id in state.failed:
                        self.on_event(Retrying(step.schema, step.id, state.failed[step.id].error_message or ""))
                    if step.up and step.migration.create_index_concurrently:
                        self._run_concurrent_index(step, done + 1, total, state)
                        result.applied.append(step.id)
                        break  # the lock was released meanwhile: re-read the state
                    self._run_privileged_elsewhere(step, done + 1, total, granted.get((step.id, step.up)))
                    (result.applied if step.up else result.reverted).append(step.id)
                else:
                    batch.append(step)
            else:
                self._run_transactional(batch, result, total, state.failed)
                continue

    def _wait_for_others(self, state: SchemaState) -> None:
        """A live backend is mid-way through a CIC of this schema: let it finish.

        Bounded by `lock_wait` like waiting for the lock itself: the other migrator holds this
        schema just as surely while its build runs without the lock.
        """
        self.lock.release()
        start = time.monotonic()
        while True:
            state = self.state()
            if not state.in_progress:
                break
            self._give_up_after(start, "the index build of another migrator", state.in_progress.values())
            for version, attempt in state.in_progress.items():
                step = Step(self.graph.migrations[version]) if version in self.graph.migrations else None
                name = cic_index(step)[0] if step and step.migration.create_index_concurrently else "?"
                self.on_event(WaitingForBuild(self.graph.name, version, name, attempt.backend_pid or 0))
                if attempt.backend_pid:
                    p = index_progress(self.conn, attempt.backend_pid, self.graph.name, version, name)
                    if p:
                        self.on_event(p)
            time.sleep(max(self.options.poll, 0.5))
        self.lock.acquire()

    def _give_up_after(self, start: float, what: str, attempts) -> None:
        waited = time.monotonic() - start
        if self.options.lock_wait is None or waited < self.options.lock_wait:
            return
        who = "; ".join(f"{a.schema} {a.version} by backend {a.backend_pid} on {a.host or '?'} since "
                        f"{a.started_at:%H:%M:%S}" for a in attempts)
        raise LockWaitTimeout(f"gave up after {waited:.0f}s waiting for {what} ({who})",
                              hint="wait for it to finish (pgferry watch), or raise --lock-wait")

    # -- transactional steps ---------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        base = min(self.options.retry_backoff * (2 ** (attempt - 1)), self.options.retry_backoff_max)
        return base * (0.5 + random.random() / 2)  # jitter, so retrying migrators do not align

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

        def send_body(i: int) -> None:
            step = steps[i]
            pipe.send("BEGIN", (i, 0))
            for n, st in enumerate(step.script.statements, 1):
                pipe.send(st.text, (i, n))
            # Inside the migration's transaction: what the migration SET goes with its COMMIT, and
            # with its rollback, so every migration (and the bookkeeping between) starts from
            # pgferry's settings, however the run was split. The success row is written after it.
            for q in self.restore:
                pipe.send(q, (i, _RESTORE))

        def send_end(i: int) -> None:
            step = steps[i]
            pipe.send(log.success_statement(step.schema, step.id, step.up, step.script,
                                            step.backfill, self.run_id), (i, _ROW))
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
                (result.applied if step.up else result.reverted).append(step.id)
                on_event(MigrationFinished(step.schema, step.id, step.up, time.monotonic() - t0, step.backfill))
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
        except BaseException:
            # Interrupted from outside (a stop asked for, Ctrl-C): end the session rather than wait
            # for statements still queued on the server. The migration in flight never got its
            # COMMIT and is rolled back with the session (when a COMMIT had left but its answer had
            # not come back, that migration committed with its success row or not at all).
            monitor.clear()
            conn.close()
            raise
        pipe.close()

    def _run_privileged_elsewhere(self, step: Step, index: int, total: int, grant: Grant | None = None) -> None:
        """Run a privileged migration on the superuser connection, then record it here; or, when
        someone else ran it and `privileged verify` granted it, just record it (grantlog.py).

        The two cannot share a transaction. A crash between them leaves the effect without its row;
        privileged statements are written idempotently (IF [NOT] EXISTS), so the next run simply
        repeats them and records the result."""
        script = step.script
        self.on_event(MigrationStarted(step.schema, step.id, step.migration.name, step.up, index, total))
        t0 = time.monotonic()
        if grant is not None:
            with self.conn.transaction():  # the success row and the grant's use: both or neither
                self.log.record_success(step.schema, step.id, step.up, None, script, step.backfill, self.run_id,
                                        manual=True, confirmed_by=grant.confirmed_by)
                GrantLog(self.conn, self.options.bookkeeping_schema).mark_applied(grant, self.log.table)
            self.on_event(MigrationFinished(step.schema, step.id, step.up, time.monotonic() - t0, step.backfill,
                                            note=f"granted: {grant.confirmed_by}"))
            return
        wall = datetime.now(timezone.utc)
        current: Statement | None = None
        try:
            with connect(self._privileged_dsn(), role="privileged") as su:
                who = su.execute(sql.SQL("SELECT current_user, set_config('idle_in_transaction_session_timeout', {}, false)")
                                 .format(sql.Literal(_ms(self.options.idle_in_transaction_timeout)))).fetchone()[0]
                with su.transaction():
                    for n, st in enumerate(script.statements, 1):
                        current = st
                        self.on_event(StatementStarted(step.schema, step.id, st.line, n, len(script.statements), st.text))
                        su.execute(st.text)
        except psycopg.Error as exc:
            failure = _failure(step, current, exc)
            self.on_event(MigrationFailedEvent(step.schema, step.id, step.up, failure.describe(), failure.line))
            self.log.record_failure(step.schema, step.id, step.up, wall, script.checksum, failure.message,
                                    failure.sqlstate, failure.line, failure.statement, self.run_id)
            raise MigrationFailed(failure) from None
        with self.conn.transaction():
            self.log.record_success(step.schema, step.id, step.up, wall, script, step.backfill, self.run_id,
                                    manual=True, confirmed_by=f"superuser connection as {who}")
        self.on_event(MigrationFinished(step.schema, step.id, step.up, time.monotonic() - t0, step.backfill,
                                        note=f"ran as {who}"))

    def _privileged_dsn(self) -> str:
        """The superuser connection, in this schema's database whatever database it names: an
        extension created elsewhere would be recorded here but missing."""
        return with_database(self.options.privileged_dsn, self.conn.info.dbname)

    def _rollback(self) -> None:
        """End a failed migration's transaction (a lost connection has ended it already)."""
        conn = self.conn
        if conn is None or conn.closed or conn.broken:
            return
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                pass

    def _fail(self, step: Step, st: Statement | None, exc: psycopg.Error, wall: datetime, extra: str = "") -> None:
        if self.conn.closed or self.conn.broken:
            raise ConnectionLost(
                f"lost the connection to {describe_target(self.dsn)} during {step.schema} migration {step.id}"
                f" ({loss_reason(exc, self.dsn)}). The server rolled its transaction back; "
                "run the same command again to continue."
            ) from None
        failure = _failure(step, st, exc, extra)
        self.on_event(MigrationFailedEvent(step.schema, step.id, step.up, failure.describe(), failure.line))
        self.log.record_failure(step.schema, step.id, step.up, wall, step.script.checksum,
                                failure.message, failure.sqlstate, failure.line, failure.statement, self.run_id)
        raise MigrationFailed(failure) from None

    # -- CREATE INDEX CONCURRENTLY ---------------------------------------------------------

    def _index_state(self, regclass: str) -> tuple[bool | None, int | None]:
        row = self.conn.execute(INDEX_STATE_SQL, [regclass]).fetchone()
        return (None, None) if row is None else (bool(row[0]), row[1])

    def _wait_for_builder(self, step: Step, name: str, regclass: str) -> bool | None:
        """docs/design.md §7.2: an index being built by a live backend is waited for, showing its progress.

        A migrator's build is already waited for in `run()` (its pending row is in progress);
        this covers a build nobody recorded, e.g. a DBA's. Returns the index's validity after it.
        """
        valid, builder = self._index_state(regclass)
        while builder is not None:
            self.on_event(WaitingForBuild(step.schema, step.id, name, builder))
            progress = index_progress(self.conn, builder, step.schema, step.id, name)
            if progress:
                self.on_event(progress)
            time.sleep(max(self.options.poll, 0.5))
            valid, builder = self._index_state(regclass)
        return valid

    def _drop_invalid(self, step: Step, name: str, regclass: str) -> None:
        drop = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.SQL(regclass))  # already quoted
        self.on_event(IndexRepaired(step.schema, step.id, name, drop.as_string(self.conn)))
        self.conn.execute(drop)

    def _run_concurrent_index(self, step: Step, index: int, total: int, state: SchemaState) -> None:
        name, regclass = cic_index(step)
        st = step.script.statements[0]
        stale = state.stale.get(step.id)
        valid = self._wait_for_builder(step, name, regclass)
        if stale is not None:
            resolution = "index valid: recorded as applied" if valid else (
                "index invalid: dropped and rebuilt" if valid is False else "index absent: built again")
            self.on_event(StaleAttempt(step.schema, step.id, stale.backend_pid, resolution))
            self.log.finish_attempt(stale.log_id, False, f"stale attempt: backend {stale.backend_pid} ended before "
                                    f"recording a result; {resolution}")
        if valid:
            with self.conn.transaction():
                self.log.record_success(step.schema, step.id, True, None, step.script, (), self.run_id)
            self.on_event(MigrationFinished(step.schema, step.id, True, 0.0, note="index already valid"))
            return
        attempts = self.options.lock_retries + 1
        self.monitor.reset_blockers()
        for attempt in range(1, attempts + 1):
            valid, builder = self._index_state(regclass)
            if valid is False and builder is None:
                self._drop_invalid(step, name, regclass)
            self.on_event(MigrationStarted(step.schema, step.id, step.migration.name, True, index, total,
                                           concurrent_index=True, attempt=attempt))
            t0 = time.monotonic()
            log_id = self.log.begin_attempt(step.schema, step.id, True, step.script, self.run_id)
            self.lock.release()  # docs/design.md §7.3: never hold the migrator lock across a CIC
            try:
                self.conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(_ms(self.options.cic_lock_timeout))))
                self.on_event(StatementStarted(step.schema, step.id, st.line, 1, 1, st.text))
                self.monitor.watch(step.schema, step.id, st.line, self.pid, name)
                self.conn.execute(st.text)
                self.monitor.clear()
            except psycopg.Error as exc:
                self.monitor.clear()
                if self.conn.closed or self.conn.broken:
                    raise ConnectionLost(
                        f"lost the connection to {describe_target(self.dsn)} while building index {name} "
                        f"({loss_reason(exc, self.dsn)}). The next run checks the index and finishes or "
                        "rebuilds it."
                    ) from None
                failure = _failure(step, st, exc)
                self.log.finish_attempt(log_id, False, failure.message, failure.sqlstate, failure.line, failure.statement)
                valid, builder = self._index_state(regclass)
                if valid is False and builder is None:
                    self._drop_invalid(step, name, regclass)
                self.restore_session()
                self.lock.acquire()
                if isinstance(exc, RETRYABLE) and attempt < attempts:
                    delay = self._backoff(attempt)
                    self.on_event(LockRetry(step.schema, step.id, attempt, attempts, delay, self.monitor.last_blockers))
                    time.sleep(delay)
                    continue
                self.on_event(MigrationFailedEvent(step.schema, step.id, True, failure.describe(), failure.line))
                # "Nothing applied" holds only if no invalid index is left behind.
                leftover, _ = self._index_state(regclass)
                raise MigrationFailed(failure, rolled_back=leftover is None) from None
            self.restore_session()
            valid, _ = self._index_state(regclass)
            if not valid:
                # IF NOT EXISTS returns quietly when any relation of that name exists, usable or not:
                # only an index the catalog says is valid is recorded as applied.
                failure = StatementFailure(
                    schema=step.schema, migration_id=step.id, path=step.script.path, line=st.line, statement=st.text,
                    sqlstate=None, message=f"index {name} is {'still invalid' if valid is False else 'not there'} "
                    "after CREATE INDEX CONCURRENTLY returned: a relation of that name already existed",
                    hint=f"check what {name} is; drop it if it is not the index this migration creates",
                )
                self.log.finish_attempt(log_id, False, failure.message, None, failure.line, failure.statement)
                self.lock.acquire()
                self.on_event(MigrationFailedEvent(step.schema, step.id, True, failure.describe(), failure.line))
                raise MigrationFailed(failure, rolled_back=False)
            self.log.finish_attempt(log_id, True)
            self.lock.acquire()
            self.on_event(MigrationFinished(step.schema, step.id, True, time.monotonic() - t0))
            return
