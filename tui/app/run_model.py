"""What the run screen knows of the upgrade run it watches (no Textual here): the latest snapshot read
from the database (engine.upgrade.live), the stop this screen asked for, why a launch failed, and
what each new snapshot adds to the log. `watch` is the feed: snapshots and journal lines, read
once a second until the run ends.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator, Union

from pgferry.engine.bookkeeping.runs import UpgradeRun
from pgferry.engine.upgrade.live import Finished, LiveReader, LiveRun
from pgferry.tui import journal as journal_mod
from pgferry.tui.launch import Launched

POLL_SECONDS = 1.0
ENDED = ("succeeded", "failed", "paused", "aborted", "resumed", "interrupted")
RESUMABLE = ("paused", "interrupted", "aborted")
# Why `u` is dimmed, for each status a run can be in when it cannot be resumed.
NOT_RESUMABLE = {
    "running": "the run is still running",
    "succeeded": "the run succeeded: nothing left to resume",
    "failed": "the run failed: recover the database first (x on the overview)",
    "resumed": "a later run continued this one already",
}


@dataclass(frozen=True)
class RunEnded:
    """Log entry: the run stopped running while this screen watched it."""

    run_id: int
    status: str


@dataclass(frozen=True)
class StopAsked:
    """Log entry: this screen asked the run to pause or abort, and the run took the request."""

    control: str


# A line from the run's journal (already worded by the run), or what a snapshot added.
LogEntry = Union[str, RunEnded, StopAsked, Finished]


@dataclass
class Trend:
    """Progress per second over the last `window` seconds of snapshots, for an out-of-band ETA.

    Progress is re-measured by the runner every half second or so, in jumps; a rate over a window
    smooths them out where one between two snapshots would swing wildly."""

    window: float = 15.0
    samples: dict[int, deque] = field(default_factory=dict)  # id -> deque[(time, progress)]

    def eta(self, oid: int, progress: float, reverse: bool, now: float) -> float | None:
        seen = self.samples.setdefault(oid, deque())
        seen.append((now, progress))
        while len(seen) > 2 and now - seen[0][0] > self.window:
            seen.popleft()
        (t0, p0), (t1, p1) = seen[0], seen[-1]
        if t1 <= t0 or p1 == p0:
            return None
        rate = abs(p1 - p0) / (t1 - t0)
        return (progress if reverse else 1 - progress) / rate


@dataclass
class WatchedRun:
    """The run as the screen last saw it. `update` takes each snapshot and journal lines as they
    arrive and returns what they add to the log, in order."""

    read_only: bool = False  # `pgferry watch`: nothing may be asked of the run
    live: LiveRun | None = None
    asked: str | None = None  # what this screen asked for (pause/abort), until the run has ended
    launch_error: str | None = None  # why the launched process ended before its run began
    trend: Trend = field(default_factory=Trend)
    oob_eta: dict[int, float | None] = field(default_factory=dict)  # unfinished out-of-band id -> seconds

    @property
    def run(self) -> UpgradeRun | None:
        return self.live.run if self.live else None

    @property
    def status(self) -> str | None:
        return self.run.effective_status if self.run else None

    def update(self, live: LiveRun | None, lines: list[str], launch_error: str | None = None,
               journaled: bool = True, now: float | None = None) -> list[LogEntry]:
        """journaled: the log comes from the run's journal; else the migrations a snapshot shows
        finished since the one before are the log. `now` is time.monotonic(), for the ETAs."""
        log: list[LogEntry] = list(lines)
        if launch_error:
            self.launch_error = launch_error
        if live is not None:
            log += self._seen(live, journaled, time.monotonic() if now is None else now)
        return log

    def _seen(self, live: LiveRun, journaled: bool, now: float) -> list[LogEntry]:
        previous, self.live = self.live, live
        run = live.run
        if run is None:
            return []
        status = run.effective_status
        if status != "running":
            self.asked = None
        self.oob_eta = {o.id: self.trend.eta(o.id, o.progress, o.reverse, now)
                        for o in live.out_of_band if not o.finished}
        log: list[LogEntry] = []
        if previous is not None and previous.active and status != "running":
            log.append(RunEnded(run.id, status))
        if not journaled and previous is not None:
            seen = {(f.schema, f.version, f.finished_at) for f in previous.recent}
            log += [f for f in reversed(live.recent) if (f.schema, f.version, f.finished_at) not in seen]
        return log

    def stop_asked(self, control: str) -> StopAsked:
        """The run accepted this screen's pause or abort: it stops after its current step."""
        self.asked = control
        return StopAsked(control)

    @property
    def elapsed(self) -> float | None:
        run, live = self.run, self.live
        return ((run.finished_at or live.read_at) - run.started_at).total_seconds() if run and live.read_at else None

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace of the steps so far, while the run runs."""
        run, elapsed = self.run, self.elapsed
        if self.status == "running" and run.position and run.total > run.position and elapsed:
            return elapsed / run.position * (run.total - run.position)
        return None

    def disabled_reason(self, action: str) -> str | None:
        """Why the key for `action` is dimmed now, or None when it works."""
        if action in ("pause", "abort", "resume") and self.read_only:
            return "read-only view (pgferry watch)"
        status = self.status
        if status is None:
            return "the upgrade did not start" if self.launch_error else "not started yet"
        if action in ("pause", "abort"):
            if status != "running":
                return f"the run has ended ({status})"
            asked = self.asked or self.run.control
            if asked:
                return f"{asked} asked: stops after this step"
        if action == "resume" and status not in RESUMABLE:
            return NOT_RESUMABLE.get(status, f"the run is {status}")
        if action == "report" and status not in ENDED:
            return "the run has not ended"
        return None


def in_flight(run: UpgradeRun) -> str | None:
    """The step a running run is on: its plan's step at `position` (the count of steps finished).

    The run records `current_step` as each migration finishes, so it names the one before; the
    sessions shown under it are already running the next."""
    if run.effective_status != "running":
        return None
    steps = (run.plan or {}).get("steps") or []
    if run.position >= len(steps):
        return None
    s = steps[run.position]
    if s.get("kind") == "out_of_band":
        return f"out-of-band {s.get('id')} {s.get('description') or ''}".rstrip()
    arrow = "↓ " if s.get("direction") == "down" else ""
    return f"{arrow}{s.get('schema')} {s.get('id')} {s.get('name') or ''}".rstrip()


# -- the feed ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One read of the run: what `WatchedRun.update` takes."""

    live: LiveRun | None
    lines: list[str]
    launch_error: str | None = None
    journaled: bool = False  # the log comes from the run's journal (else from migration_logs)


