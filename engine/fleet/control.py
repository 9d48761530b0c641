"""Pausing and resuming a fleet run, or one instance of it: what `pgferry fleet pause|resume` and the
terminal UI's fleet screen both ask of the coordinator. Each returns the sentence that says what
happened (nothing here prints)."""
from __future__ import annotations

from ..definitions.catalog import Definitions
from .instance import ask_pause, connections
from .inventory import Instance
from .state import FleetRun, FleetStore


def pause_fleet(store: FleetStore, run: FleetRun, by: str) -> str:
    if store.pause_run(run.id, by):
        return f"fleet run {run.id} paused: no instance starts from now; running ones finish"
    return f"fleet run {run.id} is {run.status}, not running: nothing to pause"


def resume_fleet(store: FleetStore, run: FleetRun) -> str:
    if store.resume_run(run.id):
        return f"fleet run {run.id} resumed: `pgferry fleet upgrade --to {run.to_version}` carries on"
    return f"fleet run {run.id} is {run.status}, not paused"


def pause_one(store: FleetStore, run: FleetRun, instance: Instance, by: str, defs: Definitions,
              bookkeeping_schema: str = "public") -> str:
    """A pending instance is not started; a running one is asked (in its own upgrade_runs) to stop
    at its next safe point, between migrations."""
    before = store.pause_instance(run.id, instance.name, by)
    state = next(s for s in store.states(run.id) if s.name == instance.name)
    if before == "running" and state.upgrade_run_id is not None:
        ask_pause(connections(defs, instance, bookkeeping_schema), state.upgrade_run_id, by)
    if before is None:
        return f"{instance.name} is {state.status}: nothing to pause"
    if before == "pending":
        return f"{instance.name} paused: the fleet will not start it"
    return f"{instance.name} is {before}: asked to pause at its next safe point (between migrations)"


def resume_one(store: FleetStore, run: FleetRun, instance: Instance) -> str:
    return f"{instance.name} resumed" if store.resume_instance(run.id, instance.name) else f"{instance.name} is not paused"
