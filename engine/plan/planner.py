"""Planning a multi-version move (docs/design.md §6): schema steps interleaved with out-of-band stops.

A plan is a value: computed from the database's applied sets and out-of-band progress, it can
be printed, exported (JSON, SQL, Markdown), persisted and resumed. Nothing here touches a
database.

Stops: every out-of-band migration O that the move must finish (upgrade: deprecated in
(from, to]) or undo (downgrade: introduced in (to, from], destructive, started) can only run
while the database sits at a release inside O's lifetime [introduced, deprecated). Each gives
an interval of releases; the fewest stops that hit every interval is the classic greedy
interval cover: sort by the interval's last release, stop there unless already covered.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

from ..definitions.catalog import Definitions
from ..definitions.graph import Step
from ..definitions.outofband import OutOfBand
from ..definitions.releases import Release
from ..definitions.validate import introduced_in
from ..errors import DriftFound, PlanError
from .impact import PlanImpact
from .impactview import summary as impact_summary
from .reindex import Reindex


@dataclass(frozen=True)
class Stop:
    release: Release
    out_of_band: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class PlanStep:
    kind: str  # "schema" | "out_of_band"
    stop: str  # the release this step moves towards (a stop or the target)
    reason: str
    step: Step | None = None
    oob: OutOfBand | None = None
    reverse: bool = False
    release: str | None = None  # schema steps: the release that introduces the migration

    @property
    def key(self) -> str:
        if self.kind == "schema":
            return f"schema:{self.step.schema}:{self.step.id}:{'up' if self.step.up else 'down'}"
        return f"oob:{self.oob.id}:{'down' if self.reverse else 'up'}"

    def as_dict(self) -> dict:
        if self.kind == "schema":
            m = self.step.migration
            return {
                "kind": "schema", "schema": m.schema, "id": m.id, "name": m.name, "release": self.release,
                "direction": "up" if self.step.up else "down", "privileged": m.privileged,
                "concurrent_index": m.create_index_concurrently, "non_idempotent": m.non_idempotent,
                "backfill": list(self.step.backfill), "stop": self.stop,
            }
        o = self.oob
        return {
            "kind": "out_of_band", "id": o.id, "description": o.description, "release": self.stop,
            "schema": o.schema, "direction": "down" if self.reverse else "up", "reason": self.reason,
            "introduced": o.introduced, "deprecated": o.deprecated,
        }


@dataclass(frozen=True)
class Plan:
    from_label: str
    from_version: str | None
    to_version: str
    direction: str  # "upgrade" | "downgrade" | "install" | "none"
    stops: tuple[Stop, ...]
    steps: tuple[PlanStep, ...]
    warnings: tuple[str, ...] = field(default=())
    # The applied sets it was planned from: a run that finds them moved (another migrator ran in
    # between) plans again rather than run steps computed for a database that is no longer there.
    applied: Mapping[str, frozenset[int]] = field(default_factory=dict, compare=False, repr=False)
    # Indexes a collation version change may have corrupted, rebuilt before the schema steps.
    reindex: tuple[Reindex, ...] = field(default=())
    # What each step will cost (impact.py), when read from a live database: None offline.
    impact: PlanImpact | None = field(default=None, compare=False)

    @property
    def empty(self) -> bool:
        return not self.steps and not self.reindex

    def schema_steps(self) -> list[PlanStep]:
        return [s for s in self.steps if s.kind == "schema"]

    def as_dict(self) -> dict:
        return {
            "from": self.from_version,
            "from_label": self.from_label,
            "to": self.to_version,
            "direction": self.direction,
            "stops": [{"release": s.release.version, "out_of_band": list(s.out_of_band), "reason": s.reason}
                      for s in self.stops],
            "steps": [self._step_dict(s) for s in self.steps],
            "warnings": list(self.warnings),
            "reindex": [r.as_dict() for r in self.reindex],
            **({"impact_summary": impact_summary(self.impact, self.steps)} if self.impact else {}),
        }

    def _step_dict(self, s: PlanStep) -> dict:
        out = s.as_dict()
        found = self.impact.of(s.key) if self.impact else None
        if found is not None:
            out["impact"] = found.as_dict()
        return out


def _interval_cover(intervals: Mapping[int, tuple[int, int]]) -> dict[int, list[int]]:
    """Fewest points hitting every [lo, hi] interval: {point: [interval ids]} (greedy, optimal)."""
    points: list[int] = []
    for key, (lo, hi) in sorted(intervals.items(), key=lambda kv: (kv[1][1], kv[1][0], kv[0])):
        if not any(lo <= p <= hi for p in points):
            points.append(hi)
    cover: dict[int, list[int]] = {p: [] for p in points}
    for key, (lo, hi) in sorted(intervals.items()):
        p = min(p for p in points if lo <= p <= hi)
        cover[p].append(key)
    return cover


class Planner:
    def __init__(self, defs: Definitions, oobs: Mapping[int, OutOfBand] | None = None):
        self.defs = defs
        self.oobs = dict(oobs if oobs is not None else getattr(defs, "out_of_band", {}) or {})
        self.releases = list(defs.releases.releases)
        self._intro = {name: introduced_in(g, defs.releases) for name, g in defs.schemas.items()}

    def _idx(self, version: str) -> int:
        r = self.defs.releases.find(version)
        return self.releases.index(r)

    def _stop_candidate(self, lo: int, hi: int, channel: str) -> int | None:
        """The latest usable release in [lo, hi]: not pulled, on the target's channel."""
        usable = [i for i in range(lo, hi + 1)
                  if not self.releases[i].pulled and self.releases[i].channel in ("stable", channel)]
        return usable[-1] if usable else None

    def _schema_steps(self, applied: dict[str, frozenset[int]], release: Release, up: bool, reason: str) -> list[PlanStep]:
        out: list[PlanStep] = []
        order = list(self.defs.schemas)
        for name in order if up else list(reversed(order)):
            g = self.defs.schemas[name]
            leaves = release.leaves.get(name, ())
            done = applied.get(name, frozenset())
            steps = g.up(done, leaves) if up else g.to_set(done, leaves)
            for s in steps:
                out.append(PlanStep("schema", release.version, reason, step=s, release=self._intro[name].get(s.id)))
            applied[name] = _after(done, steps)
        return out

    def plan(self, applied: Mapping[str, Iterable[int]], to: str, *, progress: Mapping[int, float | None] | None = None,
             allow_downgrade: bool = False, allow_upgrade: bool = True) -> Plan:
        planned = self._plan(applied, to, progress, allow_downgrade, allow_upgrade)
        return replace(planned, applied={s: frozenset(applied.get(s, ())) for s in self.defs.schemas})

    def _plan(self, applied: Mapping[str, Iterable[int]], to: str, progress: Mapping[int, float | None] | None,
              allow_downgrade: bool, allow_upgrade: bool) -> Plan:
        target = self.defs.release(to)
        if target.pulled:
            raise PlanError(f"release {target.version} was pulled: {target.pulled}",
                            hint="pick another target; a pulled release can only be passed through")
        progress = dict(progress or {})
        current = {s: self.defs.schemas[s].normalize(applied.get(s, ())) for s in self.defs.schemas}
        self._check_known(current)
        version = self.defs.version_of(current)
        empty = not any(current.values())
        t = self.releases.index(target)
        if empty:
            # An install passes through the releases like an upgrade does, stopping where an
            # out-of-band migration must finish: a migration on the way may seed the rows it rewrites.
            return self._forward(current, "empty", None, t, progress)
        if version.release is None and all(
                set(ids) <= self.defs.required(target, s) | set(self.defs.schemas[s].squashes)
                for s, ids in current.items()):
            # A partial install on its way to the target (an interrupted install, or privileged
            # steps recorded applied by the `privileged verify` of pgferry before grants,
            # grantlog.py): finish installing, with the stops an install makes.
            return self._forward(current, version.label, None, t, progress)
        if version.release is None:
            oldest = self.releases[0].version if self.releases else "?"
            raise PlanError(f"unsupported source version: the database predates the oldest supported release {oldest}",
                            hint="upgrade it with an older pgferry release first, or check `pgferry status`")
        f = self.releases.index(version.release)
        if t > f or (t == f and version.extra):
            if not allow_upgrade:
                raise PlanError(f"{target.version} is newer than the database ({version.label})", hint="use `pgferry upgrade`")
            return self._forward(current, version.label, f, t, progress)
        if t < f or (t == f and version.extra):
            if not allow_downgrade:
                raise PlanError(f"{target.version} is older than the database ({version.label})",
                                hint=f"use `pgferry downgrade --to {target.version}` to go back")
            return self._downgrade(current, version.label, f, t, progress)
        return Plan(version.label, version.release.version, target.version, "none", (), ())

    def _check_known(self, current: Mapping[str, frozenset[int]]) -> None:
        """Applied ids the definitions do not know: older than the oldest supported release, or drift."""
        for name, done in current.items():
            g = self.defs.schemas[name]
            unknown = sorted(set(done) - set(g.migrations))
            if not unknown:
                continue
            if g.migrations and max(unknown) < min(g.migrations):
                oldest = self.releases[0].version if self.releases else "?"
                raise PlanError(
                    f"unsupported source version: {name} has migrations older than the oldest supported release "
                    f"{oldest} ({', '.join(map(str, unknown[:3]))})",
                    hint=f"upgrade it to {oldest} with the pgferry release that shipped it, then come back")
            raise DriftFound(
                f"{name} has applied migration(s) these definitions do not know: {', '.join(map(str, unknown[:3]))}",
                hint="a newer release ran against this database, or --migrations points at the wrong definitions")

    def _check_within(self, current: Mapping[str, frozenset[int]], target: Release) -> None:
        for name, done in current.items():
            g = self.defs.schemas[name]
            extra = set(done) - self.defs.required(target, name) - set(g.squashes)
            if extra:
                sample = ", ".join(map(str, sorted(extra)[:3]))
                raise DriftFound(
                    f"the applied set of {name} matches no release on the way to {target.version}: "
                    f"{len(extra)} applied migration(s) are not part of it ({sample})",
                    hint="run `pgferry status` and `pgferry drift`; revert them with `pgferry downto` if they are stray",
                )

    def _forward(self, current, label, f: int | None, t, progress) -> Plan:
        """Up from release index `f` (None: an empty database, installing) to `t`, with stops."""
        target = self.releases[t]
        self._check_within(current, target)
        warnings: list[str] = []
        intervals: dict[int, tuple[int, int]] = {}
        for o in sorted(self.oobs.values(), key=lambda o: o.id):
            if not o.deprecated:
                continue
            i, d = self._idx(o.introduced), self._idx(o.deprecated)
            done = progress.get(o.id)
            if f is not None and d <= f:
                if done is not None and done < 1:
                    warnings.append(f"out-of-band {o.id} is at {done:.0%} but the database is already past its "
                                    f"deprecation ({o.deprecated})")
                continue
            if d > t or (done is not None and done >= 1):
                continue
            lo = i if f is None else max(i, f)
            hi = self._stop_candidate(lo, d - 1, target.channel)
            if hi is None:
                hi = d - 1
                warnings.append(f"out-of-band {o.id} can only finish at a pulled release ({self.releases[hi].version})")
            intervals[o.id] = (lo, hi)
        cover = _interval_cover(intervals)
        applied = dict(current)
        stops, steps = [], []
        for point in sorted(cover):
            r = self.releases[point]
            ids = tuple(cover[point])
            why = "; ".join(f"out-of-band {i} must finish before {self.oobs[i].deprecated}" for i in ids)
            stops.append(Stop(r, ids, why))
            steps += self._schema_steps(applied, r, True, f"stop at {r.version}: {why}")
            for i in ids:
                steps.append(PlanStep("out_of_band", r.version, f"deprecated in {self.oobs[i].deprecated}", oob=self.oobs[i]))
        direction = "install" if f is None else "upgrade"
        reason = f"install {target.version}" if f is None else f"upgrade to {target.version}"
        steps += self._schema_steps(applied, target, True, reason)
        return Plan(label, None if f is None else self.releases[f].version, target.version, direction,
                    tuple(stops), tuple(steps), tuple(warnings))

    def _downgrade(self, current, label, f, t, progress) -> Plan:
        target = self.releases[t]
        intervals: dict[int, tuple[int, int]] = {}
        for o in sorted(self.oobs.values(), key=lambda o: o.id):
            i = self._idx(o.introduced)
            if not (t < i <= f) or o.non_destructive:
                continue
            if progress.get(o.id) == 0:
                continue  # never started: nothing to undo
            d = self._idx(o.deprecated) if o.deprecated else len(self.releases)
            hi = min(d - 1, f)
            if hi < i:
                continue
            # For a downgrade the stop is visited top-down; any release in [i, hi] works, and the
            # cover picks the highest (first reached).
            intervals[o.id] = (i, hi)
        # Visiting downwards is the same cover on the mirrored axis: each stop is as low as it may be
        # (undo as late as possible), and the fewest stops still hit every interval.
        mirrored = _interval_cover({k: (-hi, -lo) for k, (lo, hi) in intervals.items()})
        cover = {-p: ids for p, ids in mirrored.items()}
        applied = dict(current)
        stops, steps = [], []
        for point in sorted(cover, reverse=True):
            r = self.releases[point]
            ids = tuple(cover[point])
            why = "; ".join(f"out-of-band {i} (introduced in {self.oobs[i].introduced}) must be undone" for i in ids)
            stops.append(Stop(r, ids, why))
            steps += self._schema_steps(applied, r, False, f"stop at {r.version}: {why}")
            for i in ids:
                steps.append(PlanStep("out_of_band", r.version, f"introduced in {self.oobs[i].introduced}",
                                      oob=self.oobs[i], reverse=True))
        steps += self._schema_steps(applied, target, False, f"downgrade to {target.version}")
        return Plan(label, self.releases[f].version, target.version, "downgrade", tuple(stops), tuple(steps))


def _after(done: frozenset[int], steps: list[Step]) -> frozenset[int]:
    out = set(done)
    for s in steps:
        ids = {s.id, *s.backfill}
        if s.up:
            out |= ids
        else:
            out -= ids
    return frozenset(out)