def watch(reader: LiveReader, run_id: int | None, launched: Launched | None,
          cancelled: Callable[[], bool]) -> Iterator[Reading]:
    """A reading every POLL_SECONDS until the run ends, its launch fails or `cancelled()`.

    The run is `run_id`, else the one `launched` creates, else the latest. Its journal is tailed
    when this machine has it (the process that started the run, or one on the same host)."""
    journal_path = None
    offset = 0
    while not cancelled():
        launch_error = None
        if run_id is None and launched is not None:
            run = reader.find_run(launched.host, launched.pid)
            if run is not None:
                run_id = run.id
            else:
                code = launched.exit_code()
                if code is not None:
                    launch_error = launch_failure(launched, code)
        if run_id is None and launched is None:
            latest = reader.latest_run()
            run_id = latest.id if latest else None
        live = reader.snapshot(run_id) if run_id is not None else None
        if journal_path is None:
            pid = launched.pid if launched else (live.run.os_pid if live and live.run else None)
            host = launched.host if launched else (live.run.host if live and live.run else None)
            journal_path = journal_mod.find_for(pid, host)
        lines: list[str] = []
        if journal_path is not None:
            records, offset = journal_mod.read_from(journal_path, offset)
            lines = [r.line for r in records if r.line]
        yield Reading(live, lines, launch_error, journal_path is not None)
        ended = live is not None and live.run is not None and live.run.effective_status != "running"
        if launch_error or ended:
            # One more read after the end for the journal's last lines, then stop.
            time.sleep(POLL_SECONDS)
            if journal_path is not None:
                records, offset = journal_mod.read_from(journal_path, offset)
                tail = [r.line for r in records if r.line]
                if tail:
                    yield Reading(live, tail, launch_error, True)
            return
        time.sleep(POLL_SECONDS)


def launch_failure(launched: Launched, code: int) -> str:
    """Why a launched process ended before its run began: its journal's exit record, else its output."""
    path = journal_mod.find_for(launched.pid, launched.host)
    if path is not None:
        records, _ = journal_mod.read_from(path)
        for r in reversed(records):
            if r.kind == "exit":
                hint = f"\nhint: {r.data['hint']}" if r.data.get("hint") else ""
                return f"{r.data.get('message') or 'exit ' + str(code)}{hint}"
    try:
        out = launched.output.read_text(errors="replace").strip().splitlines()
    except OSError:
        out = []
    return "\n".join(out[-4:]) or f"the process ended with exit code {code}"
