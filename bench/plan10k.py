"""plan-10k: load, validate and plan over a long synthetic history.

full: 100 releases x 100 migrations (99 plus a merge: every release forks two branches and
merges them) = 10,000 migrations in one schema, and 10 out-of-band migrations whose
lifetimes overlap (each lives 15 releases, a new one every 9), so the plan oldest -> newest
has several stops. tiny: 5 releases x 10 migrations, 2 out-of-band migrations.

Measured, each run in fresh processes ("cold"), first without an index, then with the index
`pgferry validate --write-index` writes (a product's release build would ship it):
  load total    load_definitions() as `validate` calls it (lint included)
  act load      the same without the lint: what a command that acts loads when the defcache misses
  parse         reading + YAML + pglast parse of every file (releases and out-of-band too)
  checks        check_migration + check_graph + check_releases + check_out_of_band
  lint          introduced_in + lint
and in this process, after one warm-up call (not counted):
  plan warm     Planner(defs).plan(applied at the oldest release, newest release)
If plan warm misses its target, one extra call runs under cProfile; the top functions go to
the result's info.
"""
from __future__ import annotations

import cProfile
import json
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, Result

SIZES = {
    "tiny": dict(releases=5, per_release=9, oob={1: (1, 3), 2: (2, 4)}),
    # ids 1..10 introduced at release index 1, 10, 19, ... and deprecated 15 releases later
    "full": dict(releases=100, per_release=99, oob={i + 1: (i * 9 + 1, i * 9 + 15) for i in range(10)}),
}
PLAN_TARGET_S = 1.0
VALIDATE_TARGET_S = 3.0  # issue 19: validate of the 10,000-migration history, cold


def _child(mode: str, root: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench._load_child", mode, str(root)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"load child ({mode}) failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _profile_top(fn, n: int = 10) -> dict:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt

    def rows(key: str) -> list[dict]:
        stats.sort_stats(key)
        out = []
        for func in stats.fcn_list[:n]:
            cc, nc, tt, ct, _ = stats.stats[func]
            filename, line, name = func
            short = filename.replace(str(ROOT) + "/", "")
            if "site-packages/" in short:
                short = short.split("site-packages/", 1)[1]
            out.append({"function": f"{short}:{line}({name})", "calls": nc, "tottime_s": round(tt, 4),
                        "cumtime_s": round(ct, 4)})
        return out

    return {"total_s": round(total, 4), "by_tottime": rows("tottime"), "by_cumtime": rows("cumulative")}


def run(*, size: str = "full", runs: int = 5, new_database=None, log=print, **_) -> Result:
    from pgferry.engine.definitions.catalog import load_definitions
    from pgferry.engine.definitions.indexwriter import write_index
    from pgferry.engine.plan.planner import Planner
    from tests.fixtures.synthetic import make_product

    spec = SIZES[size]
    res = Result("plan-10k", {"size": size, "runs": runs, **{k: v for k, v in spec.items() if k != "oob"},
                              "branchy": True, "out_of_band": {str(k): v for k, v in spec["oob"].items()}})
    tmp = Path(tempfile.mkdtemp(prefix="pgferry-bench-plan-"))
    try:
        t = time.perf_counter()
        root = make_product(tmp / "migrations", releases=spec["releases"], per_release=spec["per_release"],
                            oob=spec["oob"], branchy=True)
        res.info["generate_s"] = round(time.perf_counter() - t, 3)

        res.metric("load", "validate cold: load_definitions total", "s", target=VALIDATE_TARGET_S)
        res.metric("import", "  engine import (cold process)", "s", note="not part of load")
        res.metric("parse", "  parse (YAML + pglast + releases)", "s")
        res.metric("checks", "  validate: check_* (graph build incl.)", "s")
        res.metric("lint", "  validate: lint (+introduced_in)", "s")
        res.metric("load_nolint", "  load without lint (parse+build+checks)", "s")
        res.metric("act", "act load cold (no lint, as `up` on a defcache miss)", "s")
        res.metric("load_index", "validate cold, with the index shipped", "s", target=VALIDATE_TARGET_S)
        res.metric("act_index", "act load cold, with the index shipped", "s")
        res.metric("plan", "plan warm: Planner(defs).plan(oldest→newest)", "s", target=PLAN_TARGET_S)
        findings_total = findings_pieces = None
        for i in range(runs):
            log(f"  plan-10k run {i + 1}/{runs}: cold load (2 fresh processes)")
            total = _child("total", root)
            pieces = _child("pieces", root)
            res.add("load", total["total_s"])
            res.add("act", _child("act", root)["total_s"])
            res.add("import", total["import_s"])
            res.add("parse", pieces["parse_s"] + pieces["build_s"])
            checks = pieces["check_migration_s"] + pieces["check_graph_s"] + pieces["check_releases_s"]
            res.add("checks", checks)
            res.add("lint", pieces["lint_s"])
            res.add("load_nolint", pieces["parse_s"] + pieces["build_s"] + checks + pieces["sort_s"])
            findings_total, findings_pieces = total["findings"], pieces["findings"]
            res.info.setdefault("pieces_runs", []).append({k: round(v, 4) for k, v in pieces.items() if k.endswith("_s")})
            res.info["migrations"] = total["migrations"]
        res.info["findings"] = findings_total
        log("  plan-10k: writing the index (pgferry validate --write-index), then loading with it")
        t = time.perf_counter()
        written, _ = write_index(root)
        res.info["index_write_s"] = round(time.perf_counter() - t, 3)
        res.info["index_mib"] = round(written.stat().st_size / 2**20, 2)
        for i in range(runs):
            indexed = _child("total", root)
            res.add("load_index", indexed["total_s"])
            res.add("act_index", _child("act", root)["total_s"])
            if indexed["findings"] != findings_total:
                res.info["warning"] = f"with the index {indexed['findings']} findings, without {findings_total}"
        if findings_total != findings_pieces:
            res.info["warning"] = (f"piece-wise load found {findings_pieces} findings, load_definitions {findings_total}: "
                                   "bench/_load_child.py has drifted from engine/definitions/catalog.py")

        log("  plan-10k: loading once in this process for the warm plan")
        defs, findings = load_definitions(root)
        assert defs is not None, [str(f) for f in findings[:5]]
        first, last = defs.releases.releases[0], defs.releases.releases[-1]
        applied = {s: defs.required(first, s) for s in defs.schemas}

        def plan():
            return Planner(defs).plan(applied, last.version)

        t = time.perf_counter()
        p = plan()  # warm-up: lazy graphs (requirement, order index) get built here
        res.info["plan_first_call_s"] = round(time.perf_counter() - t, 4)
        res.info["plan"] = {"from": p.from_version, "to": p.to_version, "steps": len(p.steps),
                            "schema_steps": len(p.schema_steps()),
                            "stops": [{"release": s.release.version, "out_of_band": list(s.out_of_band)} for s in p.stops]}
        for i in range(runs):
            t = time.perf_counter()
            plan()
            res.add("plan", time.perf_counter() - t)
        if not res.metrics["plan"].met():
            log("  plan-10k: plan warm misses its target; profiling one more call")
            res.info["plan_profile"] = _profile_top(plan)
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
