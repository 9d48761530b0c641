"""CREATE INDEX CONCURRENTLY: an attempt row committed first, the migrator lock released during the
build, an interrupted attempt settled by the index's catalog state (docs/design.md §7, rules 2 and 3)."""
from __future__ import annotations

import time

import psycopg
from psycopg import sql

from ..bookkeeping.bookkeeping import SchemaState
from ..definitions.graph import Step
from ..errors import MigrationFailed, StatementFailure
from ..events import IndexRepaired, LockRetry, MigrationFailedEvent, MigrationFinished, MigrationStarted, StaleAttempt, \
    StatementStarted, WaitingForBuild
from .monitor import index_progress
from .session import RETRYABLE, MigratorSession, ms, statement_failure


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


class ConcurrentIndexBuild(MigratorSession):
    """Builds a CIC migration's index, waiting for or repairing a build left by someone else."""

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
                self.conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(ms(self.options.cic_lock_timeout))))
                self.on_event(StatementStarted(step.schema, step.id, st.line, 1, 1, st.text))
                self.monitor.watch(step.schema, step.id, st.line, self.pid, name)
                self.conn.execute(st.text)
                self.monitor.clear()
            except psycopg.Error as exc:
                self.monitor.clear()
                if self.conn.closed or self.conn.broken:
                    raise self._lost(exc, f"while building index {name}",
                                     "The next run checks the index and finishes or rebuilds it.") from None
                failure = statement_failure(step, st, exc)
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
