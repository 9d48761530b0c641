"""Static validation of loaded definitions (docs/design.md §3): the rules whose findings are errors,
per migration, per schema graph and for the release catalogue; the lint warnings are in lint.py.

Every rule returns `Finding`s that name the file, the line and the fix. Errors make the
definitions unusable.
"""
from __future__ import annotations

from typing import Collection, Iterable, Mapping

from ..errors import Finding
from . import digraph
from .definitions import Migration
from .graph import SchemaGraph
from .releases import ReleaseCatalogue

def _err(m: Migration, which: str, line: int | None, message: str, hint: str, rule: str) -> Finding:
    path = m.metadata_path if which == "metadata" else getattr(m, which).path
    return Finding(path, line, message, hint, "error", rule)


# -- per-migration rules -----------------------------------------------------------------


def check_migration(m: Migration) -> list[Finding]:
    out: list[Finding] = []
    for which in ("up", "down"):
        script = getattr(m, which)
        for st in script.statements:
            if st.transaction_control:
                out.append(_err(m, which, st.line, f"explicit transaction control ({st.text.split()[0].upper()})",
                                "remove it: pgferry runs each migration in its own transaction", "transaction-control"))
            if st.privileged and not m.privileged:
                out.append(_err(m, which, st.line, f"privileged statement ({st.privilege}) in a migration not marked privileged",
                                "move it to its own migration with `privileged: true` in metadata.yaml", "privileged-unmarked"))
            if which == "down" and st.concurrent:
                out.append(_err(m, which, st.line, "CONCURRENTLY in down.sql",
                                "drop CONCURRENTLY: down migrations run in a transaction", "concurrent-down"))
            elif st.non_transactional and not (which == "up" and m.create_index_concurrently and st.is_create_index_concurrently):
                if st.is_create_index_concurrently:
                    out.append(_err(m, which, st.line, "CREATE INDEX CONCURRENTLY in a migration without createIndexConcurrently",
                                    "put it alone in its own migration with `createIndexConcurrently: true`", "cic-unmarked"))
                else:  # down migrations run in a transaction too
                    out.append(_err(m, which, st.line, f"{st.non_transactional} cannot run inside a transaction",
                                    "remove it; pgferry runs each migration in one transaction", "non-transactional"))
    if m.privileged:
        priv = [s for s in m.up.statements if s.privileged]
        plain = [s for s in m.up.statements if not s.privileged]
        if not priv:
            out.append(_err(m, "metadata", m.line_of("privileged"), "marked privileged but up.sql has no privileged statement",
                            "remove `privileged: true` or move the privileged statement here", "privileged-none"))
        elif plain:
            out.append(_err(m, "up", plain[0].line, "privileged migration mixes privileged and ordinary statements",
                            "move the ordinary statements to a child migration so the objects are owned by the application role",
                            "privileged-mixed"))
        plain_down = [s for s in m.down.statements if not s.privileged]
        # Only an actual mix: a down.sql without privileged statements mixes nothing.
        if plain_down and len(plain_down) < len(m.down.statements):
            out.append(_err(m, "down", plain_down[0].line, "privileged migration's down.sql mixes privileged and ordinary statements",
                            "keep only the privileged statements here", "privileged-mixed"))
    if m.create_index_concurrently:
        sts = m.up.statements
        if m.privileged:
            out.append(_err(m, "metadata", m.line_of("createIndexConcurrently"), "a migration cannot be both privileged and createIndexConcurrently",
                            "split it into two migrations", "cic-flag"))
        if len(sts) != 1 or not sts[0].is_create_index_concurrently:
            line = sts[1].line if len(sts) > 1 else (sts[0].line if sts else None)
            out.append(_err(m, "up", line, f"createIndexConcurrently needs exactly one CREATE INDEX CONCURRENTLY and nothing else (found {len(sts)} statement(s))",
                            "keep only the CREATE INDEX CONCURRENTLY statement in up.sql", "cic-flag"))
        elif not sts[0].facts.names_index:
            out.append(_err(m, "up", sts[0].line, "CREATE INDEX CONCURRENTLY must name its index",
                            "write CREATE INDEX CONCURRENTLY <name> ON ... so pgferry can check and repair it", "cic-flag"))
    return out


# -- graph rules -------------------------------------------------------------------------


