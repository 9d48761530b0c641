"""What an upgrade run is doing right now, read from the database alone (docs/design.md §12).

Everything here comes from `upgrade_runs`, `migration_logs`, the out-of-band table,
`pg_stat_activity` and `pg_stat_progress_create_index`, which any session may read: the
process that started a run, a reattaching UI and `pgferry watch` on another machine all see
the same picture. The run's own sessions are found by the application_name every pgferry
connection carries (role, host, process id).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

import psycopg
from psycopg import sql

from ..bookkeeping.runs import RunStore, UpgradeRun
from ..bookkeeping.status import IdleLockHolder, idle_lock_holders
from ..connection import ROLES, application_name, connect
from ..sessions import Session, build_fraction
from ..run.background import OutOfBandStore

SESSIONS_SQL = """
SELECT a.pid, a.application_name, coalesce(a.state, ''), coalesce(a.query, ''),
       extract(epoch FROM now() - a.query_start)::float8, a.wait_event_type, a.wait_event,
       pg_blocking_pids(a.pid)
FROM pg_stat_activity a
WHERE a.application_name = ANY(%s)
  AND a.datname = current_database()      -- the view is cluster-wide; each database is read on its own
  AND a.backend_type = 'client backend'    -- not the parallel workers of an index build
"""

BLOCKERS_SQL = """
SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), coalesce(a.state, ''),
       coalesce(a.query, ''), extract(epoch FROM now() - coalesce(a.xact_start, a.query_start, a.backend_start))::float8,
       coalesce(a.xact_start, a.query_start)
FROM pg_stat_activity a WHERE a.pid = ANY(%s)
"""

PROGRESS_SQL = """
SELECT p.pid, p.phase, p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total, p.lockers_done, p.lockers_total,
       p.index_relid::regclass::text, p.relid::regclass::text
FROM pg_stat_progress_create_index p WHERE p.pid = ANY(%s) AND p.datname = current_database()
"""


@dataclass(frozen=True)
class Statement:
    """A statement one of the run's sessions is executing."""

    database: str
    pid: int
    role: str
    query: str
    seconds: float
    wait: str | None  # "Lock: relation", when waiting


@dataclass(frozen=True)
class IndexBuild:
    database: str
    pid: int
    index: str
    table: str
    phase: str
    blocks_done: int
    blocks_total: int
    tuples_done: int
    tuples_total: int

    @property
    def fraction(self) -> float | None:
        return build_fraction(self.blocks_done, self.blocks_total, self.tuples_done, self.tuples_total)


@dataclass(frozen=True)
class LockWaitNow:
    database: str
    waiter_pid: int
    waiter_query: str
    blockers: tuple[Session, ...]


@dataclass(frozen=True)
class OobNow:
    id: int
    description: str
    progress: float
    reverse: bool
    paused: bool
    rows_per_second: float | None
    finished: bool
    errors: int
    last_error: str | None


@dataclass(frozen=True)
class Finished:
    schema: str
    version: int
    up: bool
    seconds: float | None
    finished_at: datetime
    success: bool | None
    manual: bool


@dataclass(frozen=True)
class LiveRun:
    run: UpgradeRun | None
    statements: tuple[Statement, ...] = ()
    builds: tuple[IndexBuild, ...] = ()
    waits: tuple[LockWaitNow, ...] = ()
    out_of_band: tuple[OobNow, ...] = ()
    recent: tuple[Finished, ...] = ()
    read_at: datetime | None = None
    idle_holders: tuple[IdleLockHolder, ...] = ()  # the run's sessions idle in a transaction, holding locks

    @property
    def active(self) -> bool:
        return self.run is not None and self.run.effective_status == "running"


