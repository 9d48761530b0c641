"""The little directed-graph toolkit the engine needs, without networkx.

networkx cost a third of a second of every command's start (its import pulls in hundreds of
modules), while the engine uses a handful of its calls on graphs of plain integer ids. These
are the same calls with the same results (successor order is insertion order, as in
networkx; the topological order breaks ties by the given key).
"""
from __future__ import annotations

import heapq
from typing import Callable, Hashable, Iterable, Iterator


class DiGraph:
    __slots__ = ("_succ", "_pred")

    def __init__(self, edges: Iterable[tuple[Hashable, Hashable]] = ()):
        self._succ: dict = {}
        self._pred: dict = {}
        for u, v in edges:
            self.add_edge(u, v)

    def add_node(self, n) -> None:
        if n not in self._succ:
            self._succ[n] = {}
            self._pred[n] = {}

    def add_nodes_from(self, nodes: Iterable) -> None:
        for n in nodes:
            self.add_node(n)

    def add_edge(self, u, v) -> None:
        self.add_node(u)
        self.add_node(v)
        self._succ[u][v] = None
        self._pred[v][u] = None

    def copy(self) -> "DiGraph":
        g = DiGraph()
        g._succ = {n: dict(s) for n, s in self._succ.items()}
        g._pred = {n: dict(p) for n, p in self._pred.items()}
        return g

    def successors(self, n) -> Iterator:
        return iter(self._succ[n])

    def predecessors(self, n) -> Iterator:
        return iter(self._pred[n])

    def out_degree(self, n) -> int:
        return len(self._succ[n])

    def in_degree(self, n) -> int:
        return len(self._pred[n])

    @property
    def edges(self) -> list[tuple]:
        return [(u, v) for u, s in self._succ.items() for v in s]

    @property
    def nodes(self) -> list:
        return list(self._succ)

    def __contains__(self, n) -> bool:
        return n in self._succ

    def __iter__(self) -> Iterator:
        return iter(self._succ)

    def __len__(self) -> int:
        return len(self._succ)


class CycleError(ValueError):
    pass


def topological_sort(g: DiGraph, key: Callable = lambda n: n) -> list:
    """Kahn's algorithm, ties broken by `key` (networkx's lexicographical_topological_sort)."""
    indegree = {n: len(p) for n, p in g._pred.items()}
    ready = [(key(n), n) for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, n = heapq.heappop(ready)
        out.append(n)
        for c in g._succ[n]:
            indegree[c] -= 1
            if indegree[c] == 0:
                heapq.heappush(ready, (key(c), c))
    if len(out) != len(g):
        raise CycleError("the graph has a cycle")
    return out


def descendants(g: DiGraph, n) -> set:
    out: set = set()
    stack = list(g._succ[n])
    while stack:
        x = stack.pop()
        if x in out:
            continue
        out.add(x)
        stack.extend(c for c in g._succ[x] if c not in out)
    out.discard(n)  # as networkx: the source is not its own descendant
    return out


def has_path(g: DiGraph, source, target) -> bool:
    if source == target:
        return True
    seen = {source}
    stack = [source]
    while stack:
        for c in g._succ[stack.pop()]:
            if c == target:
                return True
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return False


def find_cycle(g: DiGraph) -> list[tuple] | None:
    """The edges of one cycle, [(a, b), (b, c), ..., (x, a)], or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(g._succ, WHITE)
    for start in g._succ:
        if color[start] != WHITE:
            continue
        path = [start]
        iters = [iter(g._succ[start])]
        color[start] = GREY
        while iters:
            for c in iters[-1]:
                if color[c] == GREY:
                    cyc = path[path.index(c):]
                    return [(cyc[i], cyc[i + 1]) for i in range(len(cyc) - 1)] + [(cyc[-1], c)]
                if color[c] == WHITE:
                    color[c] = GREY
                    path.append(c)
                    iters.append(iter(g._succ[c]))
                    break
            else:
                color[path.pop()] = BLACK
                iters.pop()
    return None
