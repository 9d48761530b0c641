"""Crash at any instant, CI size: 20 seeded trials of the harness in tests/faults/crash.py.

The seed is printed; PGFERRY_FAULT_SEED=N replays a run (or =random for a new one), and
`python -m tests.faults --trials 500 --seed N` runs the full size.
"""
from __future__ import annotations

import os
import random

from tests.faults.conftest import say
from tests.faults.crash import CrashHarness

CI_SEED = 20261122
CI_TRIALS = int(os.environ.get("PGFERRY_FAULT_TRIALS", "20"))  # the full size: python -m tests.faults --trials 500


def test_crash_at_any_instant(request, product, tmp_path):
    raw = os.environ.get("PGFERRY_FAULT_SEED", str(CI_SEED))
    seed = random.SystemRandom().randrange(1, 2**31) if raw == "random" else int(raw)
    say(request, f"\ncrash harness: seed {seed} ({CI_TRIALS} trials; replay: python -m tests.faults --seed {seed} "
                 f"--trials {CI_TRIALS} --max-kills 1)")
    with CrashHarness(seed, max_kills=1, jobs=2, product=product, workdir=tmp_path) as h:
        summary = h.run(CI_TRIALS)
    for line in summary.lines():
        say(request, line)
    assert not summary.failures, "\n".join(summary.lines())
    assert summary.kills >= CI_TRIALS * 3 // 4, "most kills must land while the upgrade runs"
