"""Crash at any instant, CI size: 20 seeded trials of the harness in tests/faults/crash.py.

The seed is printed; PGFERRY_FAULT_SEED=N replays a run (or =random for a new one), and
`python -m tests.faults --trials 500 --seed N` runs the full size.
"""
from __future__ import annotations

import os
import random

from tests.support import query, say
from tests.faults.crash import BATCH_SECONDS, CrashHarness
from tests.faults.harness import pgferry, upgrade_args
from tests.faults.product import NEWEST, differences, fingerprint

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


def test_the_data_check_compares_meaning_not_serial_ids(product):
    """A trial killed in a seed migration of serial rows (codeinsights' builtin series, 3.27.0)
    retries it with new ids: that database must compare equal to the reference; one that differs
    in content must not."""
    reference, _ = product.reference(NEWEST, "--batch-seconds", BATCH_SECONDS)
    name, dsn = product.clone("ids")
    try:
        assert pgferry(*upgrade_args(dsn, "3.26.0")).returncode == 0
        # what the killed attempt leaves: the sequence moved on, the rows rolled back
        query(dsn, "SELECT setval(pg_get_serial_sequence('insight_series', 'id'), 5000)")
        r = pgferry(*upgrade_args(dsn, NEWEST, "--batch-seconds", BATCH_SECONDS))
        assert r.returncode == 0, r.stderr[-2000:]
        assert query(dsn, "SELECT min(id) > 5000 FROM insight_series") == [(True,)]
        assert differences(reference, fingerprint(dsn)) == {}
        query(dsn, "DELETE FROM insight_series_points WHERE ctid = (SELECT min(ctid) FROM insight_series_points)")
        query(dsn, "UPDATE repo SET stars = coalesce(stars, 0) + 1 WHERE id = (SELECT min(id) FROM repo)")
        assert set(differences(reference, fingerprint(dsn))) == {"insight_series_points", "repo.stars"}
    finally:
        product.server.drop_database(name)
