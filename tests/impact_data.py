"""Plans with impacts constructed here, for the tests of how every view renders them (the estimator
that reads them from a live database is tested on its own)."""
from __future__ import annotations

from dataclasses import replace

from pgferry.engine.definitions.catalog import bundled_migrations_dir, load
from pgferry.engine.plan.impact import Basis, Blocks, LintFinding, LockHeld, PlanImpact, StepImpact, TableTouched
from pgferry.engine.plan.planner import Plan, Planner

AE, SUE, SHARE = "ACCESS EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE"
STARS_LINT = LintFinding(
    "add-column-volatile-default", "warning",
    "ADD COLUMN stars with a volatile default on public.repo: 60,000 rows rewritten under ACCESS EXCLUSIVE, "
    "~3.1 s of blocked reads and writes",
    "add the column without a default, then SET DEFAULT, then backfill in batches")
# By run position (1-based) in the bundled product's plan from 3.20.0 to 4.2.0.
STEPS = {
    1: StepImpact(2.4, Basis.DEFAULT, (LockHeld("public.event_logs", SUE, Blocks.NOTHING, 2.4),),
                  (TableTouched("public.event_logs", 2_100_000, 734_003_200),), ("scan",)),
    2: StepImpact(3.1, Basis.DEFAULT, (LockHeld("public.repo", AE, Blocks.READS_AND_WRITES, 3.1),),
                  (TableTouched("public.repo", 60_000, 5_111_808),), ("rewrite",), (STARS_LINT,)),
    3: StepImpact(12.5, Basis.DEFAULT, (LockHeld("public.repo", SUE, Blocks.NOTHING, 12.5),),
                  (TableTouched("public.repo", 60_000, 5_111_808),), ("index build",)),
    4: StepImpact(0.01, Basis.DEFAULT, (LockHeld("public.feature_flags", AE, Blocks.READS_AND_WRITES, 0.01),),
                  (TableTouched("public.feature_flags", 0, 0, created_by_plan=True),), ("catalog only",)),
    5: StepImpact(1.5, Basis.DEFAULT, (LockHeld("public.users", SHARE, Blocks.WRITES, 1.5),),
                  (TableTouched("public.users", 250_000, 41_943_040),), ("index build",)),
}
CATALOG_ONLY = StepImpact(0.02, Basis.DEFAULT, work=("catalog only",))
BATCHES = StepImpact(40.0, Basis.DEFAULT, work=("batches",))


def bundled_plan() -> Plan:
    """3.20.0 → 4.2.0 of the bundled product, planned offline from the releases' applied sets."""
    defs = load(bundled_migrations_dir())
    release = defs.release("3.20.0")
    return Planner(defs).plan({s: defs.required(release, s) for s in defs.schemas}, "4.2.0")


def with_impacts(plan: Plan, basis: Basis = Basis.DEFAULT) -> Plan:
    steps = {}
    for n, s in enumerate(plan.steps, 1):
        found = STEPS.get(n) or (BATCHES if s.kind == "out_of_band" else CATALOG_ONLY)
        steps[s.key] = replace(found, basis=basis)
    return replace(plan, impact=PlanImpact(steps, basis))
