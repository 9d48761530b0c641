"""The live display of a run on a terminal (rich's progress bars and a log above them): imported
only when one is drawn, so a run that prints plain lines (--no-progress, a pipe, CI) loads no rich."""
from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from pgferry.engine import events as ev
from pgferry.tui.interrupt import ACTIVITY
from pgferry.tui.lines import _first_line, describe
from pgferry.tui.terminal import label, rich_console


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
