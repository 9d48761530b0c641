"""estimate-accuracy: how close `plan`'s estimates land to the real durations.

Installs the bundled product at its oldest release in one database, loads the demo's sample data
(migrations/demo/seed, every generate_series bound times --scale), ANALYZE, runs `pgferry
calibrate`, reads the plan to the newest release with its impact (engine/upgrade/impact.py), then
runs that upgrade and compares each step's estimate with its measured duration (MigrationFinished /
OobFinished seconds). Reported: the median estimate/measured ratio of the steps that took over
1 s, the share of those within 3x either way, the whole plan's ratio, and the warm time of reading
the impact. Targets (issue 16): median within 1.5x, 90% within 3x, whole plan within 1.5x.
"""
from __future__ import annotations

import re
import statistics
import time

from .common import ROOT, Result

SCALES = {"tiny": 1, "full": 5}
LONG_S = 1.0


def seed_sql(schema: str, scale: int) -> str | None:
    path = ROOT / "migrations" / "demo" / "seed" / f"{schema}.sql"
    if not path.exists():
        return None
    return re.sub(r"generate_series\(1, (\d+)\)", lambda m: f"generate_series(1, {int(m.group(1)) * scale})",
                  path.read_text())


def measured_seconds(events: list) -> dict[str, float]:
    """Each step's duration by PlanStep.key, from the run's events."""
    from pgferry.engine.events import MigrationFinished, OobFinished

    out: dict[str, float] = {}
    for e in events:
        if isinstance(e, MigrationFinished):
            out[f"schema:{e.schema}:{e.migration_id}:{'up' if e.up else 'down'}"] = e.seconds
        elif isinstance(e, OobFinished):
            key = f"oob:{e.migration_id}:{'down' if e.reverse else 'up'}"
            out[key] = out.get(key, 0.0) + e.seconds
    return out


def one_run(dsn: str, scale: int, log) -> dict:
    import psycopg

    from pgferry.engine.definitions.catalog import bundled_migrations_dir, load
    from pgferry.engine.run.runner import RunOptions
    from pgferry.engine.upgrade.calibrate import calibrate
    from pgferry.engine.upgrade.impact import with_impact
    from pgferry.engine.upgrade.planning import Connections, make_plan
    from pgferry.engine.upgrade.upgrade import Upgrade

    defs = load(bundled_migrations_dir())
    conns = Connections({s: dsn for s in defs.schemas})
    options = RunOptions(privileged_dsn=dsn)
    Upgrade(defs, conns, options=options).run(defs.releases.releases[0].version)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema in defs.schemas:
            text = seed_sql(schema, scale)
            if text:
                with conn.transaction():
                    conn.execute(text)
        conn.execute("ANALYZE")
    figures = calibrate(dsn)
    log(f"calibrated: scan {figures.scan_mb_s} MB/s, rewrite {figures.rewrite_mb_s} MB/s, "
        f"index {figures.index_mb_s} MB/s, catalog {figures.catalog_s * 1000:.1f} ms")
    latest = defs.releases.latest().version
    plan = with_impact(make_plan(defs, conns, latest), defs, conns)
    started = time.perf_counter()
    with_impact(plan, defs, conns)
    impact_s = time.perf_counter() - started
    events: list = []
    started = time.perf_counter()
    Upgrade(defs, conns, options=options, on_event=events.append).run(latest)
    wall = time.perf_counter() - started
    measured = measured_seconds(events)
    steps = [{"key": k, "estimate_s": plan.impact.steps[k].estimate_s, "measured_s": round(measured[k], 4),
              "work": list(plan.impact.steps[k].work)}
             for k in plan.impact.steps if k in measured]
    return {"steps": steps, "estimated_total_s": plan.impact.total_s(), "measured_steps_s": round(sum(measured.values()), 3),
            "upgrade_wall_s": round(wall, 3), "impact_read_s": round(impact_s, 4), "calibration": figures.as_dict()}


def spread(steps: list[dict]) -> dict:
    long = [s for s in steps if s["measured_s"] >= LONG_S]
    ratios = [s["estimate_s"] / s["measured_s"] for s in long if s["measured_s"] > 0]
    within = [r for r in ratios if 1 / 3 <= r <= 3]
    return {"long_steps": len(long), "median_ratio": statistics.median(ratios) if ratios else None,
            "within_3x": len(within) / len(ratios) if ratios else None}


def run(*, size: str = "full", runs: int = 1, new_database=None, log=print, scale: int | None = None, **_) -> Result:
    assert new_database is not None, "estimate-accuracy needs a server"
    scale = scale or SCALES[size]
    res = Result("estimate-accuracy", {"size": size, "scale": scale, "runs": runs, "long_step_s": LONG_S})
    res.metric("median", f"median estimate/measured, steps over {LONG_S:.0f} s", "ratio")
    res.metric("within3", "  share of those within 3x", "%", target=90.0, higher_is_better=True)
    res.metric("whole", "whole plan: estimate/measured", "ratio")
    res.metric("long", "  steps over 1 s", "")
    res.metric("impact", "reading the impact (warm)", "s", target=1.0)
    for i in range(runs):
        out = one_run(new_database(), scale, log)
        s = spread(out["steps"])
        if s["median_ratio"] is not None:
            res.add("median", s["median_ratio"])
            res.add("within3", 100 * s["within_3x"])
        res.add("whole", out["estimated_total_s"] / out["measured_steps_s"])
        res.add("long", s["long_steps"])
        res.add("impact", out["impact_read_s"])
        res.info.setdefault("runs", []).append(out)
        for step in sorted(out["steps"], key=lambda x: -x["measured_s"])[:12]:
            log(f"  {step['key']:<48} estimate {step['estimate_s']:8.3f} s  measured {step['measured_s']:8.3f} s  "
                f"ratio {step['estimate_s'] / max(step['measured_s'], 1e-6):6.2f}  {', '.join(step['work'])}")
    return res
