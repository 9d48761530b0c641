"""Can the application of a release run on a database? (`pgferry check --release V`, docs/design.md §4)

Yes when every schema has all V needs, no migration's last attempt failed or was cut off, the
out-of-band migrations V relies on are complete, and whatever is applied beyond V belongs to
releases whose schema still serves V (their `compatible_with`). So during a rolling update the
old application stays ready while the new schema lands, as long as the new release says its
schema serves the old one; by default a release serves only itself.

Strictly read-only: creates nothing and takes no lock, so every replica of the application may
ask at once, even while an upgrade holds the migrator locks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..bookkeeping.bookkeeping import MigrationLog, SchemaState
from ..connection import Sessions
from ..definitions.catalog import Definitions
from ..definitions.outofband import OutOfBand
from ..definitions.releases import Release
from ..errors import ExitCode
from .progress import measure_all

# Which case held, most pressing first (the JSON's "case").
DIRTY = "dirty"  # a migration's last attempt failed or its backend died
BEHIND = "behind"  # some migration the release needs is not applied
BEYOND_INCOMPATIBLE = "beyond_incompatible"  # applied beyond it: a release whose schema does not serve it
OUT_OF_BAND_INCOMPLETE = "out_of_band_incomplete"  # an out-of-band migration it relies on is not complete
BEYOND_COMPATIBLE = "beyond_compatible"  # applied beyond it, all from releases whose schema serves it
EXACT = "exact"  # exactly at the release
READY = (EXACT, BEYOND_COMPATIBLE)


@dataclass(frozen=True)
class SchemaReadiness:
    name: str
    missing: tuple[int, ...]  # what the release needs and the database lacks
    extra: tuple[int, ...]  # what the database has beyond the release
    dirty: bool

    def as_dict(self) -> dict:
        return {"name": self.name, "at_release": not self.missing and not self.extra, "missing": list(self.missing),
                "extra": list(self.extra), "dirty": self.dirty}


@dataclass(frozen=True)
class OobReadiness:
    id: int
    progress: float  # measured now by its progress.sql; 0 when that fails (its tables are not there)

    @property
    def complete(self) -> bool:
        return self.progress >= 1

    def as_dict(self) -> dict:
        return {"id": self.id, "progress": self.progress, "complete": self.complete}


@dataclass(frozen=True)
class Readiness:
    release: Release
    schemas: tuple[SchemaReadiness, ...]
    out_of_band: tuple[OobReadiness, ...]
    beyond: tuple[Release, ...] = ()  # the releases the migrations applied beyond it come from, oldest first
    not_serving: tuple[Release, ...] = ()  # releases after it, up to the newest of `beyond`, not serving it
    unreleased: int = 0  # migrations applied beyond it that no release holds

    @property
    def served(self) -> bool:
        """Does everything applied beyond the release come from releases that serve it?"""
        return not self.not_serving and not self.unreleased

    @property
    def case(self) -> str:
        if any(s.dirty for s in self.schemas):
            return DIRTY
        if any(s.missing for s in self.schemas):
            return BEHIND
        if not self.served:
            return BEYOND_INCOMPATIBLE
        if not all(o.complete for o in self.out_of_band):
            return OUT_OF_BAND_INCOMPLETE
        return BEYOND_COMPATIBLE if self.beyond else EXACT

    @property
    def ok(self) -> bool:
        return self.case in READY

    @property
    def exit_code(self) -> ExitCode:
        case = self.case
        return ExitCode.OK if case in READY else ExitCode.DIRTY if case == DIRTY else ExitCode.FAILURE

    def as_dict(self) -> dict:
        return {"release": self.release.version, "ok": self.ok, "case": self.case,
                "schemas": [s.as_dict() for s in self.schemas], "out_of_band": [o.as_dict() for o in self.out_of_band],
                "beyond": [r.version for r in self.beyond], "not_serving": [r.version for r in self.not_serving],
                "unreleased": self.unreleased}


def needed_out_of_band(defs: Definitions, release: Release) -> list[OutOfBand]:
    """The out-of-band migrations deprecated at or before `release`: its application relies on them complete."""
    return [o for o in defs.out_of_band.values() if o.deprecated and defs.release(o.deprecated).key <= release.key]


def judge(defs: Definitions, release: Release, states: Mapping[str, SchemaState],
          progress: Mapping[int, float]) -> Readiness:
    """The readiness of a database whose schemas are in `states`, with out-of-band `progress` by id
    (one missing counts as not started)."""
    schemas, extra = [], {}
    for name, graph in defs.schemas.items():
        state = states[name]
        done = graph.normalize(state.applied)
        want = defs.required(release, name)
        beyond = set(done) - want - set(graph.squashes)
        schemas.append(SchemaReadiness(name, tuple(sorted(want - done)), tuple(sorted(beyond)), state.dirty))
        extra[name] = beyond
    introducing, unreleased = defs.introducing(extra)
    not_serving = defs.releases.not_serving(release, introducing[-1]) if introducing else ()
    oobs = tuple(OobReadiness(o.id, progress.get(o.id, 0.0)) for o in needed_out_of_band(defs, release))
    return Readiness(release, tuple(schemas), oobs, introducing, not_serving, unreleased)


def read_readiness(defs: Definitions, release: Release, dsns: Mapping[str, str],
                   bookkeeping_schema: str = "public") -> Readiness:
    """Read each schema's bookkeeping and measure, on the live data, the out-of-band migrations the
    release needs; judge. Read-only, no lock, one session per database."""
    needed = needed_out_of_band(defs, release)
    with Sessions("check") as session:
        states = {}
        for dsn in dict.fromkeys(dsns[name] for name in defs.schemas):  # one query per database
            here = [name for name in defs.schemas if dsns[name] == dsn]
            states.update(MigrationLog(session(dsn), bookkeeping_schema).states(here))
        progress = {}
        for dsn in dict.fromkeys(dsns[o.schema] for o in needed):
            measured = measure_all(session(dsn), [o for o in needed if dsns[o.schema] == dsn])
            progress.update((i, m[0]) for i, m in measured.items())
    return judge(defs, release, states, progress)
