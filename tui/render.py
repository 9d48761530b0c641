"""Rendering engine events on a terminal: a live rich display, or plain lines for logs and CI."""
from __future__ import annotations

import sys
import threading
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from pgferry.engine import events as ev
from pgferry.tui.interrupt import ACTIVITY
from pgferry.tui.pulse import Pulse
from pgferry.tui.terminal import UNCUT, label, rich_console  # noqa: F401 - UNCUT: where callers import it
from pgferry.tui.terminal import run_finished_line, run_started_line


def _first_line(text: str, width: int = 70) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def describe(e) -> str | None:
    """One plain line per event worth telling a person; None for chatty ones."""
    if isinstance(e, ev.RunStarted):
        return run_started_line(e.schema, e.steps, e.database)
    if isinstance(e, ev.WaitingForLock):
        who = e.holder.describe() if e.holder else "another session"
        return f"{e.schema}: waiting {e.waited_seconds:.0f}s for the migration lock held by {who}"
    if isinstance(e, ev.MigrationStarted):
        arrow = "applying" if e.up else "reverting"
        extra = " (concurrent index)" if e.concurrent_index else ""
        again = f", attempt {e.attempt}" if e.attempt > 1 else ""
        return f"[{e.index}/{e.total}] {e.schema}: {arrow} {e.migration_id} {e.name}{extra}{again}"
    if isinstance(e, ev.MigrationFinished):
        note = f" ({e.note})" if e.note else ""
        back = f", recorded {len(e.backfilled)} squashed id(s)" if e.backfilled and e.up else ""
        return f"  ✓ {e.schema} {e.migration_id} in {e.seconds:.2f}s{back}{note}"
    if isinstance(e, ev.MigrationFailedEvent):
        return f"  ✗ {e.schema} {e.migration_id} failed: {e.message}"
    if isinstance(e, ev.LockWait):
        who = "; ".join(b.describe() for b in e.blockers)
        return f"  ! {e.schema} {e.migration_id} line {e.line} waiting {e.waited_seconds:.1f}s for a lock held by {who}"
    if isinstance(e, ev.LockRetry):
        who = f" (blocked by {'; '.join(b.describe() for b in e.blockers)})" if e.blockers else ""
        return f"  ! lock timeout{who}; rolled back, retry {e.attempt + 1}/{e.attempts} in {e.delay_seconds:.1f}s"
    if isinstance(e, ev.IndexRepaired):
        return f"  ! dropping invalid index {e.index} left by an interrupted build: {e.sql}"
    if isinstance(e, ev.IndexRebuilt):
        return f"  ✓ rebuilt {e.index} on {e.table} (collation version change) in {e.seconds:.1f}s"
    if isinstance(e, ev.CollationRefreshSkipped):
        return f"  ! {e.statement}: needs the owner; the rebuild is recorded, so preflight passes"
    if isinstance(e, ev.WaitingForBuild):
        return f"  … {e.schema} {e.migration_id}: pid {e.builder_pid} is building {e.index}; waiting"
    if isinstance(e, ev.StaleAttempt):
        who = f"backend {e.backend_pid}" if e.backend_pid else "a backend"
        return f"  ! {e.schema} {e.migration_id}: stale attempt of {who} (gone): {e.resolution}"
    if isinstance(e, ev.Retrying):
        return f"  ! {e.schema} {e.migration_id} failed last time ({_first_line(e.previous_error)}); retrying"
    if isinstance(e, ev.BackupTaken):
        return f"backed up {e.database} to {e.path} ({e.bytes:,} bytes in {e.seconds:.1f}s)"
    if isinstance(e, ev.RunFinished):
        return run_finished_line(e.schema, e.applied, e.reverted, e.seconds)
    if isinstance(e, ev.UpgradeStarted):
        stops = f", stops at {', '.join(e.stops)}" if e.stops else ""
        resumed = f" (continues run {e.resumed_from})" if e.resumed_from else ""
        return f"run {e.run_id}: {e.direction} {e.from_label} → {e.to_version}, {e.steps} step(s){stops}{resumed}"
    if isinstance(e, ev.Replanned):
        return (f"another migrator moved the database since the plan was confirmed ({e.confirmed_from} → "
                f"{e.now_from}): planned again from there, {e.steps} step(s) to {e.to_version}")
    if isinstance(e, ev.StopReached):
        return f"stop at {e.release}: finishing out-of-band {', '.join(map(str, e.out_of_band))} ({e.reason})"
    if isinstance(e, ev.UpgradeFinished):
        return f"run {e.run_id}: {e.status} in {e.seconds:.1f}s, now at {e.to_version}" if e.status == "succeeded" \
            else f"run {e.run_id}: {e.status} after {e.seconds:.1f}s"
    if isinstance(e, ev.OobStarted):
        way = "undoing" if e.reverse else "running"
        return f"out-of-band {e.migration_id}: {way} '{e.description}' from {e.progress:.1%} (batch {e.batch_size})"
    if isinstance(e, ev.OobFinished):
        return f"  ✓ out-of-band {e.migration_id} at {e.progress:.0%} in {e.seconds:.1f}s ({e.rows_done} rows)"
    if isinstance(e, ev.OobPaused):
        return f"  ⏸ out-of-band {e.migration_id} paused at {e.progress:.1%}"
    if isinstance(e, ev.OobBatchFailed):
        return f"  ! out-of-band {e.migration_id} batch failed ({e.consecutive} in a row): {e.message}"
    return None


