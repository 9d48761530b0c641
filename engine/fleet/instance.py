"""One instance of a fleet: its upgrade, as `pgferry upgrade --yes` runs it, and its checks after its
ring. Every failure becomes one line for the fleet's tracking (passwords removed), never an
exception: one instance failing is news for the coordinator, not the end of it."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import psycopg

from ..bookkeeping.runs import RunStore
from ..connection import connect, scrub
from ..definitions.catalog import Definitions
from ..errors import PgferryError, RunStopped, server_message
from ..events import UpgradeStarted, discard
from ..run.readiness import read_readiness
from ..run.runner import RunOptions
from ..upgrade.gate import check_before_move
from ..upgrade.planning import Connections, make_plan
from ..upgrade.preflight import preflight_failures, preflight_plan
from ..upgrade.stale import settle_stale_run
from ..upgrade.upgrade import Upgrade
from .inventory import Instance


@dataclass(frozen=True)
class Outcome:
    status: str  # succeeded | failed | paused
    from_version: str | None
    reached: str | None
    reason: str | None  # the failure's first line, why it paused, a no-op's note


def connections(defs: Definitions, instance: Instance, bookkeeping_schema: str = "public") -> Connections:
    return Connections(instance.dsns(defs.schemas), bookkeeping_schema)


def first_line(exc: BaseException, instance: Instance) -> str:
    """The error's first line, with the instance's passwords removed."""
    if isinstance(exc, PgferryError):
        text = exc.message
    elif isinstance(exc, psycopg.Error):
        text = server_message(exc).with_state()
    else:
        text = f"{type(exc).__name__}: {exc}"
    return scrub((text.strip().splitlines() or [type(exc).__name__])[0], *instance.secrets())


def ask_pause(conns: Connections, upgrade_run_id: int, by: str) -> bool:
    """Ask the instance's running upgrade to pause at its next safe point (between migrations)."""
    with connect(conns.primary, role="status") as conn:
        return RunStore(conn, conns.bookkeeping_schema).request(upgrade_run_id, "pause", by)


def upgrade_instance(defs: Definitions, instance: Instance, to: str, options: RunOptions, *,
                     on_started: Callable[[str], None], on_run: Callable[[int], None],
                     pause_asked: Callable[[], bool]) -> Outcome:
    """Plan from where the instance stands, check as `upgrade` checks (drift, preflight, privileged
    steps: the instance's superuser DSN, when the inventory names one, runs them) and run."""
    conns = connections(defs, instance, options.bookkeeping_schema)
    superuser = instance.superuser_dsn() or options.privileged_dsn
    start = None
    try:
        plan = make_plan(defs, conns, to, downgrade=False)
        start = plan.from_label
        if plan.empty:
            settled = settle_stale_run(defs, conns, plan.applied, discard)  # as `upgrade` does (upgrade/stale.py)
            note = f"; run {settled.id} left running by a dead process settled as {settled.status}" if settled else ""
            return Outcome("succeeded", start, plan.to_version, f"already at {plan.to_version}: nothing to do{note}")
        on_started(start)
        check_before_move(defs, conns, plan, privileged_dsn=superuser)
        if pause_asked():
            return Outcome("paused", start, None, "paused before its upgrade started")

        def sink(event) -> None:
            if isinstance(event, UpgradeStarted):
                on_run(event.run_id)
                if pause_asked():  # asked while the run was starting: pass it on
                    ask_pause(conns, event.run_id, "fleet pause")

        run = Upgrade(defs, conns, options=replace(options, privileged_dsn=superuser), on_event=sink)
        done, _ = run.run(to, downgrade=False, confirmed=plan, check_drift=True)
        return Outcome("succeeded", start, done.to_version, None)
    except RunStopped as exc:
        return Outcome("paused", start, None, first_line(exc, instance))
    except Exception as exc:  # noqa: BLE001 - every failure is this instance's, reported on its row
        return Outcome("failed", start, None, first_line(exc, instance))


def verify_instance(defs: Definitions, instance: Instance, to: str, bookkeeping_schema: str = "public") -> str | None:
    """After its ring: can the application of `to` run (check --release), and does preflight pass?
    None when both hold, else the first reason on one line."""
    conns = connections(defs, instance, bookkeeping_schema)
    try:
        release = defs.release(to)
        readiness = read_readiness(defs, release, conns.dsns, bookkeeping_schema)
        if not readiness.ok:
            return f"not ready for {release.version} after its upgrade ({readiness.case}; `pgferry check --release {release.version}`)"
        failed = preflight_failures(defs, conns, preflight_plan(defs, conns, release.version))
        if failed:
            return f"preflight after its upgrade: {failed[0].name}: {failed[0].reason}"
    except Exception as exc:  # noqa: BLE001 - an instance that cannot be checked is not ready
        return f"cannot check readiness: {first_line(exc, instance)}"
    return None
