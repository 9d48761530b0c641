"""Typed events the runner emits; a CLI or a UI renders them. The engine never prints."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

from .sessions import Session, build_fraction


@dataclass(frozen=True)
class RunStarted:
    schema: str
    steps: int
    database: str


@dataclass(frozen=True)
class WaitingForLock:
    """Another migrator holds the schema's lock; we poll until it is free."""

    schema: str
    holder: Session | None
    waited_seconds: float


@dataclass(frozen=True)
class LockAcquired:
    schema: str
    waited_seconds: float


@dataclass(frozen=True)
class MigrationStarted:
    schema: str
    migration_id: int
    name: str
    up: bool
    index: int  # 1-based position in this run
    total: int
    concurrent_index: bool = False
    attempt: int = 1


@dataclass(frozen=True)
class StatementStarted:
    schema: str
    migration_id: int
    line: int
    number: int  # 1-based statement number in the file
    count: int
    text: str


@dataclass(frozen=True)
class LockWait:
    """A statement is waiting on a lock held by these sessions."""

    schema: str
    migration_id: int
    line: int
    blockers: tuple[Session, ...]
    waited_seconds: float


@dataclass(frozen=True)
class LockRetry:
    """lock_timeout expired; the migration was rolled back and will be retried."""

    schema: str
    migration_id: int
    attempt: int
    attempts: int
    delay_seconds: float
    blockers: tuple[Session, ...] = ()


@dataclass(frozen=True)
class IndexProgress:
    schema: str
    migration_id: int
    index: str
    phase: str
    blocks_done: int = 0
    blocks_total: int = 0
    tuples_done: int = 0
    tuples_total: int = 0
    lockers_done: int = 0
    lockers_total: int = 0
    builder_pid: int | None = None

    @property
    def fraction(self) -> float | None:
        return build_fraction(self.blocks_done, self.blocks_total, self.tuples_done, self.tuples_total)


@dataclass(frozen=True)
class IndexRepaired:
    """An invalid index left by an interrupted build was dropped before rebuilding."""

    schema: str
    migration_id: int
    index: str
    sql: str


# Collation version changes (issue 15 §4): the rebuilds a plan runs before its schema steps.
@dataclass(frozen=True)
class IndexRebuilt:
    database: str
    index: str
    table: str
    seconds: float


@dataclass(frozen=True)
class CollationRefreshSkipped:
    """The rebuild is recorded by pgferry, but the server's version record stays stale: only the
    owner of the database or collation may refresh it."""

    statement: str


@dataclass(frozen=True)
class WaitingForBuild:
    """Another live backend is building this migration's index; we wait for it."""

    schema: str
    migration_id: int
    index: str
    builder_pid: int


@dataclass(frozen=True)
class StaleAttempt:
    """A pending attempt row whose backend is gone: resolved from the catalog, not 'dirty'."""

    schema: str
    migration_id: int
    backend_pid: int | None
    resolution: str


@dataclass(frozen=True)
class Retrying:
    """The last attempt of this migration failed and rolled back; trying it again."""

    schema: str
    migration_id: int
    previous_error: str