def index_line(e) -> str:
    frac = e.fraction
    return f"  … {e.index}: {e.phase}" + (f" {frac:.0%}" if frac is not None else "")


def oob_line(e) -> str:
    eta = f", ETA {e.eta_seconds:.0f}s" if e.eta_seconds is not None else ""
    return (f"  … out-of-band {e.migration_id}: {e.progress:.1%}, {e.rows_per_second:,.0f} rows/s, "
            f"batch {e.batch_size}{eta}")


class PlainRenderer:
    """Line by line, for pipes, CI logs and `--no-progress`."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._last_progress = 0.0
        self.pulse = Pulse(self._print)  # index builds and lock waits: a line at a steady interval

    def __call__(self, e) -> None:
        ACTIVITY(e)
        if self.pulse.take(e):
            return
        if isinstance(e, ev.OobProgress):
            # Progress arrives several times a second; a log wants a line every few seconds.
            now = time.monotonic()
            if now - self._last_progress < 2:
                return
            self._last_progress = now
            line = oob_line(e)
        else:
            line = describe(e)
        if line is not None:
            self._print(line)

    def _print(self, line: str) -> None:
        with self._lock:
            print(line, file=self.stream, flush=True)

    def __enter__(self):
        self.pulse.start()
        return self

    def __exit__(self, *exc):
        self.pulse.stop()


class CountColumn(ProgressColumn):
    """done/total for steps, a percentage for index builds and out-of-band bars."""

    def render(self, task) -> Text:
        if task.total is None:
            return Text("…", style="dim")
        if task.fields.get("percent"):
            return Text(f"{task.percentage:>3.0f}%")
        return Text(f"{task.completed:.0f}/{task.total:.0f}")


class EtaColumn(ProgressColumn):
    def render(self, task) -> Text:
        remaining = task.time_remaining
        if remaining is None or task.finished:
            return Text("")
        m, sec = divmod(int(remaining), 60)
        return Text(f"ETA {m}:{sec:02d}", style="dim")


class RichRenderer:
    """A live display: overall bar with ETA, the current migration and statement, CIC progress."""

    def __init__(self, console: Console | None = None):
        self.console = console or rich_console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(),
            # Fixed widths so a line never wraps at 80 columns.
            TextColumn("{task.description}", table_column=Column(width=36, no_wrap=True, overflow="ellipsis")),
            BarColumn(bar_width=12),
            CountColumn(),
            TimeElapsedColumn(),
            EtaColumn(),
            console=self.console,
            transient=False,
        )
        self.overall: TaskID | None = None
        self.index_task: TaskID | None = None
        self.upgrade_task: TaskID | None = None
        self.oob_tasks: dict[int, TaskID] = {}
        self.names: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def _log(self, text: str, style: str = "") -> None:
        self.progress.console.print(label(text, one_line=False), style=style, highlight=False)

    def __call__(self, e) -> None:
        ACTIVITY(e)
        with self._lock:
            self._handle(e)

    def _handle(self, e) -> None:
        p = self.progress
        if isinstance(e, ev.UpgradeStarted):
            self.upgrade_task = p.add_task(label(f"{e.direction} → {e.to_version}"), total=max(e.steps, 1))
            self._log(describe(e))
            return
        if isinstance(e, ev.OobStarted):
            self.oob_tasks[e.migration_id] = p.add_task(label(f"  oob {e.migration_id}"), total=100,
                                                         completed=e.progress * 100, percent=True)
            self._log(describe(e))
            return
        if isinstance(e, ev.OobProgress):
            task = self.oob_tasks.get(e.migration_id)
            if task is not None:
                p.update(task, completed=e.progress * 100,
                         description=label(f"  oob {e.migration_id} {e.rows_per_second:,.0f} rows/s"))
            return
        if isinstance(e, ev.OobFinished):
            task = self.oob_tasks.pop(e.migration_id, None)
            if task is not None:
                p.update(task, completed=100)
            if self.upgrade_task is not None:
                p.advance(self.upgrade_task)
            self._log(describe(e), "green")
            return
        if isinstance(e, ev.MigrationFinished) and self.upgrade_task is not None:
            p.advance(self.upgrade_task)
        if isinstance(e, ev.RunStarted):
            if self.overall is not None:
                p.remove_task(self.overall)
            self.overall = p.add_task(label(_first_line(e.schema, 30)), total=max(e.steps, 1),
                                      completed=0 if e.steps else 1)
            self._log(describe(e))
        elif isinstance(e, ev.MigrationStarted):
            self.names[(e.schema, e.migration_id)] = e.name
            if self.overall is not None:
                p.update(self.overall, total=e.total, description=label(f"{e.schema} {e.migration_id} {_first_line(e.name, 22)}"))
            if e.concurrent_index:
                self.index_task = p.add_task("  index build", total=None, percent=True)
        elif isinstance(e, ev.StatementStarted):
            if self.overall is not None and e.count > 1:
                p.update(self.overall, description=label(f"{e.schema} {e.migration_id} l.{e.line}: {_first_line(e.text, 20)}"))
        elif isinstance(e, ev.IndexProgress):
            if self.index_task is not None:
                total = e.blocks_total or e.tuples_total or None
                done = e.blocks_done if e.blocks_total else e.tuples_done
                p.update(self.index_task, total=total, completed=done,
                         description=label(f"  {_first_line(e.index, 16)}: {_first_line(e.phase, 22)}"))
        elif isinstance(e, ev.MigrationFinished):
            if self.index_task is not None:
                p.remove_task(self.index_task)
                self.index_task = None
            if self.overall is not None:
                p.advance(self.overall)
            name = self.names.get((e.schema, e.migration_id), "")
            self._log(f"{describe(e)}  {_first_line(name, 40)}", "green")
        elif isinstance(e, (ev.MigrationFailedEvent,)):
            if self.index_task is not None:
                p.remove_task(self.index_task)
                self.index_task = None
            self._log(describe(e), "bold red")
        elif isinstance(e, ev.RunFinished):
            if self.overall is not None:
                p.remove_task(self.overall)
                self.overall = None
            self._log(describe(e))
        else:
            line = describe(e)
            if line:
                self._log(line, "yellow")


def renderer(plain: bool):
    if plain or not sys.stderr.isatty():
        return PlainRenderer()
    return RichRenderer()
