"""upgrade_runs: each upgrade's persisted plan, operator, status and position (docs/design.md §7)."""
from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from datetime import datetime

from psycopg import sql
from psycopg.types.json import Jsonb

from pgferry import __version__

from .pgschema import BookkeepingTable

COLUMNS = {
    "id": "bigserial PRIMARY KEY",
    "started_at": "timestamptz NOT NULL DEFAULT now()",
    "finished_at": "timestamptz",
    "heartbeat": "timestamptz",
    "operator": "text",
    "host": "text",
    "os_pid": "integer",
    "backend_pid": "integer",
    "pgferry_version": "text",
    "direction": "text NOT NULL",
    "from_version": "text",
    "to_version": "text NOT NULL",
    "plan": "jsonb NOT NULL",
    "status": "text NOT NULL",
    "position": "integer NOT NULL DEFAULT 0",
    "total": "integer NOT NULL DEFAULT 0",
    "current_step": "text",
    "error": "text",
    "resumed_from": "bigint",
    # 'pause' or 'abort', asked by anyone who can reach the database (the UI, another machine);
    # the running process stops at its next safe point: between migrations, between batches.
    "control": "text",
    "control_by": "text",
    # `upgrade --backup DIR`: one record per database dumped before the run changed it (file, bytes,
    # sha256, when); `pgferry restore --run N` reads them. NULL: the run took no backup.
    "backups": "jsonb",
}

# 'interrupted': a run whose process died, settled so by the next command (upgrade/stale.py); the
# next run to its release continues it like a failed or paused one.
UNFINISHED = ("running", "failed", "paused", "interrupted")
# Its backend is gone: no session with its pid that started before the run did (pids are reused).
_ALIVE = "EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid AND a.backend_start <= r.started_at)"
CONTROLS = ("pause", "abort")


@dataclass(frozen=True)
class UpgradeRun:
    id: int
    started_at: datetime
    finished_at: datetime | None
    heartbeat: datetime | None
    operator: str | None
    host: str | None
    os_pid: int | None
    backend_pid: int | None
    direction: str
    from_version: str | None
    to_version: str
    plan: dict
    status: str
    position: int
    total: int
    current_step: str | None
    error: str | None
    resumed_from: int | None
    control: str | None = None
    control_by: str | None = None
    backups: list | None = None
    alive: bool = False

    @property
    def effective_status(self) -> str:
        """A 'running' run whose process is gone was interrupted (a crash, a kill, a lost SSH)."""
        return "interrupted" if self.status == "running" and not self.alive else self.status


def operator_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return os.environ.get("USER", "unknown")


class RunStore(BookkeepingTable):
    NAME = "upgrade_runs"
    COLUMNS = COLUMNS

    def create(self, plan: dict, direction: str, from_version: str | None, to_version: str, total: int,
               resumed_from: int | None, backups: list[dict] | None = None) -> int:
        return self.conn.execute(
            sql.SQL(
                "INSERT INTO {} (heartbeat, operator, host, os_pid, backend_pid, pgferry_version, direction, from_version, "
                "to_version, plan, status, total, resumed_from, backups) VALUES (now(), %s, %s, %s, pg_backend_pid(), %s, "
                "%s, %s, %s, %s, 'running', %s, %s, %s) RETURNING id"
            ).format(self.table),
            [operator_name(), socket.gethostname(), os.getpid(), __version__, direction, from_version, to_version,
             Jsonb(plan), total, resumed_from, Jsonb(backups) if backups else None],
        ).fetchone()[0]

    def progress(self, run_id: int, position: int, current: str | None) -> str | None:
        """Record the position; returns a pending 'pause'/'abort' request (one round trip for both)."""
        row = self.conn.execute(
            sql.SQL("UPDATE {} SET position = %s, current_step = %s, heartbeat = now() WHERE id = %s RETURNING control")
            .format(self.table), [position, current, run_id]).fetchone()
        return row[0] if row else None

    def control(self, run_id: int) -> str | None:
        row = self.conn.execute(sql.SQL("SELECT control FROM {} WHERE id = %s").format(self.table), [run_id]).fetchone()
        return row[0] if row else None

    def request(self, run_id: int, control: str, by: str | None = None) -> bool:
        """Ask a running upgrade to pause or abort at its next safe point; False when it is not running."""
        if control not in CONTROLS:
            raise ValueError(control)
        cur = self.conn.execute(
            sql.SQL("UPDATE {} SET control = %s, control_by = %s WHERE id = %s AND status = 'running'").format(self.table),
            [control, by or operator_name(), run_id])
        return cur.rowcount == 1

    def finish(self, run_id: int, status: str, error: str | None = None) -> None:
        self.conn.execute(
            sql.SQL("UPDATE {} SET status = %s, error = %s, finished_at = now(), heartbeat = now() WHERE id = %s")
            .format(self.table), [status, error, run_id])

    def settle(self, run_id: int, status: str, note: str) -> bool:
        """End a run whose process died without recording it; False when it is not 'running' any more
        or its backend is alive (checked in the same statement). It ended about its last heartbeat."""
        cur = self.conn.execute(
            sql.SQL("UPDATE {} r SET status = %s, error = %s, finished_at = coalesce(r.heartbeat, now()) "
                    "WHERE r.id = %s AND r.status = 'running' AND NOT " + _ALIVE).format(self.table),
            [status, note, run_id])
        return cur.rowcount == 1

    def _rows(self, where: sql.Composable, params: list) -> list[UpgradeRun]:
        if not self.exists():
            return []
        missing = set(self.missing_columns())  # read-only callers never ALTER: an older table reads as NULLs
        names = ", ".join(f"NULL AS {c}" if c in missing else c for c in COLUMNS if c != "pgferry_version")
        rows = self.conn.execute(
            sql.SQL("SELECT " + names + ", " + _ALIVE + " FROM {} r ").format(self.table) + where, params).fetchall()
        return [UpgradeRun(*row) for row in rows]

    def latest(self) -> UpgradeRun | None:
        rows = self._rows(sql.SQL("ORDER BY id DESC LIMIT 1"), [])
        return rows[0] if rows else None

    def unfinished(self) -> UpgradeRun | None:
        rows = self._rows(sql.SQL("WHERE status = ANY(%s) ORDER BY id DESC LIMIT 1"), [list(UNFINISHED)])
        return rows[0] if rows else None

    def get(self, run_id: int) -> UpgradeRun | None:
        rows = self._rows(sql.SQL("WHERE id = %s"), [run_id])
        return rows[0] if rows else None

    def supersede(self, run_id: int, by: int) -> None:
        self.conn.execute(
            sql.SQL("UPDATE {} SET status = 'resumed', error = concat_ws('; ', nullif(error, ''), %s::text), "
                    "finished_at = coalesce(finished_at, now()) WHERE id = %s").format(self.table),
            [f"continued by run {by}", run_id])
