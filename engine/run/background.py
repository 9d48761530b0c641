"""Running out-of-band (background) migrations: short batches, adaptive size, pause and resume.

Modelled on GitLab's batched background migrations: each batch is its own short
transaction; the batch size is tuned so a batch takes about the target duration; progress,
throughput and errors are recorded in the database (so any session can watch them); a
`paused` flag in the database stops a runner at the next batch boundary, wherever it runs.
"""
from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING, Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from ..bookkeeping.pgschema import ensure_schema
from ..connection import connect, ensure_writable, is_connection_loss, loss_reason
from ..definitions.outofband import OutOfBand
from ..errors import OutOfBandFailed, server_message
from ..locks import AdvisoryLock, lock_key

if TYPE_CHECKING:  # imported by a runner: readiness and status only read the store
    from ..events import EventSink

MIN_BATCH, MAX_BATCH = 1, 1_000_000


@dataclass(frozen=True)
class BackgroundOptions:
    bookkeeping_schema: str = "public"
    target_batch_seconds: float | None = None  # None: the migration's own (default 0.5 s)
    lock_timeout: float = 3.0
    max_consecutive_errors: int = 5
    max_stalled_batches: int = 3
    poll: float = 0.2


@dataclass
class OobRecord:
    id: int
    progress: float
    apply_reverse: bool
    paused: bool
    batch_size: int
    rows_done: int
    last_updated: object = None
    errors: list = field(default_factory=list)


