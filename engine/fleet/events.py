"""What a fleet coordinator reports as it goes (the command line prints them; the engine never prints)."""
from __future__ import annotations

from dataclasses import dataclass


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
