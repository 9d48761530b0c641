"""Multi-version upgrades and downgrades: plan from the live state, persist, run, resume.

Resuming needs no special path: every segment ("bring each schema to release R's leaves,
then finish R's out-of-band migrations") is computed from the database's state under the
schema lock, so a segment that already ran is a no-op. The persisted run (upgrade_runs)
records what was planned, who ran it, how far it got, and links a resumed run to the one it
continues.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

import psycopg

from ..bookkeeping.runs import RunStore
from ..connection import connect, describe_target, ensure_writable, is_connection_loss, loss_reason
from ..definitions.catalog import Definitions
from ..definitions.releases import Release
from ..errors import ConnectError, PgferryError, PrivilegeRequired, UsageError
from ..events import EventSink, MigrationFinished, discard
from ..locks import AdvisoryLock, lock_key
from ..plan.planner import Plan, Planner, PlanError
from ..repair.drift import refuse_unrecorded
from ..run.background import BackgroundOptions, BackgroundRunner, OutOfBandStore
from ..run.oobstate import lifetime_position, progress_for_planning, read_states
from ..run.runner import ConnectionLost, Migrator, RunOptions


@dataclass(frozen=True)
class UpgradeStarted:
    run_id: int
    direction: str
    from_label: str
    to_version: str
    steps: int
    stops: tuple[str, ...]
    resumed_from: int | None


@dataclass(frozen=True)
class StopReached:
    release: str
    out_of_band: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class UpgradeFinished:
    run_id: int
    status: str
    seconds: float
    to_version: str


class OutOfBandPaused(PgferryError):
    pass


class RunStopped(PgferryError):
    """Someone asked the run to pause or abort; it stopped at a safe point (no migration half-applied)."""

    def __init__(self, control: str, by: str | None, position: int, total: int, to_version: str):
        self.control = control
        self.status = "paused" if control == "pause" else "aborted"
        verb = "paused" if control == "pause" else "aborted"
        super().__init__(
            f"upgrade {verb} at step {position}/{total} as {by or 'someone'} asked; every step so far is complete "
            "and nothing is half-applied",
            hint=f"run the same upgrade to {to_version} again to continue" if control == "pause"
            else "the database is between releases: pick a target and run again to finish or go back")


@dataclass(frozen=True)
class Connections:
    """Which database each schema lives in; the first schema's database is the primary one."""

    dsns: Mapping[str, str]
    bookkeeping_schema: str = "public"

    @property
    def primary(self) -> str:
        return next(iter(self.dsns.values()))

    def distinct(self) -> list[str]:
        return list(dict.fromkeys(self.dsns.values()))


def read_applied(defs: Definitions, conns: Connections) -> dict[str, frozenset[int]]:
    from ..bookkeeping.status import read_status

    status = read_status(defs, conns.dsns, conns.bookkeeping_schema)
    return {s.name: s.state.applied for s in status.schemas}


def read_oob_progress(defs: Definitions, conns: Connections, applied: Mapping[str, frozenset[int]]) -> dict[int, float | None]:
    """Each out-of-band migration's progress, measured on the live data (oobstate.py): None while
    the database has not reached the release that introduces it."""
    if not getattr(defs, "out_of_band", None):
        return {}
    return progress_for_planning(read_states(defs, conns.dsns, defs.version_of(applied), conns.bookkeeping_schema))


def server_version(dsn: str) -> str:
    with connect(dsn, role="status") as conn:
        v = conn.info.server_version
    return f"{v // 10000}.{v % 10000}"


def check_server(release: Release, version: str) -> None:
    if not release.supports_server(version):
        raise PlanError(
            f"release {release.version} supports PostgreSQL {release.postgres}; the server runs {version}",
            hint="upgrade the PostgreSQL server first, or pick a release that supports it")


def resolve_target(defs: Definitions, to: str, channel: str = "stable") -> Release:
    if to == "latest":
        r = defs.releases.latest(channel)
        if r is None:
            raise UsageError("no release to upgrade to", hint="releases.yaml lists none that is not pulled")
        return r
    r = defs.release(to)
    if r.channel != "stable" and r.channel != channel:
        raise UsageError(f"release {r.version} is on the {r.channel} channel", hint=f"add --channel {r.channel}")
    return r


