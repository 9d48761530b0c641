"""Connection and overview: versions, counts, health, and the dirty / run banner."""
from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from pgferry.tui.states import banner_lines, schema_state
from .base import PgferryScreen, bottom_bar
from .data import Overview, Source, load_overview
from .data import load_preflight
from .messages import OverviewLoaded, PreflightLoaded

COLUMNS = ("schema", "version", "applied", "pending", "failed", "state")


class OverviewScreen(PgferryScreen):
    CSS_PATH = "overview.tcss"
    BINDINGS = [
        Binding("t", "choose_target", "Target", tooltip="Choose the release to upgrade or downgrade to.", id="target"),
        Binding("d", "adopt", "Adopt", tooltip="Record the release a database pgferry never ran on is at (adoption).",
                id="adopt"),
        Binding("x", "recover", "Recover", tooltip="Walk through recovering a dirty database.", id="recover"),
        Binding("a", "attach", "Attach", tooltip="Open the live view of the running upgrade.", id="attach"),
        Binding("s", "server_upgrade", "Server", tooltip="Upgrade the product's own PostgreSQL server to a new major "
                "version (pg_upgrade): checks, modes, run, resume or roll back.", id="server-upgrade"),
        Binding("r", "refresh", "Reload", tooltip="Read the status from the database again.", id="refresh"),
        Binding("l", "last_report", "Report", tooltip="The report of the last upgrade run, wherever it was started.",
                id="last-report"),
    ]

    def __init__(self, source: Source | None = None, overview: Overview | None = None) -> None:
        super().__init__()
        self.source = source or Source()
        self.given = overview  # a given value is shown as is and never reloaded (snapshots, replays)

    overview: Overview | None = None

    def disabled_reason(self, action: str) -> str | None:
        o = self.overview
        if action in ("choose_target", "recover", "attach", "adopt") and o is None:
            return "the status is not read yet"
        if action == "adopt":
            return self._adopt_reason(o)
        if action == "choose_target":
            if self.source.read_only:
                return "read-only view (pgferry watch)"
            if o.status.needs_recovery:  # a cut-off index build alone does not block: the run settles it
                return "the database is dirty: recover first (x)"
            if o.run is not None and o.run.effective_status == "running":
                return "an upgrade is running: attach to it (a)"
            if o.unrecorded is not None:
                return "the product's tables are here with nothing recorded: adopt the database first (d)"
            if any(c.blocks for c in o.status.changed):
                return "an applied migration changed since it ran: restore its file, or accept it (--accept-changed)"
        if action == "recover" and not o.status.dirty:
            return "nothing to recover: no failed or cut-off migration"
        if action == "attach" and (o.run is None or o.run.effective_status not in ("running", "paused")):
            return "no upgrade is running"
        if action == "server_upgrade" and self.source.read_only:
            return "read-only view (pgferry watch)"
        if action == "last_report":
            if o is None:
                return "the status is not read yet"
            if o.run is None:
                return "no upgrade run recorded yet"
            if o.run.effective_status == "running":
                return f"run {o.run.id} has not ended: attach to it (a)"
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Adoption is an offer for the rare database with nothing recorded: elsewhere its key stays
        # out of the footer rather than dimmed on every overview (the palette still says why).
        if action == "adopt" and (self.overview is None or self.overview.unrecorded is None):
            return False
        return super().check_action(action, parameters)

    def _adopt_reason(self, o: Overview) -> str | None:
        if self.source.read_only:
            return "read-only view (pgferry watch)"
        if o.unrecorded is None:
            return "nothing to adopt: the bookkeeping records this database (or it is empty)"
        if o.unrecorded.elsewhere:
            return "its migrations are recorded in another bookkeeping schema (see the banner)"
        return None

    def action_adopt(self) -> None:
        self.app.open_adoption()

    def action_last_report(self) -> None:
        from .report import ReportScreen

        self.app.push_screen(ReportScreen(self.source, self.overview.run.id))

    def action_choose_target(self) -> None:
        self.app.choose_target()

    def action_server_upgrade(self) -> None:
        self.app.open_server_upgrade()

    def action_recover(self) -> None:
        self.app.open_recovery()

    def action_attach(self) -> None:
        self.app.attach(self.overview.run.id)

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.given is None and self.overview is not None:
            self.load_status()  # back from another screen: the state may have changed

    def compose(self) -> ComposeResult:
        yield Static("pgferry · overview", id="title")
        yield Static(id="banner")
        yield Static(id="error")
        yield Static("reading status…", id="summary")
        yield Static(id="connections")
        yield Static(id="oob")
        yield Static(id="preflight")  # filled by the worker; hidden until then
        table = DataTable(id="schemas", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield bottom_bar()

    def on_mount(self) -> None:
        self.query_one("#preflight", Static).display = False
        self.query_one("#oob", Static).display = False
        if self.given is not None:
            self.display_overview(self.given)
        else:
            self.load_status()

    def action_refresh(self) -> None:
        if self.given is None:
            self.query_one("#summary", Static).update("reading status…")
            self.load_status()

    @work(thread=True, exclusive=True, exit_on_error=False, group="overview", description="reading status")
    def load_status(self) -> None:
        overview = load_overview(self.source)
        self.post_message(OverviewLoaded(overview))
        if overview.unrecorded is None and not overview.status.needs_recovery and (overview.run is None or overview.run.effective_status != "running"):
            self.post_message(PreflightLoaded(load_preflight(self.source)))

    def on_preflight_loaded(self, message: PreflightLoaded) -> None:
        summary = message.summary
        panel = self.query_one("#preflight", Static)
        panel.display = summary is not None
        if summary is None:
            return
        text = Text(f"preflight for {summary.target}: ", style="bold")
        if summary.problem:
            text.append(f"! no plan to check: {summary.problem}")
            panel.update(text)
            return
        passed = [c for c in summary.checks if c.status == "pass"]
        text.append(f"✓ {len(passed)} passed")
        for c in summary.checks:
            if c.status != "pass":
                text.append(f"\n{'✗' if c.status == 'fail' else '!'} {c.name}: {c.reason}")
        panel.update(text)

    def on_overview_loaded(self, message: OverviewLoaded) -> None:
        self.display_overview(message.overview)

    def display_overview(self, overview: Overview) -> None:
        self.overview = overview
        status = overview.status
        self.query_one("#error", Static).remove_class("show")
        banner = banner_lines(status, overview.run)
        if status.needs_recovery:
            banner.append("→ press x for the recovery walkthrough")
        if overview.unrecorded is not None:
            u = overview.unrecorded
            banner += [f"! {u.message}", f"→ {u.hint}" if u.elsewhere else
                       "→ if it was restored from a dump or built by another tool, press d to adopt it at its release"]
        if overview.run is not None and overview.run.effective_status in ("running", "paused"):
            banner.append("→ press a to attach to the run")
        self.query_one("#banner", Static).update(Text("\n".join(banner)))
        self.query_one("#banner", Static).set_class(bool(banner), "show")
        server = f"{overview.server} · " if overview.server else ""
        summary = Text(f"{server}database version: {status.version.label}")
        last = last_run_line(overview)
        if last:
            summary.append("\n" + last)
        self.query_one("#summary", Static).update(summary)
        self.query_one("#connections", Static).update(
            Text("\n".join(f"{s.name}: {s.database}" for s in status.schemas)))
        oob = Text()
        for n, o in enumerate(overview.out_of_band):
            span = f"{o.introduced}–{o.deprecated or ''}"
            state = f"not live ({span})" if o.progress is None else \
                "✓ complete" if o.progress >= 1 else f"{o.progress:.0%}"
            oob.append(("\n" if n else "out-of-band:\n") + f"⟳ {o.id} {state} · {o.description}")
        self.query_one("#oob", Static).update(oob)
        self.query_one("#oob", Static).display = bool(overview.out_of_band)
        table = self.query_one("#schemas", DataTable)
        table.clear()
        for s in status.schemas:
            table.add_row(s.name, s.version or "-", str(len(s.applied)), str(len(s.pending)),
                          str(len(s.state.failed)), schema_state(s), key=s.name)
        self.update_keys()

    def show_error(self, text: str) -> None:
        panel = self.query_one("#error", Static)
        panel.update(Text("✗ cannot read the status\n" + text + "\nPress r to try again."))
        panel.add_class("show")
        self.query_one("#summary", Static).update("")


def last_run_line(overview: Overview) -> str | None:
    """The last run that has ended, and where its report is: it may have ended while no UI was open."""
    run = overview.run
    if run is None or run.effective_status == "running":
        return None
    continuing = f" (continuing run {run.resumed_from})" if run.resumed_from else ""
    move = f"{run.direction} {run.from_version or 'none'} → {run.to_version}"
    when = f" {run.finished_at:%Y-%m-%d %H:%M}" if run.finished_at else ""
    return f"last run {run.id}{continuing}: {move}, {run.effective_status}{when} · l: its report"
