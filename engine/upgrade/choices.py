"""Which releases a database can move to, and what each move would take (the target chooser's data).

Read the database once (`read_state`), then plan each release from that state (`choose`): the
planning is pure, so a UI can show every row at once and fill in the counts as plans finish.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..definitions.catalog import DatabaseVersion, Definitions
from ..definitions.releases import STABLE, Release
from ..errors import PgferryError
from ..plan.planner import Plan, Planner
from .planning import Connections, read_applied, read_oob_progress, server_version


@dataclass(frozen=True)
class DatabaseState:
    """What planning needs from the database, read once."""

    applied: Mapping[str, frozenset[int]]
    progress: Mapping[int, float | None]
    server: str  # "17.2"
    version: DatabaseVersion


def read_state(defs: Definitions, conns: Connections) -> DatabaseState:
    applied = read_applied(defs, conns)
    progress = read_oob_progress(defs, conns, applied)
    return DatabaseState(applied, progress, server_version(conns.primary), defs.version_of(applied))


@dataclass(frozen=True)
class PlanCounts:
    migrations: int
    privileged: int
    concurrent_index: int
    non_idempotent: int
    out_of_band: int
    stops: tuple[str, ...]

    @classmethod
    def of(cls, plan: Plan) -> PlanCounts:
        ms = [s.step.migration for s in plan.schema_steps()]
        return cls(len(ms), sum(m.privileged for m in ms), sum(m.create_index_concurrently for m in ms),
                   sum(m.non_idempotent for m in ms), len(plan.steps) - len(ms),
                   tuple(s.release.version for s in plan.stops))


@dataclass(frozen=True)
class Choice:
    """One release as a target: its plan and counts when it can be planned, and why it cannot be chosen."""

    release: Release
    current: bool
    plan: Plan | None = None
    counts: PlanCounts | None = None
    short: str = ""  # a few words for a table cell: "✗ pulled"
    reason: str | None = None  # None = selectable

    @property
    def selectable(self) -> bool:
        return self.reason is None and self.plan is not None

    @property
    def direction(self) -> str:
        return self.plan.direction if self.plan else ""


def default_release(defs: Definitions) -> Release | None:
    """Where the chooser's cursor starts: the latest stable release."""
    return defs.releases.latest(STABLE)


def choose(defs: Definitions, state: DatabaseState, release: Release, planner: Planner | None = None) -> Choice:
    """Plan the move to `release`; a release that cannot be chosen keeps its counts when it can be planned."""
    planner = planner or Planner(defs)
    current = state.version.release == release and not state.version.extra
    try:
        plan = planner.plan(state.applied, release.version, progress=state.progress, allow_downgrade=True)
    except PgferryError as exc:
        short = "✗ pulled" if release.pulled else "✗ unsupported"
        return Choice(release, current, short=short, reason=exc.message + (f" ({exc.hint})" if exc.hint else ""))
    counts = PlanCounts.of(plan)
    if release.channel != STABLE:
        return Choice(release, current, plan, counts, f"✗ {release.channel}",
                      f"{release.version} is on the {release.channel} channel; this screen offers stable releases "
                      f"(the command line takes --channel {release.channel})")
    if not release.supports_server(state.server):
        return Choice(release, current, plan, counts, "✗ server",
                      f"{release.version} supports PostgreSQL {release.postgres}; the server runs {state.server}: "
                      "upgrade the server first")
    return Choice(release, current, plan, counts, "● current" if current else "✓")