@dataclass(frozen=True)
class MigrationFinished:
    schema: str
    migration_id: int
    up: bool
    seconds: float
    backfilled: tuple[int, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class MigrationFailedEvent:
    schema: str
    migration_id: int
    up: bool
    message: str
    line: int | None = None


@dataclass(frozen=True)
class RunInterrupted:
    """Ctrl-C stopped a run with migrations on the server, which the events before may lag: what
    became of each (id, name, up), an unanswered COMMIT read back from migration_logs."""

    schema: str
    committed: tuple[tuple[int, str, bool], ...] = ()
    rolled_back: tuple[tuple[int, str, bool], ...] = ()
    unknown: tuple[tuple[int, str, bool], ...] = ()  # its COMMIT had been sent; the database could not be asked


@dataclass(frozen=True)
class RunFinished:
    schema: str
    applied: int
    reverted: int
    seconds: float


# Out-of-band (background) migrations: background.py

@dataclass(frozen=True)
class OobStarted:
    migration_id: int
    description: str
    reverse: bool
    progress: float
    batch_size: int


@dataclass(frozen=True)
class OobProgress:
    migration_id: int
    progress: float
    reverse: bool
    batch_rows: int
    batch_size: int
    batch_seconds: float
    rows_per_second: float
    eta_seconds: float | None
    rows_done: int


@dataclass(frozen=True)
class OobBatchFailed:
    migration_id: int
    message: str
    sqlstate: str | None
    consecutive: int


@dataclass(frozen=True)
class OobPaused:
    migration_id: int
    progress: float


@dataclass(frozen=True)
class OobFinished:
    migration_id: int
    progress: float
    reverse: bool
    seconds: float
    rows_done: int


# Multi-version upgrades: upgrade.py

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


@dataclass(frozen=True)
class Replanned:
    """Another migrator moved the database between the plan the operator confirmed and the lock:
    the run follows a new plan from where the database stands now."""

    confirmed_from: str
    now_from: str
    to_version: str
    steps: int


@dataclass(frozen=True)
class StaleRunSettled:
    """A run left 'running' by a process that died (upgrade/stale.py), settled from what the
    database records: succeeded or interrupted, with the note stored in its error column."""

    run_id: int
    status: str
    note: str
    to_version: str


# Backups tied to runs (issue 15 §5): `upgrade --backup DIR` dumped a database before the run changed it.
@dataclass(frozen=True)
class BackupTaken:
    database: str
    path: str
    bytes: int
    seconds: float


# Fleet upgrades (engine/fleet/): what a coordinator reports as it goes.


@dataclass(frozen=True)
class FleetJoined:
    run_id: int
    fleet: str
    to_version: str
    how: str  # started | joined | resumed


@dataclass(frozen=True)
class RingStarted:
    ring: str
    instances: int  # of this coordinator's selection


@dataclass(frozen=True)
class InstanceClaimed:
    name: str
    ring: str


@dataclass(frozen=True)
class InstanceFinished:
    name: str
    ring: str
    status: str  # succeeded | failed | paused
    from_version: str | None
    to_version: str | None
    seconds: float
    reason: str | None  # a failure's first line, why it paused, or a no-op's note


@dataclass(frozen=True)
class RingVerified:
    """Readiness (check --release) and preflight on every upgraded instance of the ring."""

    ring: str
    checked: int
    failures: tuple[str, ...]  # "name: why", one per instance that is not ready


@dataclass(frozen=True)
class Baking:
    ring: str
    seconds: float


@dataclass(frozen=True)
class FleetStopped:
    """The coordinator stopped before the end: the fleet halted or was paused (by it or another)."""

    status: str  # halted | paused
    reason: str


# PostgreSQL major upgrade of the product's own server (issue 17): each step, and the programs' output.
@dataclass(frozen=True)
class ServerStep:
    step: str  # engine/server/state.py STEPS
    status: str  # started | done | skipped
    detail: str = ""


@dataclass(frozen=True)
class ServerOutput:
    """A line of pg_upgrade's or vacuumdb's output, as it comes."""

    step: str
    line: str


Event = Union[
    RunStarted, WaitingForLock, LockAcquired, MigrationStarted, StatementStarted, LockWait, LockRetry,
    IndexProgress, IndexRepaired, IndexRebuilt, CollationRefreshSkipped, WaitingForBuild, StaleAttempt,
    Retrying, MigrationFinished,
    MigrationFailedEvent, RunFinished, RunInterrupted,
    OobStarted, OobProgress, OobBatchFailed, OobPaused, OobFinished,
    UpgradeStarted, StopReached, Replanned, StaleRunSettled, UpgradeFinished, BackupTaken,
    FleetJoined, RingStarted, InstanceClaimed, InstanceFinished, RingVerified, Baking, FleetStopped,
    ServerStep, ServerOutput,
]
EventSink = Callable[[Event], None]


def discard(_: Event) -> None:
    pass


@dataclass
class Collector:
    """An event sink that keeps everything (tests and transcripts)."""

    events: list = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

