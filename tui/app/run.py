"""The run screen: a live view of an upgrade run, whoever started it (docs/design.md §12).

The run itself is another process (tui/launch.py). This screen reads the database every
second (engine.upgrade.live) and, on the machine that started the run, tails the run's journal for the
log. Leaving the screen or the app never stops the run; `pgferry watch` opens it read-only.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, RichLog, Static
from textual.worker import get_current_worker

from pgferry.engine.upgrade.live import LiveReader, LiveRun
from pgferry.engine.plan.planner import Plan
from pgferry.engine.safetext import printable
from pgferry.tui import journal as journal_mod
from pgferry.tui.launch import Launched

from .base import PgferryScreen, bottom_bar
from .data import Source
from .safe import neutralised

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


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0, int(seconds))
    m, s = divmod(seconds, 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def _short(text: str, width: int = 120) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


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


class LiveUpdate(Message):
    def __init__(self, live: LiveRun | None, lines: list[str], launch_error: str | None = None,
                 journaled: bool = False) -> None:
        super().__init__()
        # Everything here comes from the server or the run's journal: neutralised once, on arrival.
        self.live = neutralised(live)
        self.lines = neutralised(lines)
        self.launch_error = neutralised(launch_error)
        self.journaled = journaled  # the log comes from the run's journal (else from migration_logs)


class RunScreen(PgferryScreen):
    CSS_PATH = "run.tcss"
    BINDINGS = [
        Binding("p", "pause", "Pause", tooltip="Stop after the current step; resume later.", id="pause"),
        Binding("A", "abort", "Abort", key_display="A", tooltip="Stop after the current step for good.", id="abort"),
        Binding("u", "resume", "Resume", tooltip="Start the same upgrade again from where it stopped.", id="resume"),
        Binding("enter", "report", "Report", tooltip="What the run did, saved as Markdown.", id="report"),
        Binding("escape", "back", "Back", tooltip="Back to the overview; the run goes on.", id="back"),
    ]

    def __init__(self, source: Source, run_id: int | None = None, launched: Launched | None = None,
                 given: tuple[LiveRun, list[str]] | None = None) -> None:
        """given: a snapshot and log lines shown as they are, never polled (snapshots, replays)."""
        super().__init__()
        self.given = given
        self.source = source
        self.run_id = run_id
        self.launched = launched
        self.live: LiveRun | None = None
        self.trend = Trend()
        self.asked: str | None = None  # what this screen asked for (pause/abort), until the run says so
        self.launch_error: str | None = None

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("pgferry · run", id="title")
        yield Static("starting…" if self.launched else "reading the run…", id="state")
        yield ProgressBar(total=100, show_eta=False, show_percentage=False, id="overall")
        yield Static(id="failure")
        yield Static(id="now")
        yield Static(id="wait")
        yield Static(id="oob")
        yield RichLog(id="log", wrap=True, markup=False, highlight=False, max_lines=2000)
        yield bottom_bar()

    def on_mount(self) -> None:
        if self.source.read_only:
            self.query_one("#title", Static).update("pgferry · watch (read-only)")
        if self.given is not None:
            self.post_message(LiveUpdate(self.given[0], self.given[1], journaled=True))
        else:
            self.poll()

    # -- keys -----------------------------------------------------------------------------------

    @property
    def status(self) -> str | None:
        live = self.live
        return live.run.effective_status if live and live.run else None

    def disabled_reason(self, action: str) -> str | None:
        if action in ("pause", "abort", "resume") and self.source.read_only:
            return "read-only view (pgferry watch)"
        status = self.status
        if status is None:
            return "the upgrade did not start" if self.launch_error else "not started yet"
        if action in ("pause", "abort"):
            if status != "running":
                return f"the run has ended ({status})"
            if self.asked or self.live.run.control:
                asked = self.asked or self.live.run.control
                return f"{asked} asked: stops after this step"
        if action == "resume" and status not in RESUMABLE:
            return NOT_RESUMABLE.get(status, f"the run is {status}")
        if action == "report" and status not in ENDED:
            return "the run has not ended"
        return None

    def action_pause(self) -> None:
        self._request("pause")

    def action_abort(self) -> None:
        from .confirm import TypedConfirm

        body = ("The run stops after the step it is on: a migration in flight (an index build included) "
                "completes first, so nothing is left half-applied. The database stays between releases "
                "until you choose a target again.")

        def answered(ok: bool | None) -> None:
            if ok:
                self._request("abort")

        self.app.push_screen(TypedConfirm("Abort the upgrade?", body, "abort", "Abort"), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="control", description="asking the run to stop")
    def _request(self, control: str) -> None:
        reader = LiveReader(dict(self.source.connections().dsns), self.source.bookkeeping_schema)
        try:
            accepted = reader.request(self.live.run.id, control)
        finally:
            reader.close()
        self.app.call_from_thread(self._requested, control, accepted)

    def _requested(self, control: str, accepted: bool) -> None:
        if accepted:
            self.asked = control
            self.log_line(f"{control} asked: the run stops after its current step")
        else:
            self.app.notify("the run is no longer running", severity="warning")
        self.update_keys()

    def action_resume(self) -> None:
        run = self.live.run
        self.app.resume_run(run.to_version, run.direction)

    def action_report(self) -> None:
        from .report import ReportScreen

        self.app.push_screen(ReportScreen(self.source, self.live.run.id))

    def action_back(self) -> None:
        if self.status == "running":
            self.app.notify(f"run {self.live.run.id} goes on in its own process; press a on the overview, or "
                            f"{self.source.come_back()} to come back", title="detached", markup=False)
        self.app.pop_screen()

    # -- polling --------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="live", description="watching the run")
    def poll(self) -> None:
        worker = get_current_worker()
        reader = LiveReader(dict(self.source.connections().dsns), self.source.bookkeeping_schema)
        journal_path = None
        offset = 0
        run_id = self.run_id
        try:
            while not worker.is_cancelled:
                launch_error = None
                if run_id is None and self.launched is not None:
                    run = reader.find_run(self.launched.host, self.launched.pid)
                    if run is not None:
                        run_id = run.id
                    else:
                        code = self.launched.exit_code()
                        if code is not None:
                            launch_error = self._launch_failure(code)
                if run_id is None and self.launched is None:
                    latest = reader.latest_run()
                    run_id = latest.id if latest else None
                live = reader.snapshot(run_id) if run_id is not None else None
                if journal_path is None:
                    pid = self.launched.pid if self.launched else (live.run.os_pid if live and live.run else None)
                    host = self.launched.host if self.launched else (live.run.host if live and live.run else None)
                    journal_path = journal_mod.find_for(pid, host)
                lines: list[str] = []
                if journal_path is not None:
                    records, offset = journal_mod.read_from(journal_path, offset)
                    lines = [r.line for r in records if r.line]
                self.post_message(LiveUpdate(live, lines, launch_error, journal_path is not None))
                ended = live is not None and live.run is not None and live.run.effective_status != "running"
                if launch_error or ended:
                    # One more read after the end for the journal's last lines, then stop polling.
                    time.sleep(POLL_SECONDS)
                    if journal_path is not None:
                        records, offset = journal_mod.read_from(journal_path, offset)
                        tail = [r.line for r in records if r.line]
                        if tail:
                            self.post_message(LiveUpdate(live, tail, launch_error, True))
                    break
                time.sleep(POLL_SECONDS)
        finally:
            reader.close()

    def _launch_failure(self, code: int) -> str:
        """Why a launched process ended before its run began: its journal's exit record, else its output."""
        path = journal_mod.find_for(self.launched.pid, self.launched.host)
        if path is not None:
            records, _ = journal_mod.read_from(path)
            for r in reversed(records):
                if r.kind == "exit":
                    hint = f"\nhint: {r.data['hint']}" if r.data.get("hint") else ""
                    return f"{r.data.get('message') or 'exit ' + str(code)}{hint}"
        try:
            out = self.launched.output.read_text(errors="replace").strip().splitlines()
        except OSError:
            out = []
        text = "\n".join(out[-4:]) or f"the process ended with exit code {code}"
        return text

    def on_live_update(self, message: LiveUpdate) -> None:
        for line in message.lines:
            self.log_line(line)
        if message.launch_error:
            self.launch_error = message.launch_error
            panel = self.query_one("#failure", Static)
            panel.update(Text("✗ the upgrade did not start\n" + message.launch_error))
            panel.add_class("show")
            self.query_one("#state", Static).update(Text("✗ not started: nothing was changed by this run"))
        if message.live is not None:
            self.show(message.live, message.journaled)
        self.update_keys()

    def log_line(self, line: str) -> None:
        self.query_one("#log", RichLog).write(Text(line))

    # -- rendering ------------------------------------------------------------------------------

    def show(self, live: LiveRun, journaled: bool = True) -> None:
        previous = self.live
        self.live = live
        run = live.run
        if run is None:
            self.query_one("#state", Static).update("no upgrade run recorded yet")
            return
        status = run.effective_status
        if status != "running":
            self.asked = None
        verb = run.direction
        title = f"pgferry · {'watch · ' if self.source.read_only else ''}run {run.id} · {verb} " \
                f"{run.from_version or 'none'} → {run.to_version} · {run.operator or '?'}@{run.host or '?'}"
        self.query_one("#title", Static).update(Text(title))
        elapsed = ((run.finished_at or live.read_at) - run.started_at).total_seconds() if live.read_at else None
        eta = None
        if status == "running" and run.position and run.total > run.position and elapsed:
            eta = elapsed / run.position * (run.total - run.position)
        glyph = {"running": "●", "succeeded": "✓", "failed": "✗", "paused": "⏸", "aborted": "■",
                 "interrupted": "!", "resumed": "→"}.get(status, "?")
        asked = self.asked or run.control
        state = Text(f"{glyph} {status}")
        if asked and status == "running":
            state.append(f" ({asked} asked by {run.control_by or 'you'}: stops after the current step)")
        pct = f" ({run.position / run.total:.0%})" if run.total else ""
        state.append(f" · step {run.position}/{run.total}{pct} · elapsed {duration(elapsed)}")
        if eta is not None:
            state.append(f" · ETA ~{duration(eta)}")
        self.query_one("#state", Static).update(state)
        self.query_one("#overall", ProgressBar).update(total=max(run.total, 1), progress=run.position)
        if status in ("failed", "interrupted", "aborted") and run.error:
            panel = self.query_one("#failure", Static)
            panel.update(Text(f"{glyph} {status}: {run.error}"))
            panel.add_class("show")
        self._show_now(live)
        self._show_waits(live)
        self._show_oob(live)
        if previous is not None and previous.run and previous.run.effective_status == "running" and status != "running":
            self.log_line(f"run {run.id} {status}" + (": press Enter for the report" if status in ENDED else ""))
        if not journaled and previous is not None:  # no journal here: rebuild the log from migration_logs
            seen = {(f.schema, f.version, f.finished_at) for f in previous.recent}
            for f in reversed(live.recent):
                if (f.schema, f.version, f.finished_at) not in seen:
                    mark = "✓" if f.success else "✗"
                    self.log_line(f"  {mark} {f.schema} {f.version} in {duration(f.seconds)}")

    def _show_now(self, live: LiveRun) -> None:
        run = live.run
        lines = Text(no_wrap=True, overflow="ellipsis")  # one line each: the width decides how much of a query
        step = in_flight(run)
        if step:
            lines.append(f"now: {step}", style="bold")
        for st in live.statements:
            lines.append(f"\n  {st.role} pid {st.pid} on {st.database}, {duration(st.seconds)}: ")
            lines.append(_short(st.query, 200))
            if st.wait:
                lines.append(f"  (waiting: {st.wait})")
        for b in live.builds:
            frac = b.fraction  # the numbers first: the index name is long and the line is cut to the width
            lines.append(f"\n  ⧗ {frac:.0%} " if frac is not None else "\n  ⧗ ")
            lines.append(b.phase or "starting")
            if b.blocks_total:
                lines.append(f", blocks {b.blocks_done:,}/{b.blocks_total:,}")
            if b.tuples_total:
                lines.append(f", tuples {b.tuples_done:,}/{b.tuples_total:,}")
            lines.append(f" · index {b.index} on {b.table}")
        for h in live.idle_holders:  # a stopped migrator: nothing runs, yet its locks are held
            lines.append(f"\n  ! {printable(h.describe(), one_line=True)}", style="bold yellow")
        self.query_one("#now", Static).update(lines)

    def _show_waits(self, live: LiveRun) -> None:
        panel = self.query_one("#wait", Static)
        if not live.waits:
            panel.remove_class("show")
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        for w in live.waits:
            text.append(f"! lock wait on {w.database}: pid {w.waiter_pid} {_short(w.waiter_query, 200)}\n")
            for b in w.blockers:
                app = b.application or "no application name"
                text.append(f"  held by pid {b.pid} ({app}), {b.state or '?'} for {duration(b.age_seconds)}: "
                            f"{_short(b.query, 200)}\n")
        text.append("  pgferry retries after its lock timeout; ending that session lets it through")
        panel.update(text)
        panel.add_class("show")

    def _show_oob(self, live: LiveRun) -> None:
        now = time.monotonic()
        text = Text(no_wrap=True, overflow="ellipsis")
        for n, o in enumerate(live.out_of_band):
            eta = None if o.finished else self.trend.eta(o.id, o.progress, o.reverse, now)
            state = "✓ done" if o.finished else "⏸ paused" if o.paused else \
                f"{o.rows_per_second or 0:,.0f} rows/s" + (f", ETA ~{duration(eta)}" if eta else "")
            errors = f", {o.errors} failed batch(es)" if o.errors else ""
            if n:
                text.append("\n")
            text.append(f"{'⟲' if o.reverse else '⟳'} {o.id} ")
            text.append_text(bar(o.progress))
            text.append(f" {o.progress:6.1%}  {state}{errors}  {o.description}")
        self.query_one("#oob", Static).update(text)


