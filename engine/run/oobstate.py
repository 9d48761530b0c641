"""Where each out-of-band migration stands on a database, read from the live data (docs/design.md §5).

The figure recorded in out_of_band_migrations is what the last run saw. It goes stale: a
downgrade below `introduced` drops what the backfill wrote (for a nonDestructive migration
nothing undoes it first), and the column comes back empty on the next upgrade. So progress that
a plan or a run relies on is measured with progress.sql, and only where the migration's schema
objects exist: at or past its `introduced` release. The record still tells what only it knows
(paused, errors, throughput).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Mapping

from ..connection import Sessions, sessions_or_own
from ..definitions.catalog import DatabaseVersion, Definitions
from ..definitions.outofband import OutOfBand
from ..definitions.releases import Release
from ..errors import UsageError
from .background import OutOfBandStore
from .progress import measure_all


@dataclass(frozen=True)
class OobRow:
    """One out-of-band migration where a database stands, in plain values (no definitions): what a
    status line, a screen or a JSON document shows."""

    id: int
    description: str
    schema: str
    introduced: str
    deprecated: str | None
    non_destructive: bool
    progress: float | None  # measured now; None while not reached
    reached: bool
    reason: str
    recorded_progress: float | None  # what the last run saw
    paused: bool
    reverse: bool
    batch_size: int
    rows_done: int
    rows_per_second: float | None
    errors: int
    last_error: str | None
    last_updated: datetime | None

    def as_dict(self) -> dict:
        return {**asdict(self), "last_updated": self.last_updated.isoformat() if self.last_updated else None}


@dataclass(frozen=True)
class OobState:
    oob: OutOfBand
    reached: bool  # the database is at or past the release that introduces it
    past_deprecation: bool  # ... and at or past the one that deprecates it
    progress: float | None  # measured now; None while not reached (its schema objects may not exist)
    measured: bool  # progress.sql answered (False: not reached, or the query failed)
    reason: str  # why the progress is what it is, in one line
    record: Mapping | None = None  # its out_of_band_migrations row, if it ever ran here

    def row(self) -> OobRow:
        r = self.record or {}
        o = self.oob
        return OobRow(o.id, o.description, o.schema, o.introduced, o.deprecated, o.non_destructive, self.progress,
                      self.reached, self.reason, r.get("progress"), bool(r.get("paused")), bool(r.get("apply_reverse")),
                      r.get("batch_size") or o.batch_size, r.get("rows_done") or 0, r.get("rows_per_second"),
                      r.get("error_count") or 0, r.get("last_error"), r.get("last_updated"))


def lifetime_position(defs: Definitions, o: OutOfBand, release: Release | None) -> tuple[bool, bool]:
    """(reached, past its deprecation) for a database at `release`."""
    if release is None:
        return False, False
    at = defs.releases.index(release)
    intro = defs.releases.find(o.introduced)
    dep = defs.releases.find(o.deprecated) if o.deprecated else None
    return (intro is not None and defs.releases.index(intro) <= at,
            dep is not None and defs.releases.index(dep) <= at)


def read_states(defs: Definitions, dsns: Mapping[str, str], version: DatabaseVersion,
                bookkeeping_schema: str = "public", ids=None, *, sessions: Sessions | None = None) -> dict[int, OobState]:
    """Every out-of-band migration (or those of `ids`) on a database at `version`: read-only."""
    oobs = [o for i, o in sorted(defs.out_of_band.items()) if ids is None or i in ids]
    out: dict[int, OobState] = {}
    with sessions_or_own(sessions) as session:
        for dsn in dict.fromkeys(dsns[o.schema] for o in oobs if o.schema in dsns):
            here = [o for o in oobs if dsns.get(o.schema) == dsn]
            records = {r["id"]: r for r in OutOfBandStore(session(dsn), bookkeeping_schema).all()}
            positions = {o.id: lifetime_position(defs, o, version.release) for o in here}
            measured = measure_all(session(dsn), [o for o in here if positions[o.id][0]])
            at = version.release.version if version.release else "no release"
            for o in here:
                reached, past = positions[o.id]
                progress, answered, reason = measured.get(o.id) or (
                    None, False, f"not reached: introduced in {o.introduced}, the database is at {at}")
                out[o.id] = OobState(o, reached, past, progress, answered, reason, records.get(o.id))
    return dict(sorted(out.items()))


def progress_for_planning(states: Mapping[int, OobState]) -> dict[int, float | None]:
    """What the planner weighs: None (not reached, so not started) or the measured figure."""
    return {i: s.progress for i, s in states.items()}


def select_for_run(states: Mapping[int, OobState], *, reverse: bool) -> tuple[list[OobState], list[tuple[OobState, str]]]:
    """`oob run` without ids: those whose schema objects exist and that still have work, and why
    each other one is skipped."""
    run: list[OobState] = []
    skipped: list[tuple[OobState, str]] = []
    for s in states.values():
        why = skip_reason(s, reverse=reverse)
        if why:
            skipped.append((s, why))
        else:
            run.append(s)
    return run, skipped


def skip_reason(s: OobState, *, reverse: bool) -> str | None:
    if not s.measured:
        return s.reason  # not reached, or its tables are not there
    if reverse:
        if s.past_deprecation:
            return f"past its deprecation ({s.oob.deprecated}): later migrations rely on its data"
        return None
    if s.past_deprecation and s.progress is not None and s.progress >= 1:
        return f"past its deprecation ({s.oob.deprecated}) and complete"
    return None


def read_database_states(defs: Definitions, dsns: Mapping[str, str], bookkeeping_schema: str = "public",
                         ids=None) -> dict[int, OobState]:
    """read_states at the release the databases' applied sets show."""
    from ..bookkeeping.status import read_status

    status = read_status(defs, dsns, bookkeeping_schema)
    return read_states(defs, dsns, status.version, bookkeeping_schema, ids)


def refuse_unmeasured(states: Mapping[int, OobState], action: str) -> None:
    """Ids named on the command line whose tables are not there: say why before running any."""
    blocked = [s for s in states.values() if not s.measured]
    if blocked:
        first = blocked[0]
        raise UsageError(
            "; ".join(f"out-of-band {s.oob.id} cannot {action} here: {s.reason}" for s in blocked),
            hint=f"upgrade to {first.oob.introduced} or later first" if not first.reached
            else "check the schema with `pgferry drift`")
