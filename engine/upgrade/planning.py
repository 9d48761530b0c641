"""Where the databases stand, and the plan from there to a release: the connections of each
schema, the applied sets, out-of-band progress measured on the live data, the target release."""
from __future__ import annotations

from typing import Mapping

from ..connection import Connections, connect  # noqa: F401 - Connections: where most callers import it
from ..definitions.catalog import Definitions
from ..definitions.releases import Release
from ..errors import PlanError, UsageError
from ..plan.planner import Plan, Planner
from ..repair.drift import refuse_unrecorded
from ..run.oobstate import progress_for_planning, read_states
from .collation import with_collation_repairs


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
    return with_collation_repairs(plan, conns.distinct(), conns.bookkeeping_schema)
