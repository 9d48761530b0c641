"""A fleet run's state in the coordinator database: the runs and each instance's status.

Every coordinator working on a fleet reads and writes these two tables, so an interrupted run
resumes where it stopped, every operator sees the same state, and coordinators on several
machines share the instances instead of upgrading them twice.

Claims: a coordinator takes an instance by writing its own session (pg_backend_pid() and that
backend's start time) into the instance's row, in one short statement whose row choice uses
`FOR UPDATE SKIP LOCKED`, so two coordinators never wait for each other nor take the same row.
A claim stands while that session is alive (pg_stat_activity, as upgrade_runs judges its runs):
a coordinator that dies, however it dies, loses its session and so its claims, and the next
coordinator takes them over. This rather than a row lock held for the whole instance upgrade:
the instance's "running" status is visible to everyone at once (a held transaction would hide
it until commit), a coordinator needs one session however many instances it upgrades at once,
and no transaction stays open on the coordinator for the length of an upgrade.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from ..bookkeeping.pgschema import BookkeepingTable
from ..bookkeeping.runs import operator_name
from ..locks import AdvisoryLock, lock_key
from .inventory import Inventory

RUN_COLUMNS = {
    "id": "bigserial PRIMARY KEY",
    "fleet": "text NOT NULL",
    "to_version": "text NOT NULL",
    # open: being worked on or resumable; halted: failures reached halt_after_failures; paused;
    # finished: every instance is done; superseded: a run to another release replaced it.
    "status": "text NOT NULL DEFAULT 'open'",
    "reason": "text",  # why it halted or was paused
    "started_at": "timestamptz NOT NULL DEFAULT now()",
    "finished_at": "timestamptz",
    "started_by": "text",
    "control_by": "text",
}
INSTANCE_COLUMNS = {
    "run_id": "bigint NOT NULL",
    "name": "text NOT NULL",
    "ring": "text NOT NULL",
    "ring_index": "integer NOT NULL",
    # pending, claimed, running, succeeded, failed, skipped (frozen in the inventory), paused
    "status": "text NOT NULL DEFAULT 'pending'",
    "reason": "text",  # the first line of a failure; why it is skipped or paused; a no-op's note
    "claimed_by": "text",  # operator@host:pid of the coordinator
    "claim_pid": "integer",  # that coordinator's session on this database ...
    "claim_backend_start": "timestamptz",  # ... told apart from a later one with the same pid
    "claimed_at": "timestamptz",
    "started_at": "timestamptz",
    "finished_at": "timestamptz",
    "from_version": "text",
    "reached_version": "text",
    "upgrade_run_id": "bigint",  # the instance's own upgrade_runs row, for pause and the report
    "control": "text",  # 'pause': asked while claimed or running, honoured at its next safe point
    "control_by": "text",
    "verified_at": "timestamptz",  # readiness and preflight after its ring passed
    "attempts": "integer NOT NULL DEFAULT 0",
}
ACTIVE = ("claimed", "running")
# Every time is the coordinator server's: coordinators on several machines share one clock.
NOW = sql.SQL("clock_timestamp()")
DONE = ("succeeded", "skipped")
STATUSES = ("pending", "claimed", "running", "succeeded", "failed", "skipped", "paused")

ALIVE = ("EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = {t}.claim_pid "
         "AND a.backend_start = {t}.claim_backend_start)")


@dataclass(frozen=True)
class FleetRun:
    id: int
    fleet: str
    to_version: str
    status: str
    reason: str | None
    started_at: datetime
    finished_at: datetime | None
    started_by: str | None
    control_by: str | None


@dataclass(frozen=True)
class InstanceState:
    run_id: int
    name: str
    ring: str
    ring_index: int
    status: str
    reason: str | None
    claimed_by: str | None
    claim_pid: int | None
    claim_backend_start: datetime | None
    claimed_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    from_version: str | None
    reached_version: str | None
    upgrade_run_id: int | None
    control: str | None
    control_by: str | None
    verified_at: datetime | None
    attempts: int
    alive: bool = False  # is the claiming coordinator's session still connected?

    @property
    def effective_status(self) -> str:
        """A claim whose coordinator is gone is waiting for the next one: shown as interrupted."""
        return "interrupted" if self.status in ACTIVE and not self.alive else self.status

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def as_dict(self) -> dict:
        return {"name": self.name, "ring": self.ring, "status": self.effective_status, "reason": self.reason,
                "claimed_by": self.claimed_by, "started_at": self.started_at, "finished_at": self.finished_at,
                "seconds": self.seconds, "from": self.from_version, "to": self.reached_version,
                "upgrade_run_id": self.upgrade_run_id, "attempts": self.attempts}


def coordinator_name() -> str:
    return f"{operator_name()}@{socket.gethostname()}:{os.getpid()}"


class RunTable(BookkeepingTable):
    NAME = "fleet_runs"
    COLUMNS = RUN_COLUMNS


class InstanceTable(BookkeepingTable):
    NAME = "fleet_instances"
    COLUMNS = INSTANCE_COLUMNS


class FleetStore:
    """The coordinator's tables, on one session: the session whose life keeps this process's claims."""

    def __init__(self, conn: psycopg.Connection, schema: str = "public"):
        self.conn = conn
        self.runs = RunTable(conn, schema)
        self.instances = InstanceTable(conn, schema)
        self.me = coordinator_name()

    def ensure(self) -> None:
        self.runs.ensure()
        self.instances.ensure()
        index = sql.Identifier(self.instances.schema, "fleet_instances_run_name")
        if self.conn.execute("SELECT to_regclass(%s) IS NULL", [index.as_string(self.conn)]).fetchone()[0]:
            # Under the lock the tables were made under: two coordinators starting at once make it once.
            with AdvisoryLock(self.conn, lock_key(self.instances.schema, "bookkeeping"), "bookkeeping"):
                self.conn.execute(sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS fleet_instances_run_name ON {} (run_id, name)")
                                  .format(self.instances.table))

    # -- runs ----------------------------------------------------------------------------------

    def join(self, inventory: Inventory, to: str) -> tuple[FleetRun, str]:
        """The fleet's open run to `to`, created when there is none, its instances in step with the
        inventory; (run, what happened: 'started', 'joined', 'resumed' after a halt: its failed
        instances are tried again).
        A run to another release is superseded. One transaction, under the fleet's lock, so two
        coordinators starting together share one run."""
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key("fleet", inventory.name)])
            run = self.current(inventory.name)
            what = "joined"
            if run is not None and run.to_version != to:
                self._set_run(run.id, "superseded", f"replaced by a run to {to}")
                run = None
            if run is None:
                run_id = self.conn.execute(sql.SQL("INSERT INTO {} (fleet, to_version, started_by) VALUES (%s, %s, %s) "
                                                   "RETURNING id").format(self.runs.table),
                                           [inventory.name, to, self.me]).fetchone()[0]
                what = "started"
            else:
                run_id = run.id
                if run.status == "halted":
                    # Someone runs the fleet again: they fixed (or accept) what stopped it. A paused
                    # run stays paused until `fleet resume`: whoever paused it meant everyone.
                    self._set_run(run_id, "open", None)
                    self.conn.execute(sql.SQL("UPDATE {} SET status = 'pending', reason = NULL WHERE run_id = %s "
                                              "AND status = 'failed'").format(self.instances.table), [run_id])
                    what = "resumed"
            self._sync(run_id, inventory)
        return self.get(run_id), what

    def _sync(self, run_id: int, inventory: Inventory) -> None:
        """Every inventory instance has its row; a freeze in the inventory skips a pending one, and
        a freeze lifted makes a skipped one pending again."""
        for i in inventory.instances:
            self.conn.execute(sql.SQL("INSERT INTO {} (run_id, name, ring, ring_index) VALUES (%s, %s, %s, %s) "
                                      "ON CONFLICT (run_id, name) DO UPDATE SET ring = excluded.ring, "
                                      "ring_index = excluded.ring_index").format(self.instances.table),
                              [run_id, i.name, i.ring, inventory.rings.index(i.ring)])
            if i.paused:
                self._where(run_id, i.name, "status = 'pending'", status="skipped", reason=i.paused)
            else:
                self._where(run_id, i.name, "status = 'skipped'", status="pending", reason=None)

    def current(self, fleet: str) -> FleetRun | None:
        """The fleet's latest run that is not finished or superseded."""
        rows = self._runs("WHERE fleet = %s AND status NOT IN ('finished', 'superseded') ORDER BY id DESC LIMIT 1", [fleet])
        return rows[0] if rows else None

    def latest(self, fleet: str) -> FleetRun | None:
        rows = self._runs("WHERE fleet = %s ORDER BY id DESC LIMIT 1", [fleet])
        return rows[0] if rows else None

    def get(self, run_id: int) -> FleetRun:
        return self._runs("WHERE id = %s", [run_id])[0]

    def _runs(self, where: str, params: list) -> list[FleetRun]:
        if not self.runs.exists():
            return []
        cur = self.conn.cursor(row_factory=class_row(FleetRun))
        return cur.execute(sql.SQL("SELECT {} FROM {} " + where).format(
            sql.SQL(", ").join(map(sql.Identifier, RUN_COLUMNS)), self.runs.table), params).fetchall()

    def _set_run(self, run_id: int, status: str, reason: str | None, *, only_if: str = "true") -> bool:
        done = "now()" if status in ("finished", "superseded") else "NULL"
        cur = self.conn.execute(sql.SQL("UPDATE {} SET status = %s, reason = %s, finished_at = " + done +
                                        " WHERE id = %s AND " + only_if).format(self.runs.table),
                                [status, reason, run_id])
        return cur.rowcount == 1

    def halt(self, run_id: int, reason: str) -> bool:
        """Stop the fleet before its next ring; False when another coordinator already did."""
        return self._set_run(run_id, "halted", reason, only_if="status = 'open'")

    def finish(self, run_id: int) -> bool:
        return self._set_run(run_id, "finished", None, only_if="status = 'open'")

    def pause_run(self, run_id: int, by: str) -> bool:
        self.conn.execute(sql.SQL("UPDATE {} SET control_by = %s WHERE id = %s").format(self.runs.table), [by, run_id])
        return self._set_run(run_id, "paused", f"paused by {by}", only_if="status = 'open'")

    def resume_run(self, run_id: int) -> bool:
        return self._set_run(run_id, "open", None, only_if="status = 'paused'")

    # -- instances -----------------------------------------------------------------------------

    def states(self, run_id: int) -> list[InstanceState]:
        t = self.instances.table
        cols = sql.SQL(", ").join(sql.Identifier("f", c) for c in INSTANCE_COLUMNS)
        cur = self.conn.cursor(row_factory=class_row(InstanceState))
        return cur.execute(sql.SQL("SELECT {}, " + ALIVE.format(t="f") + " AS alive FROM {} f WHERE run_id = %s "
                                   "ORDER BY ring_index, name").format(cols, t), [run_id]).fetchall()

    def claim(self, run_id: int, ring: str, names: list[str]) -> str | None:
        """Take one instance of `ring` among `names` that is pending, or whose claim died with its
        coordinator; its name, or None when there is none to take."""
        t = self.instances.table
        row = self.conn.execute(sql.SQL(
            "UPDATE {t} f SET status = 'claimed', claimed_by = %s, claim_pid = pg_backend_pid(), "
            "claim_backend_start = (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()), "
            "claimed_at = now(), attempts = f.attempts + 1 "
            "WHERE (f.run_id, f.name) = (SELECT c.run_id, c.name FROM {t} c WHERE c.run_id = %s AND c.ring = %s "
            "AND c.name = ANY(%s) AND (c.status = 'pending' OR (c.status IN ('claimed', 'running') AND NOT "
            + ALIVE.format(t="c") + ")) ORDER BY c.name LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING f.name"
        ).format(t=t), [self.me, run_id, ring, names]).fetchone()
        return row[0] if row else None

    def ring_busy(self, run_id: int, ring: str, names: list[str]) -> bool:
        """Is an instance of the ring still pending, or claimed by a coordinator that is alive?"""
        t = self.instances.table
        return self.conn.execute(sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM {} f WHERE run_id = %s AND ring = %s AND name = ANY(%s) AND "
            "(status = 'pending' OR (status IN ('claimed', 'running') AND " + ALIVE.format(t="f") + ")))"
        ).format(t), [run_id, ring, names]).fetchone()[0]

    def _where(self, run_id: int, name: str, condition: str, **values) -> bool:
        """Set `values` (NOW: the coordinator server's clock) on the instance when `condition` holds."""
        sets = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), NOW if v is NOW else sql.Placeholder())
                                  for k, v in values.items())
        params = [v for v in values.values() if v is not NOW]
        cur = self.conn.execute(sql.SQL("UPDATE {} SET {} WHERE run_id = %s AND name = %s AND " + condition)
                                .format(self.instances.table, sets), [*params, run_id, name])
        return cur.rowcount == 1

    def mine(self, run_id: int, name: str, **values) -> bool:
        """Update an instance this coordinator holds; False when its claim is no longer this session's."""
        return self._where(run_id, name, "claim_pid = pg_backend_pid() AND status IN ('claimed', 'running')", **values)

    def started(self, run_id: int, name: str) -> bool:
        return self.mine(run_id, name, status="running", started_at=NOW, reason=None,
                         from_version=None, reached_version=None, upgrade_run_id=None, verified_at=None)

    def upgrade_run(self, run_id: int, name: str, upgrade_run_id: int) -> None:
        self.mine(run_id, name, upgrade_run_id=upgrade_run_id)

    def ended(self, run_id: int, name: str, status: str, reason: str | None, start: str | None,
              reached: str | None) -> None:
        self.mine(run_id, name, status=status, reason=reason, from_version=start, reached_version=reached,
                  finished_at=NOW, control=None)

    def bake_left(self, run_id: int, ring: str, seconds: float) -> float:
        """Seconds until `seconds` after the ring's last instance finished (negative: past)."""
        row = self.conn.execute(sql.SQL(
            "SELECT extract(epoch FROM max(finished_at) + make_interval(secs => %s) - clock_timestamp())::float8 "
            "FROM {} WHERE run_id = %s AND ring = %s").format(self.instances.table), [seconds, run_id, ring]).fetchone()
        return row[0] if row and row[0] is not None else 0.0

    def control(self, run_id: int, name: str) -> str | None:
        row = self.conn.execute(sql.SQL("SELECT control FROM {} WHERE run_id = %s AND name = %s")
                                .format(self.instances.table), [run_id, name]).fetchone()
        return row[0] if row else None

    def verified(self, run_id: int, name: str, failure: str | None) -> None:
        """Readiness after the ring: a failure turns a succeeded instance into a failed one."""
        values = {"verified_at": NOW}
        if failure:
            values.update(status="failed", reason=failure)
        self._where(run_id, name, "status = 'succeeded' AND verified_at IS NULL", **values)

    def pause_instance(self, run_id: int, name: str, by: str) -> str | None:
        """A pending instance is paused now; a claimed or running one is asked to pause at its next
        safe point. Its status before, or None when it is neither."""
        row = self.conn.execute(sql.SQL(
            "UPDATE {t} f SET status = CASE WHEN f.status = 'pending' THEN 'paused' ELSE f.status END, "
            "control = CASE WHEN f.status = 'pending' THEN NULL ELSE 'pause' END, control_by = %s, "
            "reason = CASE WHEN f.status = 'pending' THEN %s ELSE f.reason END "
            "FROM {t} old WHERE f.run_id = %s AND f.name = %s AND old.run_id = f.run_id AND old.name = f.name "
            "AND f.status IN ('pending', 'claimed', 'running') RETURNING old.status"
        ).format(t=self.instances.table), [by, f"paused by {by}", run_id, name]).fetchone()
        return row[0] if row else None

    def resume_instance(self, run_id: int, name: str) -> bool:
        """A paused instance is pending again; a pause asked of a running one is withdrawn."""
        cur = self.conn.execute(sql.SQL(
            "UPDATE {} SET status = CASE WHEN status = 'paused' THEN 'pending' ELSE status END, control = NULL, "
            "reason = CASE WHEN status = 'paused' THEN NULL ELSE reason END "
            "WHERE run_id = %s AND name = %s AND (status = 'paused' OR control IS NOT NULL)"
        ).format(self.instances.table), [run_id, name])
        return cur.rowcount == 1


FLEET_DATABASE = "pgferry_fleet"  # the embedded coordinator's database


def coordinator_dsn(inventory: Inventory, embedded_dir) -> str:
    """The inventory's coordinator, else a long-lived embedded server in `embedded_dir` (one
    operator's fleet: `pgferry demo` starts its server the same way), started when not running."""
    if inventory.coordinator:
        return inventory.coordinator
    from ..embedded import start

    return start(embedded_dir, keep=True).create_database(FLEET_DATABASE)


def open_store(dsn: str) -> FleetStore:
    """The coordinator's session (its life is this process's claims), the tables made when missing."""
    from ..connection import connect

    store = FleetStore(connect(dsn, role="fleet"))
    store.ensure()
    return store
