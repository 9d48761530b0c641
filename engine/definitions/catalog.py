"""The whole set of definitions: every schema's graph plus the release catalogue."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from ..errors import DefinitionError, Finding, UsageError
from . import defcache
from .defindex import Analyses
from .definitions import is_schema_dir, load_schema, read_yaml
from .graph import SchemaGraph
from .outofband import OutOfBand, check_out_of_band, load_out_of_band
from .releases import STABLE, Release, ReleaseCatalogue, parse_releases
from .validate import check_graph, check_migration, check_releases, introduced_in, sort_findings


@dataclass(frozen=True)
class DatabaseVersion:
    """What a database's applied sets say about its release (docs/design.md §4)."""

    release: Release | None  # the newest release whose every migration is applied
    # applied migrations beyond `release`, per schema
    extra: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    # the releases that introduce them, oldest first; and how many of them no release holds
    extra_from: tuple[Release, ...] = ()
    unreleased: int = 0

    @property
    def label(self) -> str:
        """'3.23.0 + 19 migrations of 3.24.0–3.27.0': the release reached, then what is applied beyond
        it and which releases those migrations come from (a run stopped between releases)."""
        base = self.release.version if self.release else "none"
        n = sum(len(v) for v in self.extra.values())
        released = n - self.unreleased
        if released:
            lo, hi = self.extra_from[0].version, self.extra_from[-1].version
            base += f" + {released} migration{'s' if released != 1 else ''} of {lo if lo == hi else f'{lo}–{hi}'}"
        if self.unreleased:
            base += f" + {self.unreleased} unreleased migration{'s' if self.unreleased != 1 else ''}"
        return base


@dataclass(frozen=True)
class Definitions:
    root: str
    schemas: Mapping[str, SchemaGraph]
    releases: ReleaseCatalogue
    warnings: tuple[Finding, ...] = ()
    out_of_band: Mapping[int, OutOfBand] = field(default_factory=dict)

    def schema(self, name: str) -> SchemaGraph:
        try:
            return self.schemas[name]
        except KeyError:
            raise UsageError(f"unknown schema {name!r}", hint=f"known schemas: {', '.join(self.schemas)}") from None

    def required(self, release: Release, schema: str) -> frozenset[int]:
        leaves = release.leaves.get(schema)
        return self.schemas[schema].ancestors(leaves) if leaves else frozenset()

    def release(self, version: str) -> Release:
        r = self.releases.find(version)
        if r is None:
            known = ", ".join(x.version for x in self.releases.releases[-5:])
            raise UsageError(f"unknown release {version!r}", hint=f"newest releases: {known}")
        return r

    def heads_on(self, schema: str, channel: str = STABLE) -> frozenset[int]:
        """What a schema's pending migrations count towards on `channel`: every migration but those
        that only releases of another channel hold (an insiders preview) and what builds on them.
        Migrations no release holds yet (in development) stay pending."""
        graph = self.schemas[schema]
        offered: set[int] = set()
        elsewhere: set[int] = set()
        for r in self.releases.releases:
            (offered if r.channel in (STABLE, channel) else elsewhere).update(self.required(r, schema))
        hidden = elsewhere - offered
        if not hidden:
            return graph.leaves()
        return frozenset(graph.migrations) - hidden - graph.descendants(hidden)

    def version_of(self, applied: Mapping[str, Iterable[int]]) -> DatabaseVersion:
        done = {s: self.schemas[s].normalize(applied.get(s, ())) for s in self.schemas}
        best: Release | None = None
        # Newest first: a release the database has not reached fails at once on a missing leaf.
        for r in reversed(self.releases.releases):
            if all(self.schemas[s].has_all_ancestors(leaves, done[s]) for s, leaves in r.leaves.items()
                   if s in self.schemas):
                best = r
                break
        extra: dict[str, tuple[int, ...]] = {}
        for s, ids in done.items():
            base = self.required(best, s) if best else frozenset()
            more = set(ids) - base - set(self.schemas[s].squashes)
            if more:
                extra[s] = tuple(self.schemas[s].order(more))
        introducing, unreleased = self.introducing(extra)
        return DatabaseVersion(best, extra, introducing, unreleased)

    def introducing(self, extra: Mapping[str, Iterable[int]]) -> tuple[tuple[Release, ...], int]:
        """The releases that first hold some of `extra` (oldest first), and how many no release holds."""
        left = {s: set(ids) for s, ids in extra.items() if ids}
        out: list[Release] = []
        for r in self.releases.releases:
            if not left:
                break
            found = False
            for s in list(left):
                held = left[s] & self.required(r, s)
                if held:
                    found = True
                    left[s] -= held
                    if not left[s]:
                        del left[s]
            if found:
                out.append(r)
        return tuple(out), sum(len(ids) for ids in left.values())


