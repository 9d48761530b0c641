"""What the fleet screen knows (no Textual here): where the fleet is (its inventory and coordinator),
the latest reading of its run from the coordinator's tables (engine/fleet/state.py) with each
running instance's position in its own upgrade run, and the lines drawn from it: rings in the
inventory's order, each with its counts by status, its instances failures first, narrowed by the
filter the operator types.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, Union

import psycopg

from pgferry.engine.connection import connect
from pgferry.engine.errors import PgferryError
from pgferry.engine.fleet.instance import connections
from pgferry.engine.fleet.inventory import Instance, Inventory
from pgferry.engine.fleet.state import FleetRun, FleetStore, InstanceState
from pgferry.engine.upgrade.live import LiveReader

from .data import Source

POLL_SECONDS = 1.5
RETRY_SECONDS = 30.0  # before reading the position of a running instance that did not answer again
# Failures first, then what needs a look, then what is moving, then what is done.
RANK = {"failed": 0, "interrupted": 1, "paused": 2, "running": 3, "claimed": 4, "pending": 5, "succeeded": 6,
        "skipped": 7}
ENDED_RUNS = ("finished", "superseded")


@dataclass(frozen=True)
class FleetSource:
    """The fleet the screen shows: its inventory (already checked), the coordinator's DSN, and how
    each instance's own run screen reaches it."""

    inventory: Inventory
    coordinator: str
    migrations: str | None = None
    bookkeeping_schema: str = "public"

    def secrets(self) -> list[str]:
        return [self.coordinator, *(s for i in self.inventory.instances for s in i.secrets())]

    def definitions(self):
        return self.instance_source(None).definitions()

    def instance_source(self, instance: Instance | None) -> Source:
        """A read-only Source for one instance's run screen: the fleet's coordinator runs its upgrades."""
        if instance is None:
            return Source(migrations=self.migrations, bookkeeping_schema=self.bookkeeping_schema, read_only=True)
        schemas = tuple(f"{k}={v}" for k, v in (instance.schemas or {}).items())
        return Source(migrations=self.migrations, dsn=instance.dsn, schema_dsn=schemas,
                      bookkeeping_schema=self.bookkeeping_schema, read_only=True)


@dataclass(frozen=True)
class FleetSnapshot:
    """One read of the coordinator: the fleet's latest run and its instances' rows."""

    run: FleetRun | None
    states: tuple[InstanceState, ...] = ()
    progress: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # name -> (position, total) while running
    read_at: datetime | None = None


class FleetFeed:
    """Reads the coordinator (one session kept between reads) and, for each instance shown running,
    its own upgrade_runs row through a LiveReader kept while it runs."""

    def __init__(self, source: FleetSource):
        self.source = source
        self.store: FleetStore | None = None
        self.readers: dict[str, LiveReader] = {}
        self.unreachable: dict[str, float] = {}  # instance -> when its database last failed to answer

    def read(self) -> FleetSnapshot:
        if self.store is None or self.store.conn.closed or self.store.conn.broken:
            self.store = FleetStore(connect(self.source.coordinator, role="status"))  # reads only: nothing created
        run = self.store.latest(self.source.inventory.name)
        states = tuple(self.store.states(run.id)) if run is not None else ()
        read_at = self.store.conn.execute("SELECT now()").fetchone()[0]
        return FleetSnapshot(run, states, self._progress(states), read_at)

    def _progress(self, states) -> dict[str, tuple[int, int]]:
        running = {s.name: s for s in states if s.effective_status == "running" and s.upgrade_run_id is not None}
        for name in [n for n in self.readers if n not in running]:
            self.readers.pop(name).close()
        out = {}
        now = time.monotonic()
        for name, state in running.items():
            if now - self.unreachable.get(name, -RETRY_SECONDS) < RETRY_SECONDS:
                continue  # a connect timeout per read would stall the whole screen's refresh
            reader = self.readers.get(name) or self._reader(name)
            if reader is None:
                continue
            try:
                run = reader.run(state.upgrade_run_id)
            except (PgferryError, psycopg.Error, OSError):  # unreachable now: no position, the row still shows
                self.readers.pop(name).close()
                self.unreachable[name] = now
                continue
            if run is not None:
                out[name] = (run.position, run.total)
        return out

    def _reader(self, name: str) -> LiveReader | None:
        instance = next((i for i in self.source.inventory.instances if i.name == name), None)
        if instance is None:  # in the run, since gone from the inventory
            return None
        conns = connections(self.source.definitions(), instance, self.source.bookkeeping_schema)
        reader = self.readers[name] = LiveReader(dict(conns.dsns), conns.bookkeeping_schema)
        return reader

    def close(self) -> None:
        for reader in self.readers.values():
            reader.close()
        self.readers.clear()
        if self.store is not None:
            self.store.conn.close()


