"""A run whose process died while its row still said 'running' (a kill, a crash, a lost SSH
session): settled by the next upgrade or downgrade, whatever that command finds to do.

A process can die at any instant, including after its last step committed and before
RunStore.finish. What the run achieved is in migration_logs and the out-of-band tables, not in its
row: every step it planned recorded done reads as succeeded (with a note saying its process ended
before recording the end), anything less as interrupted, which the next run to that release
continues. A run whose backend is alive (another migrator right now) is never touched; the
update itself checks that (RunStore.settle), so a run that starts meanwhile is not either.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import psycopg

from ..bookkeeping.runs import RunStore, UpgradeRun
from ..connection import Connections, connect
from ..definitions.catalog import Definitions
from ..events import EventSink, StaleRunSettled
from ..locks import AdvisoryLock, lock_key


@dataclass(frozen=True)
class Outcome:
    status: str  # succeeded | interrupted
    note: str


def stale_run(store: RunStore) -> UpgradeRun | None:
    """The latest unfinished run when it says 'running' and its backend is gone."""
    run = store.unfinished()
    return run if run is not None and run.status == "running" and not run.alive else None


def outcome(run: UpgradeRun, applied: Mapping[str, frozenset[int]], oob_progress: Mapping[int, float | None]) -> Outcome:
    """What the dead run achieved, from what the database records now."""
    steps = (run.plan or {}).get("steps", [])
    done = all(_step_done(s, applied, oob_progress) for s in steps)
    if done:
        return Outcome("succeeded", "its process ended before recording the end of the run; "
                                    "every step it planned is recorded done")
    return Outcome("interrupted", f"its process ended at step {run.position}/{run.total} without recording why "
                                  "(killed, crashed or disconnected)")


def _step_done(step: dict, applied: Mapping[str, frozenset[int]], oob_progress: Mapping[int, float | None]) -> bool:
    up = step.get("direction", "up") == "up"
    if step.get("kind") == "schema":
        return (step["id"] in applied.get(step["schema"], frozenset())) == up
    progress = oob_progress.get(step["id"])
    # run to the end on the way up; undone (or out of reach again) on the way down
    return (progress is not None and progress >= 1.0) if up else not progress


def settle(store: RunStore, defs: Definitions, conns: Connections, applied: Mapping[str, frozenset[int]],
           on_event: EventSink) -> UpgradeRun | None:
    """Settle the stale run, if any, and tell the operator (once: a settled run is no longer 'running').
    The caller holds the upgrade lock, so no other pgferry moves the database while this reads it."""
    run = stale_run(store)
    if run is None:
        return None
    steps = (run.plan or {}).get("steps", [])
    progress: Mapping[int, float | None] = {}
    if any(s.get("kind") == "out_of_band" for s in steps):
        from .planning import read_oob_progress

        progress = read_oob_progress(defs, conns, applied)
    found = outcome(run, applied, progress)
    if not store.settle(run.id, found.status, found.note):
        return None  # its backend came back to life, or another command settled it first
    on_event(StaleRunSettled(run.id, found.status, found.note, run.to_version))
    return store.get(run.id)


def settle_stale_run(defs: Definitions, conns: Connections, applied: Mapping[str, frozenset[int]],
                     on_event: EventSink) -> UpgradeRun | None:
    """For a command that found nothing to do: settle a run left 'running' by a dead process.
    Reads and writes nothing when there is none; leaves it to the holder when another upgrade
    holds the lock (that one settles it), and to a writable server when this one is a standby."""
    with connect(conns.primary, role="upgrade") as conn:
        store = RunStore(conn, conns.bookkeeping_schema)
        if not store.exists() or stale_run(store) is None:
            return None
        if conn.execute("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::bool").fetchone()[0]:
            return None
        lock = AdvisoryLock(conn, lock_key(conns.bookkeeping_schema, "upgrade"), "upgrade")
        if not lock.try_acquire():
            return None
        try:
            return settle(store, defs, conns, applied, on_event)
        except psycopg.Error:
            return None  # a run that cannot be settled now still reads as interrupted; the next command tries again
        finally:
            lock.release()
