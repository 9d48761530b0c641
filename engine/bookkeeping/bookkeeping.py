"""Bookkeeping tables in each target database (docs/design.md §7) and the state they record.

`migration_logs` keeps the reference tool's columns (schema, version, up, started_at,
finished_at, success, error_message, backfilled) so existing queries carry over, plus who
ran each attempt and where its error came from.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

import psycopg
from psycopg import sql

from pgferry import __version__

from ..definitions.sqlfile import SqlScript
from .pgschema import ensure_schema, missing_columns

# The version of pgferry's rows in migration_logs, stored in each: 2 adds sql_token_checksum to the
# rows of the SQL a run ran (a later edit of the file can be told cosmetic or real, changed.py).
LOG_SCHEMA_VERSION = 2
# The success row's columns, in the order both ways of writing it fill them.
_SUCCESS_COLUMNS = ("migration_logs_schema_version, schema, version, up, started_at, finished_at, success, backfilled, "
                    "backend_pid, host, pgferry_version, sql_checksum, sql_token_checksum, run_id, manual, "
                    "confirmed_by")

# Column name -> type, in creation order. New columns are added at the end, idempotently.
LOG_COLUMNS: dict[str, str] = {
    "id": "bigserial PRIMARY KEY",
    "migration_logs_schema_version": "integer NOT NULL DEFAULT 1",
    "schema": "text NOT NULL",
    "version": "bigint NOT NULL",
    "up": "boolean NOT NULL",
    "started_at": "timestamptz NOT NULL DEFAULT now()",
    "finished_at": "timestamptz",
    "success": "boolean",
    "error_message": "text",
    "backfilled": "boolean NOT NULL DEFAULT false",
    "backend_pid": "integer",
    "host": "text",
    "pgferry_version": "text",
    "sql_checksum": "text",
    "manual": "boolean NOT NULL DEFAULT false",
    "confirmed_by": "text",
    "error_sqlstate": "text",
    "error_line": "integer",
    "error_statement": "text",
    "run_id": "bigint",
    "sql_token_checksum": "text",
}


@dataclass(frozen=True)
class Attempt:
    """One row of migration_logs."""

    log_id: int
    schema: str
    version: int
    up: bool
    started_at: datetime
    finished_at: datetime | None
    success: bool | None
    error_message: str | None = None
    backfilled: bool = False
    backend_pid: int | None = None
    host: str | None = None
    pgferry_version: str | None = None
    manual: bool = False
    error_sqlstate: str | None = None
    error_line: int | None = None
    error_statement: str | None = None
    alive: bool | None = None  # is the backend that wrote a pending row still connected?

    @property
    def pending(self) -> bool:
        return self.success is None


@dataclass(frozen=True)
class SchemaState:
    """What a database says about one schema: the applied set and attempts needing attention."""

    schema: str
    applied: frozenset[int] = frozenset()
    failed: dict[int, Attempt] = field(default_factory=dict)
    in_progress: dict[int, Attempt] = field(default_factory=dict)
    stale: dict[int, Attempt] = field(default_factory=dict)
    tables_exist: bool = True

    @property
    def dirty(self) -> bool:
        return bool(self.failed or self.stale)


class MigrationLog:
    """Reads and writes one database's bookkeeping, in a configurable schema."""

    def __init__(self, conn: psycopg.Connection, schema: str = "public"):
        self.conn = conn
        self.schema = schema
        self.table = sql.Identifier(schema, "migration_logs")
        self.host = socket.gethostname()
        self._success_sql: str | None = None
        self._row_prefix: tuple | None = None

    # -- creation --------------------------------------------------------------------------

    def exists(self) -> bool:
        row = self.conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", [sql.Identifier(self.schema, "migration_logs").as_string(self.conn)]
        ).fetchone()
        return bool(row and row[0])

    def missing_columns(self) -> list[str]:
        # pg_attribute, not information_schema.columns: that view checks privileges row by row, a
        # few milliseconds a call, and every run and `up` asks once per schema.
        return missing_columns(self.conn, self.table, LOG_COLUMNS)

    def ensure(self) -> None:
        """Create or extend the tables. Callers hold the bookkeeping lock (see locks.py)."""
        missing = self.missing_columns()
        if not missing:
            return
        with self.conn.transaction():
            ensure_schema(self.conn, self.schema)
            if len(missing) == len(LOG_COLUMNS):
                cols = sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in LOG_COLUMNS.items()
                )
                self.conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(self.table, cols))
            else:
                for c in missing:
                    self.conn.execute(
                        sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                            self.table, sql.Identifier(c), sql.SQL(LOG_COLUMNS[c].replace(" PRIMARY KEY", ""))
                        )
                    )
            self.conn.execute(
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (schema, version, id)").format(
                    sql.Identifier("migration_logs_schema_version_id"), self.table
                )
            )

    # -- reading ---------------------------------------------------------------------------

    _ATTEMPT_COLS = (
        "id, schema, version, up, started_at, finished_at, success, error_message, backfilled, "
        "backend_pid, host, pgferry_version, manual, error_sqlstate, error_line, error_statement"
    )

    def attempts(self, schema: str, versions: Iterable[int] | None = None) -> list[Attempt]:
        q = sql.SQL("SELECT " + self._ATTEMPT_COLS + " FROM {} WHERE schema = %s").format(self.table)
        params: list = [schema]
        if versions is not None:
            q += sql.SQL(" AND version = ANY(%s)")
            params.append(list(versions))
        q += sql.SQL(" ORDER BY id")
        return [Attempt(*row) for row in self.conn.execute(q, params).fetchall()]

    def state(self, schema: str) -> SchemaState:
        if not self.exists():
            return SchemaState(schema, tables_exist=False)
        return self._states([schema])[schema]

    def states(self, schemas: Iterable[str]) -> dict[str, SchemaState]:
        """`state` of several schemas in one round trip (a probe's read). Outside a transaction a
        missing table is told by the error, nothing to roll back, rather than asked about first."""
        schemas = list(schemas)
        if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            return {s: self.state(s) for s in schemas}  # an error would abort the caller's transaction
        try:
            return self._states(schemas)
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
            return {s: SchemaState(s, tables_exist=False) for s in schemas}

    def _states(self, schemas: list[str]) -> dict[str, SchemaState]:
        q = sql.SQL(
            """
            WITH ranked AS (
                SELECT {cols},
                       row_number() OVER (PARTITION BY schema, version ORDER BY id DESC) AS latest,
                       row_number() OVER (PARTITION BY schema, version, success IS TRUE ORDER BY id DESC)
                           AS latest_of_kind
                FROM {table} WHERE schema = ANY(%s)
            )
            SELECT {cols}, latest = 1 AS is_latest FROM ranked
            WHERE latest = 1 OR (success IS TRUE AND latest_of_kind = 1)
            """
        ).format(cols=sql.SQL(self._ATTEMPT_COLS), table=self.table)
        applied: dict[str, set[int]] = {s: set() for s in schemas}
        failed: dict[str, dict[int, Attempt]] = {s: {} for s in schemas}
        pending: dict[str, dict[int, Attempt]] = {s: {} for s in schemas}
        for row in self.conn.execute(q, [schemas]).fetchall():
            a = Attempt(*row[:-1])
            if a.success and a.up:
                applied[a.schema].add(a.version)
            if row[-1]:
                if a.success is False:
                    failed[a.schema][a.version] = a
                elif a.success is None:
                    pending[a.schema][a.version] = a
        alive = self.live_pids(a for s in schemas for a in pending[s].values())
        return {s: SchemaState(s, frozenset(applied[s]), failed[s],
                               {v: _with(a, alive=True) for v, a in pending[s].items() if a.log_id in alive},
                               {v: _with(a, alive=False) for v, a in pending[s].items() if a.log_id not in alive})
                for s in schemas}

    def live_pids(self, attempts: Iterable[Attempt]) -> set[int]:
        """Log ids of attempts whose backend is still connected (same pid, started before the row)."""
        attempts = [a for a in attempts if a.backend_pid]
        if not attempts:
            return set()
        rows = self.conn.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = ANY(%s)", [[a.backend_pid for a in attempts]]
        ).fetchall()
        started = {pid: start for pid, start in rows}
        # backend_start is hidden (NULL) for another role's session without pg_read_all_stats:
        # a session that cannot be proven to be a newer one reusing the pid counts as alive.
        return {a.log_id for a in attempts
                if a.backend_pid in started and (started[a.backend_pid] is None or started[a.backend_pid] <= a.started_at)}

    # -- writing ---------------------------------------------------------------------------

    def record_success(
        self,
        schema: str,
        version: int,
        up: bool,
        started_at: datetime | None,  # None: the transaction's start, now()
        script: SqlScript | None,  # what ran: its checksums are recorded
        backfill: Iterable[int] = (),
        run_id: int | None = None,
        manual: bool = False,
        confirmed_by: str | None = None,
    ) -> None:
        """Write the success row (and backfilled rows) in the caller's transaction."""
        self.conn.execute(self._success_query(),
                          self._success_params(schema, version, up, started_at, script, backfill, run_id, manual,
                                               confirmed_by))

    def success_statement(self, schema: str, version: int, up: bool, script: SqlScript | None,
                          backfill: Iterable[int] = (), run_id: int | None = None) -> str:
        """The success row as one self-contained statement, for the caller's open transaction.

        The runner sends it pipelined behind the migration's own statements (no parameters
        there), a thousand times in a long upgrade: only the few values that change per migration
        are rendered each time, the rest once. A VALUES list, one row per id (the migration's, then
        the squashed ids it backfills): the server plans it in less time than the INSERT ... SELECT
        over arrays that record_success binds its parameters to, and writes the same rows."""
        key = (schema, run_id)
        if self._row_prefix is None or self._row_prefix[0] != key:
            lit = lambda v: sql.Literal(v).as_string(self.conn)  # noqa: E731
            # Split around the per-row values (joined, not %-formatted: a schema or host name may
            # hold a %).
            self._row_prefix = (key, (
                f"INSERT INTO {self.table.as_string(self.conn)} ({_SUCCESS_COLUMNS}) VALUES ",
                f"({LOG_SCHEMA_VERSION}, {lit(schema)}, ",
                ", now(), clock_timestamp(), true, ",
                f", pg_backend_pid(), {lit(self.host)}, {lit(__version__)}, ",
                f", {'NULL' if run_id is None else int(run_id)}, false, NULL)",
            ))
        insert, head, times, who, tail = self._row_prefix[1]
        flag = "true" if up else "false"
        digests = ", ".join(self._digest_literal(v) for v in _digests(script))
        rows = [f"{head}{int(version)}, {flag}{times}false{who}{digests}{tail}"]
        rows += [f"{head}{int(b)}, {flag}{times}true{who}NULL, NULL{tail}" for b in backfill]
        return insert + ", ".join(rows)

    def _digest_literal(self, value: str | None) -> str:
        """A checksum as an SQL literal: hex digits need no quoting rules (psycopg's Literal, twice
        per migration, was a tenth of the run loop's own time); anything else goes through it."""
        if value is None:
            return "NULL"
        if value.isascii() and value.isalnum():
            return f"'{value}'"
        return sql.Literal(value).as_string(self.conn)

    def _success_query(self) -> str:
        if self._success_sql is None:
            # Composed once: this runs once per migration, a thousand times in a long upgrade.
            self._success_sql = sql.SQL(
                """
                INSERT INTO {table} ({cols})
                SELECT %s, %s, v, %s, coalesce(%s::timestamptz, now()), clock_timestamp(), true, b, pg_backend_pid(), %s, %s,
                       CASE WHEN b THEN NULL ELSE %s END, CASE WHEN b THEN NULL ELSE %s END, %s, %s, %s
                FROM unnest(%s::bigint[], %s::boolean[]) AS t(v, b)
                """
            ).format(table=self.table, cols=sql.SQL(_SUCCESS_COLUMNS)).as_string(self.conn)
        return self._success_sql

    def _success_params(self, schema, version, up, started_at, script, backfill, run_id, manual, confirmed_by) -> list:
        versions = [version, *backfill]
        flags = [False] + [True] * (len(versions) - 1)
        return [LOG_SCHEMA_VERSION, schema, up, started_at, self.host, __version__, *_digests(script), run_id, manual,
                confirmed_by, versions, flags]

    def record_backfilled(self, schema: str, versions: Iterable[int], confirmed_by: str, note: str) -> None:
        """Rows for migrations found done that pgferry did not run (adoption), in the caller's
        transaction: backfilled and manual, no checksum (nothing ran), `note` in error_message (the
        one free-text column, as recover's forced marks use it)."""
        self.conn.execute(sql.SQL(
            "INSERT INTO {} (migration_logs_schema_version, schema, version, up, started_at, finished_at, success, "
            "backfilled, backend_pid, host, pgferry_version, manual, confirmed_by, error_message) "
            "SELECT %s, %s, v, true, now(), clock_timestamp(), true, true, pg_backend_pid(), %s, %s, true, %s, %s "
            "FROM unnest(%s::bigint[]) AS t(v)").format(self.table),
            [LOG_SCHEMA_VERSION, schema, self.host, __version__, confirmed_by, note, sorted(versions)])

    def record_failure(self, schema: str, version: int, up: bool, started_at: datetime, checksum: str | None,
                       message: str, sqlstate: str | None, line: int | None, statement: str | None,
                       run_id: int | None = None) -> None:
        with self.conn.transaction():
            self.conn.execute(
                sql.SQL(
                    """
                    INSERT INTO {} (migration_logs_schema_version, schema, version, up, started_at, finished_at, success,
                                    error_message, backend_pid, host, pgferry_version, sql_checksum, error_sqlstate,
                                    error_line, error_statement, run_id)
                    VALUES (%s, %s, %s, %s, %s, clock_timestamp(), false, %s, pg_backend_pid(), %s, %s, %s, %s, %s, %s, %s)
                    """
                ).format(self.table),
                [LOG_SCHEMA_VERSION, schema, version, up, started_at, message, self.host, __version__, checksum,
                 sqlstate, line, statement, run_id],
            )

    def begin_attempt(self, schema: str, version: int, up: bool, script: SqlScript | None,
                      run_id: int | None = None) -> int:
        """Commit a pending row first: only for steps that cannot run in a transaction (CIC)."""
        with self.conn.transaction():
            row = self.conn.execute(
                sql.SQL(
                    """
                    INSERT INTO {} (migration_logs_schema_version, schema, version, up, started_at, success,
                                    backend_pid, host, pgferry_version, sql_checksum, sql_token_checksum, run_id)
                    VALUES (%s, %s, %s, %s, clock_timestamp(), NULL, pg_backend_pid(), %s, %s, %s, %s, %s)
                    RETURNING id
                    """
                ).format(self.table),
                [LOG_SCHEMA_VERSION, schema, version, up, self.host, __version__, *_digests(script), run_id],
            ).fetchone()
        return row[0]

    def finish_attempt(self, log_id: int, success: bool, message: str | None = None, sqlstate: str | None = None,
                       line: int | None = None, statement: str | None = None) -> None:
        with self.conn.transaction():
            self.conn.execute(
                sql.SQL(
                    "UPDATE {} SET finished_at = clock_timestamp(), success = %s, error_message = %s, "
                    "error_sqlstate = %s, error_line = %s, error_statement = %s WHERE id = %s"
                ).format(self.table),
                [success, message, sqlstate, line, statement, log_id],
            )


def _digests(script: SqlScript | None) -> tuple[str | None, str | None]:
    """What a success row records of the SQL that ran: its checksum and its token checksum."""
    return (None, None) if script is None else (script.checksum, script.token_checksum)


def _with(a: Attempt, **changes) -> Attempt:
    from dataclasses import replace

    return replace(a, **changes)
