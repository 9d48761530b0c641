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

from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Mapping

import networkx as nx

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

    # -- structure -------------------------------------------------------------------------

    @cached_property
    def declared(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(self.migrations)
        for m in self.migrations.values():
            for p in m.parents:
                g.add_edge(p, m.id)
        return g

    @cached_property
    def requirement(self) -> nx.DiGraph:
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
        order = nx.lexicographical_topological_sort(self.requirement, key=lambda n: n)
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
        out: set[int] = set()
        g = self.requirement
        for i in ids:
            if i not in g:
                raise UnknownMigration(i)
            if i in out:
                continue
            out.add(i)
            out |= nx.ancestors(g, i)
        return frozenset(out)

    def descendants(self, ids: Iterable[int]) -> frozenset[int]:
        out: set[int] = set()
        for i in ids:
            if i not in self.requirement:
                raise UnknownMigration(i)
            out |= nx.descendants(self.requirement, i)
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

    def _contract(self, nodes: set[int], drop: set[int]) -> nx.DiGraph:
        """Subgraph of `nodes`, with `drop` removed but paths through them kept as edges."""
        g = self.requirement.subgraph(nodes | drop).copy()
        for x in self.order(drop):
            preds, succs = list(g.predecessors(x)), list(g.successors(x))
            g.add_edges_from((p, s) for p in preds for s in succs if p != s)
            g.remove_node(x)
        return g

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
        g = self._contract((set(required) | in_use) - drop, drop & set(required))
        todo = [n for n in nx.lexicographical_topological_sort(g, key=lambda n: n) if n not in done]
        return [
            Step(self.migrations[n], True, tuple(sorted(self.squashes[n])) if n in in_use else ())
            for n in todo
        ]

    def _revert(self, done: frozenset[int], revert: set[int]) -> list[Step]:
        squashes = {s for s in self.squashes if s in done}
        g = self._contract(set(done) - squashes, squashes)
        order = list(nx.lexicographical_topological_sort(g, key=lambda n: n))
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