class OutOfBandStore:
    """The out_of_band_migrations tables of one database."""

    COLUMNS = {
        "id": "integer PRIMARY KEY",
        "schema": "text NOT NULL",
        "description": "text NOT NULL",
        "introduced": "text NOT NULL",
        "deprecated": "text",
        "non_destructive": "boolean NOT NULL DEFAULT false",
        "progress": "double precision NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1)",
        "apply_reverse": "boolean NOT NULL DEFAULT false",
        "paused": "boolean NOT NULL DEFAULT false",
        "batch_size": "integer NOT NULL DEFAULT 1000",
        "rows_done": "bigint NOT NULL DEFAULT 0",
        "rows_per_second": "double precision",
        "created": "timestamptz NOT NULL DEFAULT now()",
        "last_updated": "timestamptz",
        "finished_at": "timestamptz",
        "runner_pid": "integer",
        "runner_host": "text",
        "metadata": "jsonb NOT NULL DEFAULT '{}'",
    }

    def __init__(self, conn: psycopg.Connection, schema: str = "public"):
        self.conn = conn
        self.schema = schema
        self.table = sql.Identifier(schema, "out_of_band_migrations")
        self.errors = sql.Identifier(schema, "out_of_band_migrations_errors")

    def exists(self) -> bool:
        return self.conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                                 [self.table.as_string(self.conn)]).fetchone()[0]

    def ensure(self) -> None:
        if self.exists():
            return
        lock = AdvisoryLock(self.conn, lock_key(self.schema, "bookkeeping"), "bookkeeping")
        with lock, self.conn.transaction():
            ensure_schema(self.conn, self.schema)
            cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in self.COLUMNS.items())
            self.conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(self.table, cols))
            self.conn.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, migration_id integer NOT NULL, "
                "message text NOT NULL, sqlstate text, batch_size integer, reverse boolean NOT NULL DEFAULT false, "
                "created timestamptz NOT NULL DEFAULT now())").format(self.errors))

    def sync(self, o: OutOfBand) -> None:
        """Insert the definition's row, or refresh its descriptive columns (progress is kept)."""
        self.conn.execute(
            sql.SQL(
                "INSERT INTO {} (id, schema, description, introduced, deprecated, non_destructive, batch_size) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET schema = excluded.schema, "
                "description = excluded.description, introduced = excluded.introduced, "
                "deprecated = excluded.deprecated, non_destructive = excluded.non_destructive"
            ).format(self.table),
            [o.id, o.schema, o.description, o.introduced, o.deprecated, o.non_destructive, o.batch_size],
        )

    def get(self, oid: int) -> OobRecord | None:
        if not self.exists():
            return None
        row = self.conn.execute(
            sql.SQL("SELECT id, progress, apply_reverse, paused, batch_size, rows_done, last_updated FROM {} WHERE id = %s")
            .format(self.table), [oid]).fetchone()
        return OobRecord(*row) if row else None

    def all(self) -> list[dict]:
        if not self.exists():
            return []
        cur = self.conn.execute(sql.SQL(
            "SELECT m.id, m.schema, m.description, m.introduced, m.deprecated, m.non_destructive, m.progress, "
            "m.apply_reverse, m.paused, m.batch_size, m.rows_done, m.rows_per_second, m.last_updated, m.finished_at, "
            "(SELECT count(*) FROM {errors} e WHERE e.migration_id = m.id) AS error_count, "
            "(SELECT e.message FROM {errors} e WHERE e.migration_id = m.id ORDER BY e.id DESC LIMIT 1) AS last_error "
            "FROM {table} m ORDER BY m.id").format(errors=self.errors, table=self.table))
        names = [d.name for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def set_paused(self, oid: int, paused: bool) -> bool:
        cur = self.conn.execute(sql.SQL("UPDATE {} SET paused = %s, last_updated = now() WHERE id = %s").format(self.table),
                                [paused, oid])
        return cur.rowcount == 1

    def record_error(self, oid: int, message: str, sqlstate: str | None, batch_size: int, reverse: bool) -> None:
        self.conn.execute(
            sql.SQL("INSERT INTO {} (migration_id, message, sqlstate, batch_size, reverse) VALUES (%s, %s, %s, %s, %s)")
            .format(self.errors), [oid, message, sqlstate, batch_size, reverse])

    def forget(self, oids: list[int]) -> list[int]:
        """Reset the progress of migrations whose schema objects a downgrade removed: what the
        backfill wrote is gone with them. Errors stay, as history."""
        if not oids or not self.exists():
            return []
        rows = self.conn.execute(
            sql.SQL("UPDATE {} SET progress = 0, apply_reverse = false, rows_done = 0, rows_per_second = NULL, "
                    "finished_at = NULL, last_updated = now() WHERE id = ANY(%s) "
                    "AND (progress > 0 OR finished_at IS NOT NULL) RETURNING id").format(self.table), [oids]).fetchall()
        return sorted(r[0] for r in rows)

    def update(self, oid: int, *, progress: float, batch_size: int, rows: int, rate: float | None,
               reverse: bool, finished: bool = False) -> None:
        self.conn.execute(
            sql.SQL(
                "UPDATE {} SET progress = %s, batch_size = %s, rows_done = rows_done + %s, rows_per_second = %s, "
                "apply_reverse = %s, last_updated = now(), runner_pid = pg_backend_pid(), runner_host = %s, "
                "finished_at = CASE WHEN %s THEN now() ELSE NULL END WHERE id = %s"
            ).format(self.table),
            [progress, batch_size, rows, rate, reverse, socket.gethostname(), finished, oid],
        )


class BackgroundRunner:
    """Runs one out-of-band migration to completion (or to zero, in reverse)."""

    def __init__(self, dsn: str, oob: OutOfBand, options: BackgroundOptions = BackgroundOptions(),
                 on_event: EventSink | None = None, stop_check: Callable[[], bool] | None = None):
        from ..events import discard

        self.dsn = dsn
        self.oob = oob
        self.options = options
        self.on_event = on_event if on_event is not None else discard
        # Asked between batches: an upgrade run that was told to pause or abort stops here.
        self.stop_check = stop_check

    def measure(self, conn: psycopg.Connection) -> float:
        value = conn.execute(self.oob.progress.statements[0].text).fetchone()[0]
        return min(1.0, max(0.0, float(value if value is not None else 0.0)))

    def run(self, *, reverse: bool = False) -> str:
        """Returns "complete", "paused" (its own flag) or "stopped" (stop_check); raises OutOfBandFailed
        after repeated batch errors, or when the connection is lost."""
        try:
            return self._run(reverse)
        except psycopg.Error as exc:
            if not is_connection_loss(exc):
                raise
            raise OutOfBandFailed(
                f"lost the connection during out-of-band {self.oob.id} ({loss_reason(exc, self.dsn)}); its last batch "
                "was rolled back and the next run continues from the recorded progress") from None

    def _run(self, reverse: bool) -> str:
        from ..events import OobBatchFailed, OobFinished, OobPaused, OobProgress, OobStarted

        o, opts = self.oob, self.options
        if reverse and o.down is None:
            if o.non_destructive:
                return "complete"  # nothing to undo
            raise OutOfBandFailed(f"out-of-band {o.id} has no down.sql and cannot be reversed")
        script = o.down if reverse else o.up
        batch_sql = script.text
        target = opts.target_batch_seconds or o.target_batch_seconds
        with connect(self.dsn, role="oob") as conn:
            ensure_writable(conn, self.dsn)
            store = OutOfBandStore(conn, opts.bookkeeping_schema)
            store.ensure()
            store.sync(o)
            conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{int(opts.lock_timeout * 1000)}ms")))
            with AdvisoryLock(conn, lock_key(opts.bookkeeping_schema, "oob", str(o.id)), f"out-of-band {o.id}",
                              poll=opts.poll, on_event=self.on_event):
                record = store.get(o.id)
                batch = max(MIN_BATCH, record.batch_size if record and record.batch_size else o.batch_size)
                progress = self.measure(conn)
                store.update(o.id, progress=progress, batch_size=batch, rows=0, rate=None, reverse=reverse)
                self.on_event(OobStarted(o.id, o.description, reverse, progress, batch))
                start = time.monotonic()
                rows_total = 0
                errors = stalls = 0
                last_measure, measure_cost = time.monotonic(), 0.0
                rate_ema: float | None = None
                prog_rate: float | None = None
                last_prog, last_prog_t = progress, time.monotonic()
                while not self._done(progress, reverse):
                    if store.get(o.id).paused:
                        self.on_event(OobPaused(o.id, progress))
                        return "paused"
                    if self.stop_check is not None and self.stop_check():
                        return "stopped"
                    t0 = time.monotonic()
                    try:
                        with conn.transaction():
                            rows = conn.execute(batch_sql, {"batch_size": batch}).rowcount
                    except psycopg.Error as exc:
                        if conn.broken:
                            raise OutOfBandFailed(
                                f"lost the connection during out-of-band {o.id} ({loss_reason(exc, self.dsn)}); its last "
                                "batch was rolled back and the next run continues from the recorded progress") from None
                        errors += 1
                        msg = server_message(exc).text
                        store.record_error(o.id, msg, exc.sqlstate, batch, reverse)
                        self.on_event(OobBatchFailed(o.id, msg, exc.sqlstate, errors))
                        if errors >= opts.max_consecutive_errors:
                            raise OutOfBandFailed(f"out-of-band {o.id} failed {errors} batches in a row: {msg}",
                                                  hint="see out_of_band_migrations_errors; fix the cause and run it again") from None
                        if not isinstance(exc, (pgerrors.LockNotAvailable, pgerrors.DeadlockDetected)):
                            batch = max(MIN_BATCH, batch // 2)  # a smaller batch may avoid a timeout or a bad row
                        time.sleep(min(0.2 * 2 ** errors, 5))
                        continue
                    errors = 0
                    elapsed = max(time.monotonic() - t0, 1e-6)
                    rows_total += max(rows, 0)
                    rate = rows / elapsed if rows > 0 else 0.0
                    rate_ema = rate if rate_ema is None else 0.7 * rate_ema + 0.3 * rate
                    # Measure progress at most every ~25x its own cost, so counting stays under ~4% of the time.
                    now = time.monotonic()
                    if rows <= 0 or now - last_measure >= max(0.5, 25 * measure_cost):
                        m0 = time.monotonic()
                        progress = self.measure(conn)
                        measure_cost = time.monotonic() - m0
                        last_measure = time.monotonic()
                        dt = last_measure - last_prog_t
                        if dt > 0:
                            step_rate = abs(progress - last_prog) / dt
                            prog_rate = step_rate if prog_rate is None else 0.5 * prog_rate + 0.5 * step_rate
                        last_prog, last_prog_t = progress, last_measure
                    if rows <= 0 and reverse:
                        # Undoing: a batch with nothing left to undo is the end, whatever progress.sql
                        # reports (an empty table counts as "done" both ways).
                        progress = 0.0
                        break
                    if rows <= 0 and not self._done(progress, reverse):
                        stalls += 1
                        if stalls >= opts.max_stalled_batches:
                            raise OutOfBandFailed(
                                f"out-of-band {o.id} makes no progress: {'down' if reverse else 'up'}.sql changed no rows "
                                f"while progress.sql reports {progress:.1%}",
                                hint="progress.sql and the batch SQL disagree about what is left to do")
                    else:
                        stalls = 0
                    batch = self._adapt(batch, elapsed, target)
                    remaining = progress if reverse else 1 - progress
                    eta = remaining / prog_rate if prog_rate else None
                    store.update(o.id, progress=progress, batch_size=batch, rows=max(rows, 0), rate=rate_ema, reverse=reverse)
                    self.on_event(OobProgress(o.id, progress, reverse, max(rows, 0), batch, elapsed, rate_ema or 0.0,
                                              eta, rows_total))
                store.update(o.id, progress=progress, batch_size=batch, rows=0, rate=rate_ema, reverse=reverse, finished=True)
                self.on_event(OobFinished(o.id, progress, reverse, time.monotonic() - start, rows_total))
                return "complete"

    @staticmethod
    def _done(progress: float, reverse: bool) -> bool:
        return progress <= 0.0 if reverse else progress >= 1.0

    @staticmethod
    def _adapt(batch: int, elapsed: float, target: float) -> int:
        factor = min(2.0, max(0.5, target / elapsed))
        return int(min(MAX_BATCH, max(MIN_BATCH, round(batch * factor))))