def make_plan(defs: Definitions, conns: Connections, to: str, *, downgrade: bool | None = None,
              channel: str = "stable") -> Plan:
    """downgrade: True only down, False only up, None either way."""
    target = resolve_target(defs, to, channel)
    check_server(target, server_version(conns.primary))
    applied = read_applied(defs, conns)
    if not any(applied.values()):
        # Nothing applied: an empty database, or one whose bookkeeping is elsewhere (exit 5).
        refuse_unrecorded(defs, conns.dsns, conns.bookkeeping_schema)
    progress = read_oob_progress(defs, conns, applied)
    plan = Planner(defs).plan(applied, target.version, progress=progress,
                              allow_downgrade=downgrade is not False, allow_upgrade=downgrade is not True)
    from .collation import with_collation_repairs  # imported here: keeps the hunk off the import block

    return with_collation_repairs(plan, conns.distinct(), conns.bookkeeping_schema)


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
                 background: BackgroundOptions | None = None, on_event: EventSink = discard):
        self.defs = defs
        self.conns = conns
        self.options = options
        self.background = background or BackgroundOptions(bookkeeping_schema=conns.bookkeeping_schema)
        self.on_event = on_event

    def check_privileges(self, plan: Plan) -> None:
        """Stop before touching anything when a privileged step needs someone else (exit 3)."""
        if self.options.privileged_dsn:
            return
        from ..privileges.privileges import build_bundle, describe_items, needs_someone_else

        bundle = build_bundle(plan, dict(self.conns.dsns))
        pending = needs_someone_else(bundle, dict(self.conns.dsns), self.conns.bookkeeping_schema) \
            if not bundle.empty else []
        if not pending:
            return
        verb = "downgrade" if plan.direction == "downgrade" else "upgrade"
        if plan.direction == "downgrade":
            hint = (f"Re-run with --superuser-dsn so pgferry runs just those steps as a superuser at the right "
                    f"moment; `pgferry privileged --to {plan.to_version} --allow-downgrade` shows them.")
        else:
            hint = (f"Hand `pgferry privileged --to {plan.to_version} --out privileged.sql` to a DBA to run as a "
                    f"superuser, then run `pgferry privileged verify --to {plan.to_version}` and this {verb} again "
                    "(or pass --superuser-dsn to let pgferry run just those steps).")
        raise PrivilegeRequired(
            f"This {verb} has {len(pending)} privileged step(s) that role {bundle.role} cannot run: "
            f"{describe_items(pending)}. Nothing was changed.", hint=hint)

    def run(self, to: str, *, downgrade: bool | None = None, channel: str = "stable") -> tuple[Plan, int]:
        start = time.monotonic()
        self.check_privileges(make_plan(self.defs, self.conns, to, downgrade=downgrade, channel=channel))
        with connect(self.conns.primary, role="upgrade") as conn:
            ensure_writable(conn, self.conns.primary)
            store = RunStore(conn, self.conns.bookkeeping_schema)
            store.ensure()
            # One upgrade at a time per product: later ones wait, then find their work done.
            with AdvisoryLock(conn, lock_key(self.conns.bookkeeping_schema, "upgrade"), "upgrade",
                              poll=self.options.poll, timeout=self.options.lock_wait, on_event=self.on_event):
                plan = make_plan(self.defs, self.conns, to, downgrade=downgrade, channel=channel)
                previous = store.unfinished()
                run_id = store.create(plan.as_dict(), plan.direction, plan.from_version, plan.to_version,
                                      len(plan.steps), previous.id if previous else None)
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
            self._record_fresh_install(self.defs.release(plan.to_version))

    def _forget_unreached(self, release: Release) -> None:
        """The schemas are at `release` now: migrations introduced after it start again from zero."""
        by_dsn: dict[str, list[int]] = {}
        for o in self.defs.out_of_band.values():
            if not lifetime_position(self.defs, o, release)[0]:
                by_dsn.setdefault(self.conns.dsns[o.schema], []).append(o.id)
        for dsn, oids in by_dsn.items():
            with connect(dsn, role="oob") as conn:
                OutOfBandStore(conn, self.conns.bookkeeping_schema).forget(oids)

    def _record_fresh_install(self, target: Release) -> None:
        """A fresh install has no old data to rewrite: record its live out-of-band migrations as done."""
        oobs = getattr(self.defs, "out_of_band", {}) or {}
        for o in oobs.values():
            if self.defs.releases.find(o.introduced).key > target.key:
                continue
            with connect(self.conns.dsns[o.schema], role="oob") as conn:
                store = OutOfBandStore(conn, self.conns.bookkeeping_schema)
                store.ensure()
                store.sync(o)
                store.update(o.id, progress=1.0, batch_size=o.batch_size, rows=0, rate=None, reverse=False, finished=True)