def bundled_migrations_dir() -> Path:
    """The product's own definitions, pgferry.migrations: the folder beside the engine's, in a
    checkout (migrations/ beside engine/) as in an installed copy (pgferry/migrations)."""
    return Path(__file__).resolve().parents[2] / "migrations"


@contextmanager
def _no_cycle_collection():
    """Loading makes hundreds of thousands of objects that live on (statements, trees, metadata) and
    almost no cycles: the cycle collector's passes over the growing heap were a fifth of a cold load
    of 10,000 migrations. Off while loading; back on (if it was on) after, to collect as usual."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def load_definitions(path: str | Path, *, lint_warnings: bool = True,
                     analyses: Analyses | None = None) -> tuple[Definitions | None, list[Finding]]:
    """Load and validate everything; return the definitions (None if unusable) and all findings.

    `lint_warnings=False` skips the lint (warnings only, never errors): commands that act do not
    show them, and the lint looks inside every statement's tree, which loading otherwise never
    builds (most of the load time of a thousand migrations). Files are analysed by `analyses`:
    by default the parsers, or the index the folder ships for the files it matches (defindex.py)."""
    with _no_cycle_collection():
        return _load_definitions(Path(path), lint_warnings, analyses)


def _load_definitions(root: Path, lint_warnings: bool, analyses: Analyses | None) -> tuple[Definitions | None, list[Finding]]:
    findings: list[Finding] = []
    if not root.is_dir():
        findings.append(Finding(str(root), None, "migrations directory not found", "pass --migrations DIR pointing at your definitions", rule="missing-dir"))
        return None, findings
    if analyses is None:
        analyses = Analyses.of_folder(root, notes=lint_warnings)
    graphs: dict[str, SchemaGraph] = {}
    broken: dict[str, frozenset[int]] = {}
    for entry in sorted(root.iterdir()):
        if is_schema_dir(entry):
            loaded = load_schema(entry, root, findings, analyses)
            graphs[loaded.name] = SchemaGraph(loaded.name, loaded.migrations)
            broken[loaded.name] = loaded.broken
    rel = f"{root.name}/releases.yaml"
    catalogue = ReleaseCatalogue(path=rel)
    rpath = root / "releases.yaml"
    if rpath.exists():
        doc = read_yaml(rpath, rel, findings, analyses)
        if doc is not None:
            parsed = parse_releases(doc, rel)
            catalogue = parsed.catalogue
            findings += parsed.findings
    else:
        findings.append(Finding(rel, None, "missing releases.yaml", "add releases.yaml listing every release (DESIGN §4)", rule="missing-file"))
    for graph in graphs.values():
        for m in graph.migrations.values():
            findings += check_migration(m)
    healthy: dict[str, SchemaGraph] = {}
    for name, graph in graphs.items():
        graph_findings = check_graph(graph, broken[name])
        findings += graph_findings
        if not graph_findings and not broken[name]:
            healthy[name] = graph
    # An unhealthy schema's errors are reported already; do not call it unknown in releases.
    findings += check_releases(catalogue, healthy, set(graphs) - set(healthy))
    # Schemas in the order releases introduce them (frontend before codeintel ...), not by folder name.
    first_seen = {name: i for i, name in enumerate(dict.fromkeys(n for r in catalogue.releases for n in r.leaves))}
    graphs = dict(sorted(graphs.items(), key=lambda kv: (first_seen.get(kv[0], len(first_seen)), kv[0])))
    oobs = load_out_of_band(root, findings, analyses)
    if analyses.warning is not None:
        findings.append(analyses.warning)
    findings += check_out_of_band(oobs, graphs, catalogue)
    if lint_warnings and not any(f.severity == "error" for f in findings):
        from .lint import lint  # pglast's visitors: only `validate` looks inside the statements

        for graph in healthy.values():
            findings += lint(graph, introduced_in(graph, catalogue))
    findings = sort_findings(findings)
    if any(f.severity == "error" for f in findings):
        return None, findings
    warnings = tuple(f for f in findings if f.severity == "warning")
    return Definitions(str(root), graphs, catalogue, warnings, oobs), findings


def load(path: str | Path) -> Definitions:
    """Strict loading for commands that act: any error stops with exit code 2 (`pgferry validate`
    also reports the lint warnings)."""
    root = Path(path)
    # Only when the cache is on: the fingerprint stats every file, for nothing otherwise.
    key = defcache.fingerprint(root) if root.is_dir() and defcache.cache_dir() is not None else None
    if key is not None:
        cached = defcache.read(root, key[0])
        if cached is not None:
            return cached
    defs, findings = load_definitions(path, lint_warnings=False)
    if defs is None:
        raise DefinitionError(findings)
    if key is not None:
        defcache.write(root, key[0], key[1], defs)
    return defs
