"""A fleet upgrade, ring by ring (issue 18).

Within a ring, up to max_parallel instances at once, each upgraded by the engine's own Upgrade
with its own connections, in a thread of this process: an instance's upgrade waits on its
databases, not on Python, and threads share one copy of the definitions where a process per
instance would start an interpreter and load them again each time. The coordinator database
(state.py) records every claim and result, so threads, processes and machines all coordinate
the same way.

After a ring: readiness (check --release) and preflight on each upgraded instance of it; then the
fleet halts when its failed instances reach halt_after_failures, else it bakes (waits) before the
next ring. Every coordinator of the run computes the same bake end (the ring's last finish plus the
bake time), so several of them wait together without agreeing on anything else. Pausing is read
between instances (the fleet) or passed to the instance's upgrade, which stops between migrations.
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

from ..definitions.catalog import Definitions
from ..run.runner import RunOptions
from ..events import Baking, FleetJoined, FleetStopped, InstanceClaimed, InstanceFinished, RingStarted, RingVerified
from .instance import Outcome, upgrade_instance, verify_instance
from .inventory import Instance, Inventory
from .state import FleetRun, FleetStore, InstanceState
from .survey import each_instance


@dataclass(frozen=True)
class FleetOptions:
    to: str  # a release version (resolved: not 'latest')
    ring: str | None = None
    selectors: dict = field(default_factory=dict)
    bake_seconds: float | None = None  # overrides the inventory's bake_minutes (tests, a hurried operator)
    run: RunOptions = RunOptions()
    poll: float = 0.2  # how often to look for work another coordinator holds, and during the bake


@dataclass(frozen=True)
class FleetResult:
    run: FleetRun
    states: tuple[InstanceState, ...]
    selected: tuple[str, ...]
    stopped: str | None  # why this coordinator stopped early (halted, paused), None when it went through

    @property
    def ok(self) -> bool:
        mine = [s for s in self.states if s.name in self.selected]
        return self.stopped is None and all(s.status in ("succeeded", "skipped") for s in mine)


class Coordinator:
    def __init__(self, defs: Definitions, inventory: Inventory, store: FleetStore, options: FleetOptions,
                 on_event: Callable = lambda e: None):
        self.defs, self.inventory, self.store, self.options = defs, inventory, store, options
        self.on_event = on_event
        self.selected = inventory.select(options.ring, options.selectors)
        self.by_name = {i.name: i for i in self.selected}
        self.run_id = 0

    def run(self) -> FleetResult:
        run, how = self.store.join(self.inventory, self.options.to)
        self.run_id = run.id
        self.on_event(FleetJoined(run.id, self.inventory.name, run.to_version, how))
        rings = [r for r in self.inventory.rings if any(i.ring == r for i in self.selected)]
        stopped = None
        for n, ring in enumerate(rings):
            stopped = self._ring(ring)
            if stopped:
                break
            self._verify(ring)
            stopped = self._halt_if_failed(ring)
            if stopped or n == len(rings) - 1:
                break
            stopped = self._bake(ring)
            if stopped:
                break
        if stopped is None:
            states = self.store.states(run.id)
            if all(s.status in ("succeeded", "skipped") for s in states):
                self.store.finish(run.id)
        else:
            self.on_event(FleetStopped(self.store.get(run.id).status, stopped))
        return FleetResult(self.store.get(run.id), tuple(self.store.states(run.id)), tuple(self.by_name), stopped)

    def _stopped(self) -> str | None:
        run = self.store.get(self.run_id)
        return None if run.status in ("open", "finished") else (run.reason or run.status)

    def _ring(self, ring: str) -> str | None:
        names = [i.name for i in self.selected if i.ring == ring]
        self.on_event(RingStarted(ring, len(names)))
        running: dict[Future, str] = {}
        with ThreadPoolExecutor(self.inventory.defaults.max_parallel, thread_name_prefix=f"fleet-{ring}") as pool:
            while True:
                stopped = self._stopped()
                name = None
                while not stopped and len(running) < self.inventory.defaults.max_parallel:
                    name = self.store.claim(self.run_id, ring, names)
                    if name is None:
                        break
                    self.on_event(InstanceClaimed(name, ring))
                    running[pool.submit(self._upgrade, self.by_name[name])] = name
                if not running:
                    if stopped or not self.store.ring_busy(self.run_id, ring, names):
                        return stopped
                    time.sleep(self.options.poll)  # another coordinator holds the rest of the ring
                    continue
                done, _ = wait(running, timeout=self.options.poll, return_when=FIRST_COMPLETED)
                for future in done:
                    del running[future]
                    future.result()  # _upgrade reports everything; this re-raises only a bug

    def _upgrade(self, instance: Instance) -> None:
        run_id, name = self.run_id, instance.name
        start = time.monotonic()
        self.store.started(run_id, name)
        outcome = upgrade_instance(
            self.defs, instance, self.options.to, self.options.run,
            on_started=lambda at: self.store.mine(run_id, name, from_version=at),
            on_run=lambda upgrade_run_id: self.store.upgrade_run(run_id, name, upgrade_run_id),
            pause_asked=lambda: self.store.control(run_id, name) == "pause")
        self.store.ended(run_id, name, outcome.status, outcome.reason, outcome.from_version, outcome.reached)
        self._report(instance, outcome, time.monotonic() - start)

    def _report(self, instance: Instance, outcome: Outcome, seconds: float) -> None:
        self.on_event(InstanceFinished(instance.name, instance.ring, outcome.status, outcome.from_version,
                                       outcome.reached, seconds, outcome.reason))

    def _verify(self, ring: str) -> None:
        """Readiness and preflight on every instance of the ring this run upgraded and nobody has checked."""
        todo = [s for s in self.store.states(self.run_id)
                if s.ring == ring and s.name in self.by_name and s.status == "succeeded" and s.verified_at is None]
        verdicts = each_instance([self.by_name[s.name] for s in todo], lambda i: verify_instance(
            self.defs, i, self.options.to, self.options.run.bookkeeping_schema), self.inventory.defaults.max_parallel)
        for state, failure in zip(todo, verdicts):
            self.store.verified(self.run_id, state.name, failure)
        failures = tuple(f"{s.name}: {f}" for s, f in zip(todo, verdicts) if f)
        self.on_event(RingVerified(ring, len(todo), failures))

    def _halt_if_failed(self, ring: str) -> str | None:
        limit = self.inventory.defaults.halt_after_failures
        failed = [s for s in self.store.states(self.run_id) if s.status == "failed"]
        if len(failed) < limit:
            return self._stopped()
        first = failed[0]
        reason = (f"halted after ring {ring}: {len(failed)} failed instance(s) reached halt_after_failures {limit}; "
                  f"first: {first.name} ({first.ring}): {first.reason or 'no message'}")
        self.store.halt(self.run_id, reason)  # False when another coordinator halted it first: same verdict
        return self._stopped() or reason

    def _bake(self, ring: str) -> str | None:
        """Wait the bake time after the ring's last finish (every coordinator waits for the same
        moment, on the coordinator server's clock), unless the ring changed nothing."""
        seconds = self.options.bake_seconds
        if seconds is None:
            seconds = self.inventory.defaults.bake_minutes * 60
        changed = [s for s in self.store.states(self.run_id)
                   if s.ring == ring and s.status == "succeeded" and s.from_version != s.reached_version]
        if not changed or seconds <= 0:
            return None
        left = self.store.bake_left(self.run_id, ring, seconds)
        if left > 0:
            self.on_event(Baking(ring, left))
        while left > 0:
            stopped = self._stopped()
            if stopped:
                return stopped
            time.sleep(min(self.options.poll, left))
            left = self.store.bake_left(self.run_id, ring, seconds)
        return self._stopped()
