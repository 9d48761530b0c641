"""Privileged migrations: run on the superuser connection and recorded on the migrator's, or
recorded as granted after someone else ran them (docs/design.md §8)."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import psycopg
from psycopg import sql

from ..bookkeeping.grantlog import Grant, GrantLog
from ..connection import connect, with_database
from ..definitions.graph import Step
from ..definitions.sqlfile import Statement
from ..events import MigrationFinished, MigrationStarted, StatementStarted
from .session import MigratorSession, ms, statement_failure


class PrivilegedSteps(MigratorSession):
    """Runs or records the migrations that need more than the migrator's role."""

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
                                 .format(sql.Literal(ms(self.options.idle_in_transaction_timeout)))).fetchone()[0]
                with su.transaction():
                    for n, st in enumerate(script.statements, 1):
                        current = st
                        self.on_event(StatementStarted(step.schema, step.id, st.line, n, len(script.statements), st.text))
                        su.execute(st.text)
        except psycopg.Error as exc:
            self._record_failure(step, statement_failure(step, current, exc), wall)
        with self.conn.transaction():
            self.log.record_success(step.schema, step.id, step.up, wall, script, step.backfill, self.run_id,
                                    manual=True, confirmed_by=f"superuser connection as {who}")
        self.on_event(MigrationFinished(step.schema, step.id, step.up, time.monotonic() - t0, step.backfill,
                                        note=f"ran as {who}"))

    def _privileged_dsn(self) -> str:
        """The superuser connection, in this schema's database whatever database it names: an
        extension created elsewhere would be recorded here but missing."""
        return with_database(self.options.privileged_dsn, self.conn.info.dbname)
