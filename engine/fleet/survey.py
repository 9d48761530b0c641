"""Reading a whole fleet: where each instance stands (`fleet status`) and what each would do to
reach a release (`fleet plan`). Read-only; instances are read several at a time, and one that
cannot be read is an answer about that instance ("unreachable", "cannot go"), not an error."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, TypeVar

from ..bookkeeping.runs import RunStore
from ..connection import Sessions
from ..definitions.catalog import Definitions
from ..errors import ConnectError
from ..plan.planner import Plan
from ..privileges.privileges import Bundle
from ..upgrade.gate import waiting_for_someone_else
from ..upgrade.planning import make_plan
from ..upgrade.standing import read_standing
from .instance import connections, first_line
from .inventory import Instance

T = TypeVar("T")


def each_instance(instances: Iterable[Instance], read: Callable[[Instance], T], workers: int) -> list[T]:
    """`read` of every instance, `workers` at a time, in the instances' order."""
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="fleet-read") as pool:
        return list(pool.map(read, instances))


@dataclass(frozen=True)
class InstanceStanding:
    instance: Instance
    version: str | None = None  # the database version's label: a release, or one between releases
    release: str | None = None  # the release it is exactly at, if any
    dirty: bool = False
    needs_recovery: bool = False
    running: str | None = None  # its upgrade in progress, as its upgrade_runs says
    problem: str | None = None  # why it could not be read: unreachable, refused, unrecorded
    unreachable: bool = False

    @property
    def group(self) -> str:
        return "unreachable" if self.unreachable else "unreadable" if self.problem else self.release or self.version or "none"

    def as_dict(self) -> dict:
        return {"name": self.instance.name, "ring": self.instance.ring, "labels": dict(self.instance.labels),
                "paused": self.instance.paused, "version": self.version, "release": self.release, "dirty": self.dirty,
                "needs_recovery": self.needs_recovery, "running": self.running, "reachable": not self.unreachable,
                "problem": self.problem}


def read_instance(defs: Definitions, instance: Instance, bookkeeping_schema: str = "public") -> InstanceStanding:
    conns = connections(defs, instance, bookkeeping_schema)
    try:
        with Sessions() as sessions:
            standing = read_standing(defs, conns, sessions=sessions)
            standing.refuse_unrecorded()
            run = RunStore(sessions(conns.primary), bookkeeping_schema).unfinished()
    except ConnectError as exc:
        return InstanceStanding(instance, problem=first_line(exc, instance), unreachable=True)
    except Exception as exc:  # noqa: BLE001 - said on this instance's line
        return InstanceStanding(instance, problem=first_line(exc, instance))
    status = standing.status
    running = None
    if run is not None and run.effective_status in ("running", "interrupted", "paused"):
        running = f"upgrade run {run.id} to {run.to_version} {run.effective_status} at step {run.position}/{run.total}"
    return InstanceStanding(instance, status.version.label, status.version.release.version if status.version.release else None,
                            status.dirty, status.needs_recovery, running)


@dataclass(frozen=True)
class InstancePlan:
    instance: Instance
    plan: Plan | None = None
    privileged: Bundle | None = None  # the steps its role cannot run, for a DBA (None: no such step)
    blocker: str | None = None  # why it cannot go

    @property
    def can_go(self) -> bool:
        return self.blocker is None

    def as_dict(self) -> dict:
        return {"name": self.instance.name, "ring": self.instance.ring, "can_go": self.can_go, "blocker": self.blocker,
                "from": self.plan.from_label if self.plan else None, "to": self.plan.to_version if self.plan else None,
                "steps": len(self.plan.steps) if self.plan else 0,
                "privileged": self.privileged.as_dict() if self.privileged else None}


def plan_instance(defs: Definitions, instance: Instance, to: str, bookkeeping_schema: str = "public") -> InstancePlan:
    """Its own plan from where it stands; the privileged steps someone else must run unless the
    inventory gives it a superuser DSN; or why it cannot go (paused, dirty, unreachable, server)."""
    conns = connections(defs, instance, bookkeeping_schema)
    try:
        standing = read_instance(defs, instance, bookkeeping_schema)
        if standing.problem:
            return InstancePlan(instance, blocker=("unreachable: " if standing.unreachable else "") + standing.problem)
        if standing.needs_recovery:
            return InstancePlan(instance, blocker="dirty: a migration failed or was cut off (`pgferry recover`)")
        plan = make_plan(defs, conns, to, downgrade=False)
        waiting = None if instance.superuser_dsn() else waiting_for_someone_else(plan, conns)
        bundle = waiting if waiting is not None and not waiting.empty else None
        return InstancePlan(instance, plan, bundle, f"paused: {instance.paused}" if instance.paused else None)
    except Exception as exc:  # noqa: BLE001 - e.g. the server is too old for the release
        return InstancePlan(instance, blocker=first_line(exc, instance))
