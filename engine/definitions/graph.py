"""One schema's migration graph: pure queries over immutable definitions.

Squashes (`replaces`) are resolved here, when the graph for a concrete applied set is
built, so that callers only ever see plain migrations to apply or revert.

Two graphs are involved:
- the *requirement* graph `U`: declared parent edges, plus `r -> S` for every id `r` a squash
  `S` replaces (S stands for them) and `S -> c` for every child `c` of a replaced id. An
  ancestor set in `U` is "what must be applied", whichever path is taken to get there.
- an *execution* graph, built per call: the nodes that will actually run, with squashed or
  original nodes contracted away (their edges preserved transitively).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Mapping

from . import digraph
from .digraph import DiGraph

from .definitions import Migration


@dataclass(frozen=True)
class Step:
    """Apply (or revert) one migration of one schema."""

    migration: Migration
    up: bool = True
    # Ids recorded along with this step without running: the originals a squash stands for
    # (up), or a squash whose originals are being reverted (down).
    backfill: tuple[int, ...] = ()

    @property
    def schema(self) -> str:
        return self.migration.schema

    @property
    def id(self) -> int:
        return self.migration.id

    @property
    def script(self):
        return self.migration.up if self.up else self.migration.down

    def __repr__(self) -> str:
        arrow = "up" if self.up else "down"
        return f"Step({self.schema}:{self.id} {arrow})"


class UnknownMigration(KeyError):
    pass


class SchemaGraph:
    def __init__(self, name: str, migrations: Mapping[int, Migration]):
        self.name = name
        self.migrations = dict(migrations)
        self.squashes: dict[int, frozenset[int]] = {
            m.id: frozenset(m.replaces) for m in self.migrations.values() if m.replaces
        }
        self.replaced_by: dict[int, int] = {r: s for s, rs in self.squashes.items() for r in rs}
        # The graph never changes, so ancestor sets (release requirements, mostly) are cached.
        self._ancestors: dict[frozenset[int], frozenset[int]] = {}

    # -- structure -------------------------------------------------------------------------

    @cached_property
    def declared(self) -> DiGraph:
        g = DiGraph()
        g.add_nodes_from(self.migrations)
        for m in self.migrations.values():
            for p in m.parents:
                g.add_edge(p, m.id)
        return g

    @cached_property
    def requirement(self) -> DiGraph:
        g = self.declared.copy()
        for s, replaced in self.squashes.items():
            for r in replaced:
                g.add_edge(r, s)
                for child in self.declared.successors(r) if r in self.declared else ():
                    if child not in replaced and child != s:
                        g.add_edge(s, child)
        return g

    @cached_property
    def _order_index(self) -> dict[int, int]:
        order = digraph.topological_sort(self.requirement)
        return {n: i for i, n in enumerate(order)}

    def order(self, ids: Iterable[int]) -> list[int]:
        """Deterministic topological order (ties by ascending id) of the given ids."""
        index = self._order_index
        # Ids the definitions do not know (applied by a newer release) sort last, by id.
        return sorted(ids, key=lambda i: (index.get(i, len(index)), i))

    def leaves(self) -> frozenset[int]:
        """The schema's heads: migrations nothing depends on."""
        g = self.requirement
        return frozenset(n for n in g if g.out_degree(n) == 0 and n in self.migrations)

    def roots(self) -> frozenset[int]:
        return frozenset(m.id for m in self.migrations.values() if not m.parents)

    def ancestors(self, ids: Iterable[int]) -> frozenset[int]:
        """Everything that must be applied for `ids` to be applied, `ids` included."""
        key = frozenset(ids)
        cached = self._ancestors.get(key)
        if cached is None:
            cached = self._ancestors[key] = self._walk_up(key)
        return cached

    def _walk_up(self, ids: frozenset[int]) -> frozenset[int]:
        g = self.requirement
        cache = self._ancestors
        out: set[int] = set()
        stack = []
        for i in ids:
            if i not in g:
                raise UnknownMigration(i)
            stack.append(i)
        while stack:
            n = stack.pop()
            if n in out:
                continue
            # A node whose own ancestor set is known already (an earlier release's leaf, mostly):
            # take it whole instead of walking the history below it again. Releases are asked
            # oldest first, so walking all of them costs one pass over the history, not one each.
            known = cache.get(frozenset((n,))) if len(ids) > 1 or n not in ids else None
            if known is not None:
                out |= known
                continue
            out.add(n)
            stack.extend(p for p in g.predecessors(n) if p not in out)
        return frozenset(out)

    def has_all_ancestors(self, ids: Iterable[int], done: frozenset[int]) -> bool:
        """ancestors(ids) <= done, stopping at the first one missing (cheap when the answer is no)."""
        g = self.requirement
        seen: set[int] = set()
        stack = list(ids)
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            if n not in done:
                return False
            seen.add(n)
            stack.extend(p for p in g.predecessors(n) if p not in seen)
        return True

    def descendants(self, ids: Iterable[int]) -> frozenset[int]:
        out: set[int] = set()
        for i in ids:
            if i not in self.requirement:
                raise UnknownMigration(i)
            out |= digraph.descendants(self.requirement, i)
        return frozenset(out)

    def normalize(self, applied: Iterable[int]) -> frozenset[int]:
        """Applied ids with squash equivalence filled in: S applied <=> all it replaces applied."""
        out = set(applied)
        for s, replaced in self.squashes.items():
            if s in out:
                out |= replaced
            elif replaced and replaced <= out:
                out.add(s)
        return frozenset(out)

    # -- traversals ------------------------------------------------------------------------

    @cached_property
    def _succ(self) -> dict[int, tuple[int, ...]]:
        # Plain tuples: traversals below run over thousands of nodes per plan, and networkx's
        # views cost more than the work itself.
        g = self.requirement
        return {n: tuple(g.successors(n)) for n in g}

    def _ordered(self, nodes: set[int], drop: set[int]) -> list[int]:
        """`nodes` in deterministic topological order (ties by id); paths through `drop` still count."""
        succ = self._succ
        keep = nodes - drop
        edges: dict[int, set[int]] = {n: set() for n in keep}
        for n in keep:
            for c in succ.get(n, ()):
                if c in keep:
                    edges[n].add(c)
                elif c in drop:
                    # follow the dropped node's successors until kept ones are reached
                    stack, seen = [c], set()
                    while stack:
                        x = stack.pop()
                        if x in seen:
                            continue
                        seen.add(x)
                        for y in succ.get(x, ()):
                            if y in keep:
                                edges[n].add(y)
                            elif y in drop:
                                stack.append(y)
        indegree = {n: 0 for n in keep}
        for n, cs in edges.items():
            for c in cs:
                indegree[c] += 1
        ready = [n for n, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        out: list[int] = []
        while ready:
            n = heapq.heappop(ready)
            out.append(n)
            for c in edges[n]:
                indegree[c] -= 1
                if indegree[c] == 0:
                    heapq.heappush(ready, c)
        return out

    def up(self, applied: Iterable[int], targets: Iterable[int]) -> list[Step]:
        """Steps that apply `targets` and their unapplied ancestors, in order."""
        done = self.normalize(applied)
        targets = list(targets)
        required = self.ancestors(targets)
        in_use: set[int] = set()
        for s, replaced in self.squashes.items():
            # The fast path: a squash stands in for originals none of which are applied,
            # as long as the target needs every one of them.
            if s not in done and not (replaced & done) and replaced <= required:
                in_use.add(s)
        drop = {r for s in in_use for r in self.squashes[s]}
        drop |= {s for s in self.squashes if s in required and s not in in_use}
        todo = [n for n in self._ordered(set(required) | in_use, drop & set(required)) if n not in done]
        return [
            Step(self.migrations[n], True, tuple(sorted(self.squashes[n])) if n in in_use else ())
            for n in todo
        ]

    def _revert(self, done: frozenset[int], revert: set[int]) -> list[Step]:
        squashes = {s for s in self.squashes if s in done}
        order = self._ordered(set(done) & set(self.migrations) | squashes, squashes)
        steps = []
        for n in reversed(order):
            if n in revert:
                s = self.replaced_by.get(n)
                # Reverting any original un-applies the squash that stands for them.
                backfill = (s,) if s is not None and s in done and s not in {x for st in steps for x in st.backfill} else ()
                steps.append(Step(self.migrations[n], False, backfill))
        return steps

    def down(self, applied: Iterable[int], targets: Iterable[int]) -> list[Step]:
        """Steps that revert every applied descendant of `targets` (targets stay applied)."""
        done = self.normalize(applied)
        revert = set(self.descendants(targets)) & done
        revert -= set(self.squashes)
        return self._revert(done, revert)

    def to_set(self, applied: Iterable[int], targets: Iterable[int]) -> list[Step]:
        """Steps that leave exactly `ancestors(targets)` applied: reverts first, then applies."""
        done = self.normalize(applied)
        keep = self.ancestors(targets)
        revert = (set(done) - set(keep)) - set(self.squashes)
        steps = self._revert(done, revert) if revert else []
        remaining = done - revert - {s for s in self.squashes if self.squashes[s] & revert}
        return steps + self.up(remaining, targets)
