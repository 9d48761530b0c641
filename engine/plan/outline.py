"""A plan arranged for reading: grouped by stop, release and schema, searchable, with each step's
neighbours in its schema's graph. Pure data over a `Plan`, so any front end can show it.

Steps keep their run position (`n`), because grouping by release reorders them: a plan runs
schema by schema within a segment, while people read it release by release.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from ..definitions.catalog import Definitions
from .planner import Plan, PlanStep, Stop

# Words a filter matches besides ids, names and schemas (docs/design.md §12: badges are searchable).
_FLAG_WORDS = (("privileged", "privileged ⚿"), ("create_index_concurrently", "cic concurrent index ⧗"),
               ("non_idempotent", "non-idempotent nonidempotent !"))


@dataclass(frozen=True)
class Item:
    n: int  # 1-based position in run order
    step: PlanStep
    words: str  # lower-case text a filter searches

    @property
    def schema(self) -> str:
        return self.step.step.schema if self.step.kind == "schema" else self.step.oob.schema

    @property
    def id(self) -> int:
        return self.step.step.id if self.step.kind == "schema" else self.step.oob.id


@dataclass(frozen=True)
class SchemaGroup:
    schema: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class ReleaseGroup:
    release: str  # the release that introduces these migrations
    schemas: tuple[SchemaGroup, ...]

    @property
    def count(self) -> int:
        return sum(len(s.items) for s in self.schemas)


@dataclass(frozen=True)
class Segment:
    """Everything done on the way to one stop (or to the target, for the last one)."""

    towards: str
    stop: Stop | None
    heading: str
    releases: tuple[ReleaseGroup, ...]
    out_of_band: tuple[Item, ...]

    @property
    def count(self) -> int:
        return sum(r.count for r in self.releases) + len(self.out_of_band)


def items(plan: Plan) -> list[Item]:
    out = []
    for n, s in enumerate(plan.steps, 1):
        if s.kind == "schema":
            m = s.step.migration
            flags = " ".join(w for attr, w in _FLAG_WORDS if getattr(m, attr))
            words = f"{m.id} {m.name} {m.slug} {m.schema} {s.release or ''} {'up' if s.step.up else 'down'} {flags}"
        else:
            o = s.oob
            words = f"{o.id} {o.slug} {o.description} {o.schema} {s.stop} oob out-of-band ⟳"
        out.append(Item(n, s, words.lower()))
    return out


def matches(item: Item, query: str) -> bool:
    """Every word of the query appears somewhere in the item's text (case-insensitive)."""
    return all(w in item.words for w in query.lower().split())


def segments(plan: Plan, chosen: Iterable[Item]) -> list[Segment]:
    """Group `chosen` (all items, or a filter's matches) by stop, then release, then schema."""
    stops = {s.release.version: s for s in plan.stops}
    by_stop: dict[str, dict[str, dict[str, list[Item]]]] = {}
    oob: dict[str, list[Item]] = {}
    for it in chosen:
        towards = it.step.stop
        by_stop.setdefault(towards, {})
        if it.step.kind == "schema":
            # first appearance order: ascending for upgrades, descending for downgrades
            release = it.step.release or "unreleased"
            by_stop[towards].setdefault(release, {}).setdefault(it.schema, []).append(it)
        else:
            oob.setdefault(towards, []).append(it)
    out = []
    for towards, rels in by_stop.items():
        stop = stops.get(towards)
        if stop is not None:
            heading = f"stop at {towards}: {stop.reason}"
        else:
            heading = f"{plan.direction} to {towards}"
        groups = tuple(ReleaseGroup(r, tuple(SchemaGroup(s, tuple(its)) for s, its in schemas.items()))
                       for r, schemas in rels.items())
        out.append(Segment(towards, stop, heading, groups, tuple(oob.get(towards, ()))))
    return out


@dataclass(frozen=True)
class Neighbour:
    id: int
    name: str
    mark: str  # "✓ applied", "↑ #12", "· not applied"


@dataclass(frozen=True)
class Neighbourhood:
    parents: tuple[Neighbour, ...]
    children: tuple[Neighbour, ...]


class Index:
    """Looks steps up by (schema, id) to mark a step's parents and children with their fate."""

    def __init__(self, defs: Definitions, all_items: list[Item]):
        self.defs = defs
        self.position = {(it.schema, it.id): it for it in all_items if it.step.kind == "schema"}

    def neighbourhood(self, item: Item, applied: Mapping[str, frozenset[int]] | None) -> Neighbourhood:
        m = item.step.step.migration
        graph = self.defs.schemas[m.schema]
        done = applied.get(m.schema, frozenset()) if applied is not None else None

        def mark(i: int) -> Neighbour:
            other = graph.migrations.get(i)
            name = other.name if other else "(unknown)"
            planned = self.position.get((m.schema, i))
            if planned is not None:
                return Neighbour(i, name, f"{'↑' if planned.step.step.up else '↓'} #{planned.n}")
            if done is None:
                return Neighbour(i, name, "· not in plan")
            return Neighbour(i, name, "✓ applied" if i in done else "· not applied")

        children = sorted(graph.declared.successors(m.id)) if m.id in graph.declared else []
        return Neighbourhood(tuple(mark(p) for p in m.parents), tuple(mark(c) for c in children))