# -- the lines drawn --------------------------------------------------------------------------


@dataclass(frozen=True)
class RingLine:
    ring: str
    counts: tuple[tuple[str, int], ...]  # (status, how many) of the ring's instances, failures first
    shown: int  # instances of the ring the filter lets through
    total: int

    @property
    def key(self) -> str:
        return f"ring:{self.ring}"


@dataclass(frozen=True)
class InstanceLine:
    state: InstanceState
    progress: tuple[int, int] | None = None  # (position, total) of its running upgrade

    @property
    def key(self) -> str:
        return f"instance:{self.state.name}"

    @property
    def status(self) -> str:
        return self.state.effective_status


Line = Union[RingLine, InstanceLine]


def status_counts(states) -> tuple[tuple[str, int], ...]:
    counts = Counter(s.effective_status for s in states)
    return tuple(sorted(counts.items(), key=lambda kv: RANK.get(kv[0], len(RANK))))


@dataclass
class FleetView:
    """The fleet as the screen last read it, with the operator's filter."""

    rings: tuple[str, ...]
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # instance -> its labels
    snapshot: FleetSnapshot | None = None
    filter: str = ""

    @classmethod
    def of(cls, inventory: Inventory) -> "FleetView":
        return cls(inventory.rings, {i.name: dict(i.labels) for i in inventory.instances})

    @property
    def run(self) -> FleetRun | None:
        return self.snapshot.run if self.snapshot else None

    def matches(self, state: InstanceState) -> bool:
        """The filter is a substring of the name, ring, status or a label (`key=value` too), any case."""
        needle = self.filter.strip().lower()
        if not needle:
            return True
        labels = self.labels.get(state.name, {})
        words = [state.name, state.ring, state.effective_status, *labels.values(), *(f"{k}={v}" for k, v in labels.items())]
        return any(needle in w.lower() for w in words)

    def lines(self) -> list[Line]:
        if self.snapshot is None:
            return []
        progress = self.snapshot.progress
        out: list[Line] = []
        rings = list(self.rings) + sorted({s.ring for s in self.snapshot.states} - set(self.rings))
        for ring in rings:
            mine = [s for s in self.snapshot.states if s.ring == ring]
            shown = sorted((s for s in mine if self.matches(s)),
                           key=lambda s: (RANK.get(s.effective_status, len(RANK)), s.name))
            if not mine or (self.filter.strip() and not shown):
                continue
            out.append(RingLine(ring, status_counts(mine), len(shown), len(mine)))
            out += [InstanceLine(s, progress.get(s.name)) for s in shown]
        return out

    def find(self, key: str | None) -> Line | None:
        return next((line for line in self.lines() if line.key == key), None) if key else None

    # -- what the keys may do ----------------------------------------------------------------------

    def disabled_reason(self, action: str, line: Line | None) -> str | None:
        if action == "open":
            if not isinstance(line, InstanceLine):
                return "a ring's line: choose an instance"
            if line.state.upgrade_run_id is None:
                return f"{line.state.name} has no upgrade run in this fleet run ({line.status})"
            return None
        if action in ("pause", "resume", "pause_fleet", "resume_fleet"):
            run = self.run
            if run is None:
                return "no fleet run recorded yet (pgferry fleet upgrade starts one)"
            if run.status in ENDED_RUNS:
                return f"fleet run {run.id} is {run.status}"
            whole = action.endswith("_fleet") or isinstance(line, RingLine) or line is None
            if whole:
                return self._fleet_reason(action, run)
            return self._instance_reason(action, line.state)
        return None

    @staticmethod
    def _fleet_reason(action: str, run: FleetRun) -> str | None:
        if action.startswith("pause") and run.status != "open" or action.startswith("resume") and run.status != "paused":
            return f"the fleet run is {run.status}"
        return None

    @staticmethod
    def _instance_reason(action: str, state: InstanceState) -> str | None:
        if action == "pause":
            if state.control == "pause":
                return f"{state.name}: pause already asked, honoured at its next safe point"
            if state.status not in ("pending", "claimed", "running"):
                return f"{state.name} is {state.effective_status}: nothing to pause"
        elif state.status != "paused" and state.control is None:
            return f"{state.name} is {state.effective_status}, not paused"
        return None