def in_flight(run) -> str | None:
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


def bar(fraction: float, width: int = 20) -> Text:
    """A text bar: its length carries the meaning, colour only helps."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    out = Text("█" * filled, style="bold")
    out.append("░" * (width - filled), style="dim")
    return out


class QuitWhileRunning(ModalScreen[bool]):
    """y/n: the run goes on without the app; this only makes sure the user knows."""

    CSS_PATH = "run.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Quit", id="quit-yes"),
        Binding("n,escape", "answer(False)", "Stay", id="quit-no"),
    ]

    def __init__(self, run_id: int, pid: int | None, come_back: str) -> None:
        """come_back: how to return to the run (Source.come_back)."""
        super().__init__()
        self.run_id = run_id
        self.pid = pid
        self.come_back = come_back

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Quit pgferry?\n\nUpgrade run {self.run_id} keeps running in its own process"
                          f"{f' (pid {self.pid})' if self.pid else ''}. To come back to it, "
                          f"{self.come_back.rstrip(',')}.\n\ny quit · n stay"))

    def action_answer(self, ok: bool) -> None:
        self.dismiss(ok)


def confirm_and_start(app, plan: Plan) -> None:
    """Ask for the target version typed out (and whether to back up first), then start the run in
    its own process and watch it."""
    from .confirm import TypedConfirm

    steps = plan.schema_steps()
    oob = len(plan.steps) - len(steps)
    body = (f"{plan.direction} {plan.from_label} → {plan.to_version}: {len(steps)} schema migration(s), "
            f"{oob} out-of-band, {len(plan.stops)} stop(s).\n\nThe run goes on in its own process: closing pgferry "
            "or losing the connection does not stop it. Type the target version to start.\n\nBacked up first "
            f"(ticked below), each database it changes is dumped to {journal_mod.backup_dir()} before its first "
            "change; `pgferry restore --run N` puts it back.")
    confirm = TypedConfirm(f"Start the {plan.direction}?", body, plan.to_version, "Start",
                           option="Back up each database it changes first (pg_dump)")

    def answered(ok: bool | None) -> None:
        if ok:
            app.start_run(plan, backup_dir=str(journal_mod.private_backup_dir()) if confirm.chosen else None)

    app.push_screen(confirm, answered)
