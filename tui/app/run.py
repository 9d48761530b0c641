"""The run screen: a live view of an upgrade run, whoever started it (docs/design.md §12).

The run itself is another process (tui/launch.py). This screen reads the database every
second (engine.upgrade.live) and, on the machine that started the run, tails the run's journal for the
log. Leaving the screen or the app never stops the run; `pgferry watch` opens it read-only.
What it knows of the run is run_model.WatchedRun; what it draws, run_render.
"""
from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, RichLog, Static
from textual.worker import get_current_worker

from pgferry.engine.plan.planner import Plan
from pgferry.engine.upgrade.live import LiveReader, LiveRun
from pgferry.tui import journal as journal_mod
from pgferry.tui.launch import Launched

from . import run_render as draw
from .base import PgferryScreen, bottom_bar
from .data import Source
from .run_model import LogEntry, WatchedRun, watch
from .safe import neutralised


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
        self.watched = WatchedRun(read_only=source.read_only)

    # What the app reads of a run screen before quitting (app.py).
    @property
    def status(self) -> str | None:
        return self.watched.status

    @property
    def live(self) -> LiveRun | None:
        return self.watched.live

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

    def disabled_reason(self, action: str) -> str | None:
        return self.watched.disabled_reason(action)

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
            accepted = reader.request(self.watched.run.id, control)
        finally:
            reader.close()
        self.app.call_from_thread(self._requested, control, accepted)

    def _requested(self, control: str, accepted: bool) -> None:
        if accepted:
            self.log_entry(self.watched.stop_asked(control))
        else:
            self.app.notify("the run is no longer running", severity="warning")
        self.update_keys()

    def action_resume(self) -> None:
        run = self.watched.run
        self.app.resume_run(run.to_version, run.direction)

    def action_report(self) -> None:
        from .report import ReportScreen

        self.app.push_screen(ReportScreen(self.source, self.watched.run.id))

    def action_back(self) -> None:
        if self.status == "running":
            self.app.notify(f"run {self.watched.run.id} goes on in its own process; press a on the overview, or "
                            f"{self.source.come_back()} to come back", title="detached", markup=False)
        self.app.pop_screen()

    # -- polling --------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="live", description="watching the run")
    def poll(self) -> None:
        worker = get_current_worker()
        reader = LiveReader(dict(self.source.connections().dsns), self.source.bookkeeping_schema)
        try:
            for r in watch(reader, self.run_id, self.launched, lambda: worker.is_cancelled):
                self.post_message(LiveUpdate(r.live, r.lines, r.launch_error, r.journaled))
        finally:
            reader.close()

    def on_live_update(self, message: LiveUpdate) -> None:
        for entry in self.watched.update(message.live, message.lines, message.launch_error, message.journaled):
            self.log_entry(entry)
        if message.launch_error:
            self._panel("#failure", draw.launch_failure(message.launch_error))
            self.query_one("#state", Static).update(Text(draw.NOT_STARTED))
        if message.live is not None:
            self.show()
        self.update_keys()

    def log_entry(self, entry: LogEntry) -> None:
        self.query_one("#log", RichLog).write(draw.log_entry(entry))

    # -- drawing --------------------------------------------------------------------------------

    def show(self) -> None:
        """Draw the latest snapshot."""
        watched = self.watched
        run = watched.run
        if run is None:
            self.query_one("#state", Static).update("no upgrade run recorded yet")
            return
        self.query_one("#title", Static).update(draw.title(watched))
        self.query_one("#state", Static).update(draw.state(watched))
        self.query_one("#overall", ProgressBar).update(total=max(run.total, 1), progress=run.position)
        failure = draw.failure(watched)
        if failure is not None:
            self._panel("#failure", failure)
        self.query_one("#now", Static).update(draw.now(watched.live))
        waits = draw.waits(watched.live)
        if waits is None:
            self.query_one("#wait", Static).remove_class("show")
        else:
            self._panel("#wait", waits)
        self.query_one("#oob", Static).update(draw.out_of_band(watched))

    def _panel(self, selector: str, text: Text) -> None:
        """A bordered panel, hidden until it has something to say."""
        panel = self.query_one(selector, Static)
        panel.update(text)
        panel.add_class("show")


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
