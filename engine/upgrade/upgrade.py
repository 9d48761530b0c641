"""Multi-version upgrades and downgrades: plan from the live state, persist, run, resume.

Resuming needs no special path: every segment ("bring each schema to release R's leaves,
then finish R's out-of-band migrations") is computed from the database's state under the
schema lock, so a segment that already ran is a no-op. The persisted run (upgrade_runs)
records what was planned, who ran it, how far it got, and links a resumed run to the one it
continues.
"""
from __future__ import annotations

import time

import psycopg

from ..bookkeeping.runs import RunStore
from ..connection import connect, describe_target, ensure_writable, is_connection_loss, loss_reason
from ..definitions.catalog import Definitions
from ..definitions.releases import Release
from ..errors import ConnectError, ConnectionLost, OutOfBandPaused, PgferryError, RunStopped
from ..events import EventSink, MigrationFinished, Replanned, StopReached, UpgradeFinished, UpgradeStarted, discard
from ..locks import AdvisoryLock, lock_key
from ..plan.planner import Plan
from ..run.background import BackgroundOptions, BackgroundRunner, OutOfBandStore
from ..run.oobstate import lifetime_position
from ..run.progress import measure
from ..run.runner import Migrator, RunOptions
from .planning import Connections, make_plan, read_applied
from .stale import settle


def _as_connection_lost(exc: BaseException, conns: Connections, run_id: int) -> ConnectionLost | None:
    """A session lost mid-run (server restart, pg_terminate_backend, network), as one clear error (exit 1)."""
    if isinstance(exc, ConnectionLost):
        return exc
    if not is_connection_loss(exc):
        return None
    if isinstance(exc, ConnectError):
        what = f"the server stopped answering during run {run_id}: {exc.message}"
    else:
        what = f"lost the connection to {describe_target(conns.primary)} during run {run_id} ({loss_reason(exc, *conns.distinct())})"
    return ConnectionLost(f"{what}. Every step is either complete or rolled back; run the same command again to continue.")


