"""A migrator's session: pgferry's settings on it, opening and closing it with the schema's lock,
and what happens when a migration fails on it (docs/design.md §7, rules 5 and 7)."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from ..bookkeeping.bookkeeping import MigrationLog, SchemaState
from ..connection import connect, describe_target, ensure_writable, loss_reason
from ..definitions.graph import SchemaGraph, Step
from ..definitions.sqlfile import Statement, line_of
from ..errors import ConnectionLost, MigrationFailed, PgferryError, StatementFailure, server_message
from ..events import EventSink, MigrationFailedEvent, discard
from ..locks import AdvisoryLock, lock_key
from .monitor import Monitor

RETRYABLE = (pgerrors.LockNotAvailable, pgerrors.DeadlockDetected)
SETTLE_SECONDS = 2  # how long Ctrl-C's answer may wait for the database
# Ends this process's own migrator session (same pid and application_name), should the server
# still be working through what was sent before it closed.
_END_OWN_SESSION = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %s "
                    "AND application_name = current_setting('application_name') AND pid <> pg_backend_pid()")


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


def ms(seconds: float | None) -> str:
    return "0" if not seconds else f"{int(seconds * 1000)}ms"


def statement_failure(step: Step, st: Statement | None, exc: psycopg.Error, extra: str = "") -> StatementFailure:
    said = server_message(exc)
    line = st.line if st else 1
    if st is not None and said.position:
        line = st.line + line_of(st.text, said.position - 1) - 1
    return StatementFailure(
        schema=step.schema, migration_id=step.id, path=step.script.path, line=line,
        statement=st.text if st else "", sqlstate=said.sqlstate, message=said.text + extra,
        detail=said.detail, hint=said.hint,
    )


def session_restore(conn: psycopg.Connection, o: RunOptions) -> tuple[str, str]:
    """The two statements that put a migrator session back to pgferry's settings, whatever a
    migration did to it (SET, RESET ALL, set_config(..., false), SET ROLE, SET SESSION
    CHARACTERISTICS): RESET ALL returns to the connection's defaults (role and database
    settings, the DSN's options), the SELECT sets pgferry's own on top, and the role the session
    started with (which RESET ALL leaves alone)."""
    settings = {
        "lock_timeout": ms(o.lock_timeout),
        "idle_in_transaction_session_timeout": ms(o.idle_in_transaction_timeout),
        "role": conn.execute("SELECT current_setting('role')").fetchone()[0],
    }
    if conn.info.server_version >= 140000:
        # If this process dies mid-statement, the server aborts the transaction (and frees the
        # migrator lock) within a second instead of when the statement would have ended.
        settings["client_connection_check_interval"] = "1s"
    if o.statement_timeout:
        settings["statement_timeout"] = ms(o.statement_timeout)
    calls = sql.SQL(", ").join(sql.SQL("set_config({}, {}, false)").format(sql.Literal(k), sql.Literal(v))
                               for k, v in settings.items())
    return "RESET ALL", sql.SQL("SELECT {}").format(calls).as_string(conn)


class MigratorSession:
    """One schema's migrator connection, its bookkeeping and lock. Use as a context manager."""

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

    def __enter__(self) -> "MigratorSession":
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

    def _backoff(self, attempt: int) -> float:
        base = min(self.options.retry_backoff * (2 ** (attempt - 1)), self.options.retry_backoff_max)
        return base * (0.5 + random.random() / 2)  # jitter, so retrying migrators do not align

    def _lost(self, exc: psycopg.Error, during: str, then: str) -> ConnectionLost:
        """The session went away `during` something; `then` says what that left and what to do."""
        return ConnectionLost(f"lost the connection to {describe_target(self.dsn)} {during} "
                              f"({loss_reason(exc, self.dsn)}). {then}")

    def _settled_commit(self, pid: int, step: Step) -> bool | None:
        """Whether `step` committed, its COMMIT sent before session `pid` was closed unanswered.

        Closing does not stop the server at once: it still runs what it had received, that COMMIT
        included, until it notices. So the session is ended first, and only then is the step's
        latest row read (a new connection: the migrator's is closed). None: the database could
        not tell within SETTLE_SECONDS."""
        try:
            with connect(self.dsn, connect_timeout=SETTLE_SECONDS) as conn:
                conn.execute(f"SET statement_timeout = {SETTLE_SECONDS * 1000}")
                conn.execute(_END_OWN_SESSION, [pid])
                deadline = time.monotonic() + SETTLE_SECONDS
                while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                    if time.monotonic() > deadline:
                        return None
                    time.sleep(0.01)
                latest = conn.execute(
                    sql.SQL("SELECT success IS TRUE AND up = %s AND backend_pid = %s FROM {} "
                            "WHERE schema = %s AND version = %s ORDER BY id DESC LIMIT 1").format(self.log.table),
                    [step.up, pid, step.schema, step.id]).fetchone()
                return bool(latest and latest[0])
        except (psycopg.Error, PgferryError):
            return None

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
            raise self._lost(exc, f"during {step.schema} migration {step.id}",
                             "The server rolled its transaction back; run the same command again to continue.") from None
        self._record_failure(step, statement_failure(step, st, exc, extra), wall)

    def _record_failure(self, step: Step, failure: StatementFailure, wall: datetime) -> None:
        """Report and record a failed migration whose transaction is rolled back, and raise it."""
        self.on_event(MigrationFailedEvent(step.schema, step.id, step.up, failure.describe(), failure.line))
        self.log.record_failure(step.schema, step.id, step.up, wall, step.script.checksum,
                                failure.message, failure.sqlstate, failure.line, failure.statement, self.run_id)
        raise MigrationFailed(failure) from None
