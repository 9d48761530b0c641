"""A steady line about a long step, for logs and CI (`--no-progress`).

The monitor reports a waiting statement and an index build several times a second; a log wants
one line every few seconds, and one even when nothing new arrives, so that a run waiting on
someone else's transaction is never silent. The pulse keeps the latest of each and, every
`interval` seconds while a step runs, writes what it is doing: the statement's line and how long,
the index build's phase, and the session it waits for (pid, application, state, age, query).
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

from pgferry.engine import events as ev
from pgferry.engine.safetext import printable

INTERVAL_ENV = "PGFERRY_PROGRESS_INTERVAL"  # seconds between two lines (default 5)


def interval_from_env(default: float = 5.0) -> float:
    try:
        value = float(os.environ.get(INTERVAL_ENV, default))
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass
class _Step:
    schema: str
    migration_id: int
    since: float
    line: int | None = None
    waiting_for_build: ev.WaitingForBuild | None = None


class Pulse:
    def __init__(self, write: Callable[[str], None], interval: float | None = None):
        self.write = write
        self.interval = interval or interval_from_env()
        self._step: _Step | None = None
        self._wait: tuple[ev.LockWait, float] | None = None
        self._build: tuple[ev.IndexProgress, float] | None = None
        self._due = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pgferry-pulse", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def take(self, e) -> bool:
        """Note what `e` says about the running step; True when the pulse tells it instead of a
        line of its own (the first wait of a statement is told at once, the rest in pulses)."""
        now = time.monotonic()
        with self._lock:
            if isinstance(e, ev.MigrationStarted):
                self._begin(_Step(e.schema, e.migration_id, now), now)
            elif isinstance(e, ev.StatementStarted) and self._step is not None:
                self._step.line = e.line
                self._wait = None
            elif isinstance(e, ev.WaitingForBuild):
                s = self._step
                if s is not None and s.waiting_for_build is not None and \
                        s.waiting_for_build.builder_pid == e.builder_pid:
                    return True
                self._begin(_Step(e.schema, e.migration_id, now, waiting_for_build=e), now)
            elif isinstance(e, ev.LockWait):
                first = self._wait is None
                self._wait = (e, now)
                return not first
            elif isinstance(e, ev.IndexProgress):
                self._build = (e, now)
                return True
            elif isinstance(e, (ev.MigrationFinished, ev.MigrationFailedEvent, ev.RunFinished)):
                self._step = None
        return False

    def _begin(self, step: _Step, now: float) -> None:
        self._step, self._wait, self._build = step, None, None
        self._due = now + self.interval

    def _loop(self) -> None:
        tick = min(0.25, self.interval / 4)
        while not self._stop.wait(tick):
            with self._lock:
                now = time.monotonic()
                if self._step is None or now < self._due:
                    continue
                self._due = now + self.interval
                line = self._line(now)
            self.write(line)

    def _line(self, now: float) -> str:
        s = self._step
        fresh = now - self.interval  # older news is not about now
        where = f" line {s.line}" if s.line else ""
        parts = [f"  … {s.schema} {s.migration_id}{where}, {now - s.since:.0f}s"]
        if s.waiting_for_build is not None:
            b = s.waiting_for_build
            parts.append(f"waiting for pid {b.builder_pid} to finish building {b.index}")
        if self._build and self._build[1] >= fresh:
            p = self._build[0]
            frac = p.fraction
            parts.append(f"{p.index}: {p.phase or 'starting'}" + (f" {frac:.0%}" if frac is not None else ""))
        if self._wait and self._wait[1] >= fresh:
            parts.append("waiting for " + "; ".join(b.describe() for b in self._wait[0].blockers))
        elif s.waiting_for_build is None and not (self._build and self._build[1] >= fresh):
            parts.append("running")
        return printable(": ".join(parts[:2]) + "".join(f"; {p}" for p in parts[2:]), one_line=True)