class Upgrade:
    """Runs a plan headless. Events go to `on_event`; the engine never prints."""

    def __init__(self, defs: Definitions, conns: Connections, *, options: RunOptions = RunOptions(),
                 background: BackgroundOptions | None = None, on_event: EventSink = discard,
                 backup_dir: str | None = None):
        self.defs = defs
        self.backup_dir = backup_dir  # `--backup DIR`: dump each database the plan changes before the first change
        self.conns = conns
        self.options = options
        self.background = background or BackgroundOptions(bookkeeping_schema=conns.bookkeeping_schema)
        self.on_event = on_event
        self.backups: list[dict] = []  # the records of the dumps the last run took (upgrade_runs.backups)

    def run(self, to: str, *, downgrade: bool | None = None, channel: str = "stable",
            confirmed: Plan | None = None, check_drift: bool = False) -> tuple[Plan, int]:
        """Move to `to`. `confirmed`: the plan the operator agreed to, past gate.check_before_move;
        without one, the run plans itself and checks only privileges. Either plan runs unless the
        database moved while this run waited for the lock; a new plan is checked again under the
        lock: privileges, and drift with `check_drift` (the gate's check, made before the lock, may
        have seen another migrator's half-way state and deferred)."""
        from .runbackups import backup_before_changes

        start = time.monotonic()
        plan = confirmed
        if plan is None:
            plan = make_plan(self.defs, self.conns, to, downgrade=downgrade, channel=channel)
            self._check_privileges(plan)
        with connect(self.conns.primary, role="upgrade") as conn:
            ensure_writable(conn, self.conns.primary)
            store = RunStore(conn, self.conns.bookkeeping_schema)
            store.ensure()
            # One upgrade at a time per product: later ones wait, then find their work done.
            with AdvisoryLock(conn, lock_key(self.conns.bookkeeping_schema, "upgrade"), "upgrade",
                              poll=self.options.poll, timeout=self.options.lock_wait, on_event=self.on_event):
                plan = self._still_current(plan, to, downgrade, channel, check_drift)
                # A run a dead process left 'running' is settled first: one that did all it planned is
                # not continued, one that did not is (as interrupted).
                settle(store, self.defs, self.conns, plan.applied, self.on_event)
                # Before the run is recorded: a restore brings back the database as it was before run N.
                self.backups = backup_before_changes(plan, self.conns.dsns, self.backup_dir, self.on_event)
                previous = store.unfinished()
                run_id = store.create(plan.as_dict(), plan.direction, plan.from_version, plan.to_version,
                                      len(plan.steps), previous.id if previous else None, self.backups)
                if previous:
                    store.supersede(previous.id, run_id)
                self.on_event(UpgradeStarted(run_id, plan.direction, plan.from_label, plan.to_version, len(plan.steps),
                                             tuple(s.release.version for s in plan.stops), previous.id if previous else None))
                try:
                    if not plan.empty:
                        # Waiters that queued behind another upgrade find its work done here: they
                        # record the (empty) run and leave without a round of per-schema sessions.
                        self._execute(plan, store, run_id)
                except OutOfBandPaused as exc:
                    store.finish(run_id, "paused", exc.message)
                    self.on_event(UpgradeFinished(run_id, "paused", time.monotonic() - start, plan.to_version))
                    raise
                except RunStopped as exc:
                    store.finish(run_id, exc.status, exc.message)
                    self.on_event(UpgradeFinished(run_id, exc.status, time.monotonic() - start, plan.to_version))
                    raise
                except BaseException as exc:
                    lost = _as_connection_lost(exc, self.conns, run_id)
                    message = lost.message if lost else (
                        exc.message if isinstance(exc, PgferryError) else f"{type(exc).__name__}: {exc}")
                    if not conn.broken:
                        try:
                            store.finish(run_id, "failed", message)
                        except psycopg.Error:
                            # The server went away (a restart ends every session): the run stays
                            # 'running' with a dead backend, which reads as interrupted, and the
                            # next run continues it. The error that stopped the run is the news.
                            pass
                    if lost is not None and lost is not exc:
                        raise lost from None
                    raise
                store.finish(run_id, "succeeded")
                self.on_event(UpgradeFinished(run_id, "succeeded", time.monotonic() - start, plan.to_version))
                return plan, run_id

    def _still_current(self, plan: Plan, to: str, downgrade: bool | None, channel: str, check_drift: bool) -> Plan:
        """The plan as it stands under the lock: the same one while the applied sets are those it was
        made from, else a new plan from where another migrator left the database."""
        if read_applied(self.defs, self.conns) == plan.applied:
            return plan
        fresh = make_plan(self.defs, self.conns, to, downgrade=downgrade, channel=channel)
        self.on_event(Replanned(plan.from_label, fresh.from_label, fresh.to_version, len(fresh.steps)))
        from . import gate  # see _check_privileges

        if check_drift and fresh.direction in ("upgrade", "downgrade"):
            gate.check_drift(self.defs, self.conns, fresh)
        self._check_privileges(fresh)
        return fresh

    def _check_privileges(self, plan: Plan) -> None:
        # Imported here: the gate's reads (drift, recovery, preflight) load only when a run starts,
        # not with every command that shows this module's events.
        from .gate import check_privileges

        check_privileges(plan, self.conns, privileged_dsn=self.options.privileged_dsn)

    def _execute(self, plan: Plan, store: RunStore, run_id: int) -> None:
        from .collation import settle_collations  # the rebuilds a collation change needs come first

        settle_collations(plan, self.conns.distinct(), self.conns.bookkeeping_schema, self.on_event)
        position = 0

        def stop_if_asked(control: str | None) -> None:
            if control:
                run = store.get(run_id)
                raise RunStopped(control, run.control_by if run else None, position, len(plan.steps), plan.to_version)

        def track(event) -> None:
            nonlocal position
            if isinstance(event, MigrationFinished):
                position += 1
                control = store.progress(run_id, position, f"{event.schema} {event.migration_id}")
                self.on_event(event)
                stop_if_asked(control)  # raised between migrations: the one just finished is committed
                return
            self.on_event(event)

        up = plan.direction in ("upgrade", "install")
        segments: list[tuple[Release, tuple[int, ...], str]] = [(s.release, s.out_of_band, s.reason) for s in plan.stops]
        segments.append((self.defs.release(plan.to_version), (), f"{plan.direction} to {plan.to_version}"))
        for release, oob_ids, reason in segments:
            if oob_ids:
                self.on_event(StopReached(release.version, oob_ids, reason))
            names = list(self.defs.schemas) if up else list(reversed(list(self.defs.schemas)))
            for name in names:
                graph = self.defs.schemas[name]
                leaves = release.leaves.get(name, ())
                if up and not leaves:
                    continue
                compute = (lambda g, lv: (lambda applied: g.up(applied, lv)))(graph, leaves) if up else \
                    (lambda g, lv: (lambda applied: g.to_set(applied, lv)))(graph, leaves)
                with Migrator(self.conns.dsns[name], graph, self.options, on_event=track, run_id=run_id) as m:
                    m.run(compute)
            if not up:
                self._forget_unreached(release)
            for oid in oob_ids:
                o = self.defs.out_of_band[oid]
                stop_if_asked(store.progress(run_id, position, f"out-of-band {oid}"))
                runner = BackgroundRunner(self.conns.dsns[o.schema], o, self.background, on_event=self.on_event,
                                          stop_check=lambda: store.control(run_id) is not None)
                outcome = runner.run(reverse=not up)
                if outcome == "stopped":
                    stop_if_asked(store.control(run_id))
                if outcome == "paused":
                    raise OutOfBandPaused(
                        f"out-of-band {oid} was paused at the stop {release.version}",
                        hint=f"resume it with `pgferry oob resume {oid}`, then run the same upgrade command again")
                position += 1
        if plan.direction == "install":
            self._record_fresh_install(plan)

    def _forget_unreached(self, release: Release) -> None:
        """The schemas are at `release` now: migrations introduced after it start again from zero."""
        by_dsn: dict[str, list[int]] = {}
        for o in self.defs.out_of_band.values():
            if not lifetime_position(self.defs, o, release)[0]:
                by_dsn.setdefault(self.conns.dsns[o.schema], []).append(o.id)
        for dsn, oids in by_dsn.items():
            with connect(dsn, role="oob") as conn:
                OutOfBandStore(conn, self.conns.bookkeeping_schema).forget(oids)

    def _record_fresh_install(self, plan: Plan) -> None:
        """The out-of-band migrations an install leaves live (not run at one of its stops), recorded
        as progress.sql measures them now: done when a new install has nothing for them to rewrite,
        and otherwise at their figure, for `pgferry oob run` (a migration may seed rows)."""
        target = self.defs.release(plan.to_version)
        stopped = {oid for stop in plan.stops for oid in stop.out_of_band}
        for o in (getattr(self.defs, "out_of_band", {}) or {}).values():
            if o.id in stopped or self.defs.releases.find(o.introduced).key > target.key:
                continue
            with connect(self.conns.dsns[o.schema], role="oob") as conn:
                progress, measured, _ = measure(conn, o)
                if not measured:
                    continue  # its tables are not there: status says so, nothing to record
                store = OutOfBandStore(conn, self.conns.bookkeeping_schema)
                store.ensure()
                store.sync(o)
                store.update(o.id, progress=progress, batch_size=o.batch_size, rows=0, rate=None, reverse=False,
                             finished=progress >= 1.0)