@dataclass
class LiveReader:
    """Keeps one connection per database open between snapshots (a watcher polls every second)."""

    dsns: dict[str, str]  # schema -> DSN
    bookkeeping_schema: str = "public"
    _conns: dict[str, psycopg.Connection] = field(default_factory=dict)

    def _conn(self, dsn: str) -> psycopg.Connection:
        c = self._conns.get(dsn)
        if c is None or c.closed or c.broken:
            c = self._conns[dsn] = connect(dsn, role="status")
        return c

    def close(self) -> None:
        for c in self._conns.values():
            c.close()
        self._conns.clear()

    def latest_run(self) -> UpgradeRun | None:
        return RunStore(self._conn(self.primary), self.bookkeeping_schema).latest()

    def run(self, run_id: int) -> UpgradeRun | None:
        """Just the run's row (its position): what a fleet view reads of each instance it shows running."""
        return RunStore(self._conn(self.primary), self.bookkeeping_schema).get(run_id)

    def find_run(self, host: str, os_pid: int) -> UpgradeRun | None:
        """The run a just-started process created, once it has."""
        store = RunStore(self._conn(self.primary), self.bookkeeping_schema)
        run = store.latest()
        return run if run is not None and run.host == host and run.os_pid == os_pid else None

    @property
    def primary(self) -> str:
        return next(iter(self.dsns.values()))

    def request(self, run_id: int, control: str) -> bool:
        return RunStore(self._conn(self.primary), self.bookkeeping_schema).request(run_id, control)

    def snapshot(self, run_id: int | None) -> LiveRun:
        primary = self._conn(self.primary)
        store = RunStore(primary, self.bookkeeping_schema)
        run = store.get(run_id) if run_id is not None else store.latest()
        read_at = primary.execute("SELECT now()").fetchone()[0]
        if run is None:
            return LiveRun(None, read_at=read_at)
        names = [application_name(r, host=run.host, pid=run.os_pid) for r in ROLES] if run.host and run.os_pid else []
        statements, builds, waits, oobs, recent, idle = [], [], [], [], [], []
        plan_oob = {s.get("id") for s in (run.plan or {}).get("steps", []) if s.get("kind") == "out_of_band"}
        for dsn in dict.fromkeys(self.dsns.values()):
            conn = self._conn(dsn)
            db = conn.info.dbname
            if names and run.status == "running":
                s, b, w = self._activity(conn, db, names)
                statements += s
                builds += b
                waits += w
                idle += [h for h in idle_lock_holders(conn, db) if h.application in names]
            oobs += [o for o in self._oob(conn) if o.id in plan_oob]
            recent += self._recent(conn, run)
        recent.sort(key=lambda f: f.finished_at, reverse=True)
        return LiveRun(run, tuple(statements), tuple(builds), tuple(waits), tuple(sorted(oobs, key=lambda o: o.id)),
                       tuple(recent[:50]), read_at, tuple(idle))

    def _activity(self, conn, db: str, names: list[str]):
        rows = conn.execute(SESSIONS_SQL, [names]).fetchall()
        statements, waits = [], []
        pids = []
        for pid, app, state, query, secs, wtype, wevent, blocking in rows:
            pids.append(pid)
            role = app.split(" ")[2] if len(app.split(" ")) > 2 else "?"
            if state != "active" or "pg_stat_activity" in query or "pg_advisory" in query:
                continue  # idle between statements, or pgferry's own bookkeeping and lock polling
            wait = f"{wtype}: {wevent}" if wtype else None
            statements.append(Statement(db, pid, role, query, secs or 0.0, wait))
            if blocking:
                blockers = tuple(Session(*r) for r in conn.execute(BLOCKERS_SQL, [list(blocking)]).fetchall())
                waits.append(LockWaitNow(db, pid, query, blockers))
        builds = [IndexBuild(db, pid, index or "?", table or "?", phase or "", bd or 0, bt or 0, td or 0, tt or 0)
                  for pid, phase, bd, bt, td, tt, _ld, _lt, index, table in
                  (conn.execute(PROGRESS_SQL, [pids]).fetchall() if pids else [])]
        return statements, builds, waits

    def _oob(self, conn) -> Iterable[OobNow]:
        for r in OutOfBandStore(conn, self.bookkeeping_schema).all():
            yield OobNow(r["id"], r["description"] or "", float(r["progress"] or 0.0), bool(r["apply_reverse"]),
                         bool(r["paused"]), r["rows_per_second"], r["finished_at"] is not None,
                         int(r["error_count"] or 0), r["last_error"])

    def _recent(self, conn, run: UpgradeRun) -> list[Finished]:
        table = sql.Identifier(self.bookkeeping_schema, "migration_logs")
        if not conn.execute("SELECT to_regclass(%s) IS NOT NULL", [table.as_string(conn)]).fetchone()[0]:
            return []
        rows = conn.execute(sql.SQL(
            "SELECT schema, version, up, extract(epoch FROM finished_at - started_at)::float8, finished_at, success, manual "
            "FROM {} WHERE finished_at IS NOT NULL AND run_id = %s ORDER BY finished_at DESC LIMIT 50").format(table),
            [run.id]).fetchall()
        return [Finished(*r) for r in rows]
