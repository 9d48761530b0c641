"""Crash at any instant: SIGKILL `pgferry upgrade` at random moments, rerun until it completes.

One trial: clone the template (the bundled product at its oldest release with sample data),
run `pgferry upgrade --to NEWEST` in a subprocess and SIGKILL it after a random delay, 1 to 3
times (each kill lands at a uniformly random moment of what is left of the upgrade), then run
the same command once more without interference: it must exit 0, and `verify_complete` must find
nothing wrong. Every random choice comes from Random(f"{seed}:{trial}"), so a failing trial is
replayed alone with `python -m tests.faults --seed S --only N`.
"""
from __future__ import annotations

import os
import random
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tests.faults.harness import Product, no_traceback, spawn, upgrade_args, verify_complete
from tests.faults.pg import OwnServer
from tests.faults.product import DEFAULT_SCALE, NEWEST

BATCH_SECONDS = "0.05"  # small out-of-band batches: more batch boundaries for a kill to land near


def phase_of(log: str) -> str:
    """What the killed process was doing, from its last progress line."""
    lines = [l for l in log.splitlines() if l.strip()]
    if not any(l.startswith("run ") for l in lines):
        return "start-up (definitions, plan, drift and preflight checks)"
    last = lines[-1]
    if "out-of-band" in last and "✓" not in last:
        return "out-of-band batch"
    if "concurrent index" in last and "applying" in last:
        return "concurrent index build"
    if "applying" in last:
        return "schema migration"
    return "between steps (bookkeeping)"


@dataclass
class Trial:
    number: int
    kills: int = 0  # SIGKILLs that hit a live process
    missed: int = 0  # the run finished before its kill was due
    phases: list[str] = field(default_factory=list)
    runs: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


@dataclass
class Summary:
    seed: int
    trials: list[Trial] = field(default_factory=list)
    reference_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def failures(self) -> list[Trial]:
        return [t for t in self.trials if t.problems]

    @property
    def kills(self) -> int:
        return sum(t.kills for t in self.trials)

    def phases(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.trials:
            for p in t.phases:
                out[p] = out.get(p, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def lines(self) -> list[str]:
        out = [f"seed {self.seed}: {len(self.trials)} trial(s), {self.kills} SIGKILL(s) injected, "
               f"{len(self.failures)} failure(s), {self.seconds:.0f}s "
               f"(one uninterrupted upgrade: {self.reference_seconds:.1f}s)"]
        out += [f"  killed during {p}: {n}" for p, n in self.phases().items()]
        for t in self.failures:
            out.append(f"  trial {t.number} FAILED (replay: python -m tests.faults --seed {self.seed} --only {t.number}):")
            out += [f"    {p}" for p in t.problems]
        return out


class CrashHarness:
    def __init__(self, seed: int, *, scale: int = DEFAULT_SCALE, max_kills: int = 3, jobs: int = 1,
                 product: Product | None = None, workdir: Path | None = None):
        self.seed = seed
        self.jobs = jobs
        self.scale = scale
        self.max_kills = max_kills
        self.product = product
        self.own_server: OwnServer | None = None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="pgferry-crash-"))
        self.reference: dict | None = None
        self.reference_seconds = 0.0

    def __enter__(self) -> "CrashHarness":
        if self.product is None:
            self.own_server = OwnServer().init().start()
            self.product = Product(self.own_server, self.scale)
        self.server = self.product.server
        # The reference: the same upgrade, uninterrupted; its timing scales the kill delays.
        self.reference, self.reference_seconds = self.product.reference(NEWEST, "--batch-seconds", BATCH_SECONDS)
        # How long a whole upgrade takes now (parallel trials share the cores): kill delays are
        # drawn from it, and it is corrected from what the trials observe.
        self.pace = self.reference_seconds * (1 + 0.3 * (min(self.jobs, os.cpu_count() or 1) - 1))
        return self

    def __exit__(self, *exc) -> None:
        if self.own_server is not None:
            self.own_server.destroy()

    def trial(self, number: int) -> Trial:
        rng = random.Random(f"{self.seed}:{number}")
        t = Trial(number)
        t0 = time.monotonic()
        try:
            for _ in range(3):
                done = self._attempt(number, rng, t)
                # Every kill came too late (the upgrade ran faster than the pace assumed): the pace
                # was corrected; try again on a fresh copy, so that each trial is a crash trial.
                if done or t.kills or t.problems:
                    break
            return t
        finally:
            t.seconds = time.monotonic() - t0

    def _attempt(self, number: int, rng: random.Random, t: Trial) -> bool:
        name, dsn = self.product.clone(f"crash{number}")
        args = upgrade_args(dsn, NEWEST, "--batch-seconds", BATCH_SECONDS)
        remaining = self.pace
        first_delay = None
        try:
            for k in range(rng.randint(1, self.max_kills)):
                log = self.workdir / f"trial{number}-run{k}.log"
                delay = rng.uniform(0.0, remaining * 1.05)
                proc = spawn(args, log)
                t.runs += 1
                started = time.monotonic()
                try:
                    code = proc.wait(delay)
                except Exception:  # subprocess.TimeoutExpired: still running, as intended
                    code = None
                if code is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(30)
                    t.kills += 1
                    first_delay = delay if first_delay is None else first_delay
                    t.phases.append(phase_of(log.read_text()))
                    # The next run redoes start-up, then only what is left.
                    remaining = max(1.5, remaining - (time.monotonic() - started) + 1.0)
                    continue
                t.missed += 1
                text = log.read_text()
                if code != 0 or not no_traceback(text):
                    t.problems.append(f"run {k + 1} exited {code} before its kill: {text.strip()[-800:]}")
                    return True
                if k == 0:
                    self.pace = time.monotonic() - started  # a whole upgrade, measured as it runs now
                    return False
                break
            log = self.workdir / f"trial{number}-final.log"
            proc = spawn(args, log)
            t.runs += 1
            started = time.monotonic()
            code = proc.wait(600)
            text = log.read_text()
            if code != 0 or not no_traceback(text):
                t.problems.append(f"the run after the kill(s) exited {code}: {text.strip()[-1500:]}")
                return True
            if t.kills == 1 and first_delay is not None:
                # killed once: what ran plus what was left is about one whole upgrade (+ a start-up)
                whole = first_delay + (time.monotonic() - started) - 1.0
                self.pace = 0.7 * self.pace + 0.3 * max(1.5, whole)
            t.problems += verify_complete(dsn, self.reference).problems
            return True
        finally:
            if not t.problems:
                self.server.drop_database(name)
                for f in self.workdir.glob(f"trial{number}-*.log"):
                    f.unlink()
            else:
                t.problems.append(f"database {name} kept: {self.server.keep()}; logs in {self.workdir}")

    def run(self, trials: int | list[int], on_trial: Callable[[Trial], None] | None = None) -> Summary:
        """Trials one after another, or `jobs` at a time (each in its own database)."""
        summary = Summary(self.seed, reference_seconds=self.reference_seconds)
        numbers = list(range(1, trials + 1) if isinstance(trials, int) else trials)
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, self.jobs)) as pool:
            for trial in pool.map(self.trial, numbers):
                summary.trials.append(trial)
                if on_trial:
                    on_trial(trial)
        summary.seconds = time.monotonic() - t0
        return summary
