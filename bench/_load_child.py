"""Child process for the cold-load measurement: `python -m bench._load_child MODE DIR`.

"Cold" means a fresh interpreter: no module, parse or graph cache survives from an earlier
call (the OS page cache does; it is not dropped, as that needs root and disturbs the host).

MODE total:  time `load_definitions(DIR)` as `pgferry validate` calls it (with DIR's index if it ships one).
MODE act:    the same without the lint, as a command that acts loads (defcache missed).
MODE pieces: the same steps as `engine.definitions.catalog.load_definitions`, timed one by one. Keep this in
             step with that function; the finding count is compared with the total's so a drift
             between the two shows up as a mismatch in the benchmark's output.
Prints one JSON object on stdout.
"""
from __future__ import annotations

import gc
import json
import sys
import time


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    from pathlib import Path

    from pgferry.engine.definitions import catalog
    from pgferry.engine.definitions.definitions import is_schema_dir, load_schema
    from pgferry.engine.definitions.graph import SchemaGraph
    from pgferry.engine.definitions.outofband import check_out_of_band, load_out_of_band
    from pgferry.engine.definitions.releases import ReleaseCatalogue, parse_releases
    from pgferry.engine.definitions.lint import lint
    from pgferry.engine.definitions.validate import check_graph, check_migration, check_releases, introduced_in, sort_findings
    from pgferry.engine.definitions.yamlfile import load_yaml

    out: dict = {"import_s": time.perf_counter() - t0}
    root = Path(path)
    if mode in ("total", "act"):
        t = time.perf_counter()
        defs, findings = catalog.load_definitions(root, lint_warnings=mode == "total")
        out["total_s"] = time.perf_counter() - t
        out["ok"] = defs is not None
        out["findings"] = len(findings)
        out["migrations"] = sum(len(g.migrations) for g in defs.schemas.values()) if defs else 0
        print(json.dumps(out))
        return

    clock = time.perf_counter
    findings: list = []
    gc.disable()  # as load_definitions does while it loads
    # 1. read + parse: metadata YAML, every SQL file through pglast, releases.yaml, out-of-band folders
    t = clock()
    loaded = [load_schema(e, root, findings) for e in sorted(root.iterdir()) if is_schema_dir(e)]
    rel = f"{root.name}/releases.yaml"
    parsed = parse_releases(load_yaml((root / "releases.yaml").read_text(encoding="utf-8")), rel)
    catalogue: ReleaseCatalogue = parsed.catalogue
    findings += parsed.findings
    oobs = load_out_of_band(root, findings)
    out["parse_s"] = clock() - t
    # 2. build: graph objects (networkx graphs are built lazily, by the checks below)
    t = clock()
    graphs = {ls.name: SchemaGraph(ls.name, ls.migrations) for ls in loaded}
    broken = {ls.name: ls.broken for ls in loaded}
    out["build_s"] = clock() - t
    # 3. per-migration checks (statement rules)
    t = clock()
    for g in graphs.values():
        for m in g.migrations.values():
            findings += check_migration(m)
    out["check_migration_s"] = clock() - t
    # 4. graph checks (parents, cycles, roots): builds the requirement graph and its order
    t = clock()
    healthy = {}
    for name, g in graphs.items():
        gf = check_graph(g, broken[name])
        findings += gf
        if not gf and not broken[name]:
            healthy[name] = g
    out["check_graph_s"] = clock() - t
    # 5. releases (leaves exist, ancestor sets never shrink) and out-of-band lifetimes
    t = clock()
    findings += check_releases(catalogue, healthy, set(graphs) - set(healthy))
    findings += check_out_of_band(oobs, graphs, catalogue)
    out["check_releases_s"] = clock() - t
    # 6. lint (warnings with DAG context), including introduced_in
    t = clock()
    if not any(f.severity == "error" for f in findings):
        for g in healthy.values():
            findings += lint(g, introduced_in(g, catalogue))
    out["lint_s"] = clock() - t
    t = clock()
    findings = sort_findings(findings)
    out["sort_s"] = clock() - t
    out["findings"] = len(findings)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