def check_graph(graph: SchemaGraph, broken: Collection[int] = ()) -> list[Finding]:
    """`broken`: ids whose folders failed to load (already reported; not unknown here)."""
    out: list[Finding] = []
    ms = graph.migrations
    for m in ms.values():
        for p in m.parents:
            if p not in ms and p not in broken:
                out.append(Finding(m.metadata_path, m.line_of("parents"), f"unknown parent {p}",
                                   f"use an existing id of schema {graph.name} or add migration {p}", "error", "unknown-parent"))
            if p == m.id:
                out.append(Finding(m.metadata_path, m.line_of("parents"), "a migration cannot be its own parent",
                                   "remove its own id from parents", "error", "cycle"))
        for r in m.replaces:
            if r in broken:
                continue
            if r not in ms:
                out.append(Finding(m.metadata_path, m.line_of("replaces"), f"replaces unknown migration {r}",
                                   "list only ids that exist in this schema", "error", "unknown-replaced"))
            elif r == m.id:
                out.append(Finding(m.metadata_path, m.line_of("replaces"), "a migration cannot replace itself",
                                   "remove its own id from replaces", "error", "cycle"))
            elif ms[r].replaces:
                out.append(Finding(m.metadata_path, m.line_of("replaces"), f"replaces {r}, which is itself a squash",
                                   "replace the original migrations instead", "error", "nested-squash"))
    by_replaced: dict[int, int] = {}
    for m in ms.values():
        for r in m.replaces:
            if r in by_replaced and by_replaced[r] != m.id:
                out.append(Finding(m.metadata_path, m.line_of("replaces"), f"migration {r} is also replaced by {by_replaced[r]}",
                                   "a migration may be replaced by one squash only", "error", "double-squash"))
            by_replaced[r] = m.id
    if out or broken:
        return out  # the graph is not well-formed enough for the rest
    g = digraph.DiGraph((u, v) for u, v in graph.requirement.edges if u in ms and v in ms)
    g.add_nodes_from(ms)
    cycle = digraph.find_cycle(g)
    roots = set(graph.roots())
    if cycle:
        ids = [u for u, _ in cycle] + [cycle[-1][1]]
        first = ms[cycle[0][1]]
        out.append(Finding(first.metadata_path, first.line_of("parents"), "cycle: " + " -> ".join(map(str, ids)),
                           "remove one of these parent links", "error", "cycle"))
        if not roots:
            # Every migration having a parent always closes a cycle; say what is missing too.
            m = ms[min(ms)]
            out.append(Finding(m.metadata_path, m.line_of("parents"), f"schema {graph.name} has no root",
                               "the first migration needs `parents: []`", "error", "no-root"))
        return out
    # A squash and the root it replaces count as one.
    for s, replaced in graph.squashes.items():
        if s in roots and roots & replaced:
            roots.discard(s)
    if len(roots) > 1:
        names = ", ".join(str(r) for r in sorted(roots))
        m = ms[max(roots)]
        out.append(Finding(m.metadata_path, m.line_of("parents"), f"schema {graph.name} has {len(roots)} roots ({names})",
                           "give every migration but the first a parent", "error", "multiple-roots"))
    return out


def check_releases(catalogue: ReleaseCatalogue, graphs: Mapping[str, SchemaGraph],
                   broken: Collection[str] = ()) -> list[Finding]:
    """`broken`: schemas that exist but whose errors are reported already; their leaves are not checked."""
    out: list[Finding] = []
    previous: dict[str, frozenset[int]] = {}
    prev_version: dict[str, str] = {}
    for r in catalogue.releases:
        for schema, leaves in r.leaves.items():
            graph = graphs.get(schema)
            if schema in broken:
                continue
            if graph is None:
                out.append(Finding(catalogue.path, r.line, f"release {r.version} names unknown schema {schema!r}",
                                   f"known schemas: {', '.join(sorted(graphs)) or 'none'}", "error", "release-leaves"))
                continue
            missing = [i for i in leaves if i not in graph.migrations]
            if missing:
                out.append(Finding(catalogue.path, r.line, f"release {r.version}: {schema} leaf {missing[0]} does not exist",
                                   f"use an existing migration id of {schema}", "error", "release-leaves"))
                continue
            required = graph.ancestors(leaves)
            if schema in previous and not previous[schema] <= required:
                lost = sorted(previous[schema] - required)
                out.append(Finding(catalogue.path, r.line,
                                   f"release {r.version}: {schema} drops {len(lost)} migration(s) of {prev_version[schema]} (e.g. {lost[0]})",
                                   "a later release's leaves must descend from every earlier release's leaves", "error", "release-shrinks"))
            previous[schema], prev_version[schema] = required, r.version
        for schema in previous:
            if schema not in r.leaves:
                out.append(Finding(catalogue.path, r.line, f"release {r.version} omits schema {schema}, present in {prev_version[schema]}",
                                   f"list {schema}'s leaves in every release after it appears", "error", "release-shrinks"))
    return out


def introduced_in(graph: SchemaGraph, catalogue: ReleaseCatalogue) -> dict[int, str]:
    """The first release whose leaves need each migration; unreleased ones map to 'unreleased'.

    One walk over the whole history: each release only visits what no earlier release reached."""
    intro: dict[int, str] = {}
    g = graph.requirement
    for r in catalogue.releases:
        stack = [i for i in r.leaves.get(graph.name, ()) if i in graph.migrations and i not in intro]
        while stack:
            n = stack.pop()
            if n in intro:
                continue
            intro[n] = r.version
            stack.extend(p for p in g.predecessors(n) if p not in intro)
    for i in graph.migrations:
        intro.setdefault(i, "unreleased")
    return intro


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.severity != "error", f.path, f.line or 0, f.message))
