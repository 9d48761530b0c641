"""Connection and overview: versions, counts, health, and the dirty / run banner."""
from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from tui.states import banner_lines, schema_state
from .base import PgferryScreen
from .data import Overview, Source, load_overview
from .messages import OverviewLoaded

COLUMNS = ("schema", "version", "applied", "pending", "failed", "state")


class OverviewScreen(PgferryScreen):
    DEFAULT_CSS = """
    OverviewScreen { layout: vertical; }
    #title { background: $panel; color: $foreground; text-style: bold; padding: 0 1; }
    #banner { display: none; border: heavy $error; color: $text-error; background: $error-muted; padding: 0 1; }
    #banner.show { display: block; }
    #error { display: none; border: heavy $error; padding: 0 1; }
    #error.show { display: block; }
    #summary { padding: 0 1; }
    #connections { padding: 0 1; color: $text-muted; }
    #schemas { height: auto; max-height: 1fr; margin: 1 1 0 1; }
    """
    BINDINGS = [
        Binding("r", "refresh", "Refresh", tooltip="Read the status from the database again.", id="refresh"),
    ]

    def __init__(self, source: Source | None = None, overview: Overview | None = None) -> None:
        super().__init__()
        self.source = source or Source()
        self.given = overview  # a given value is shown as is and never reloaded (snapshots, replays)

    def compose(self) -> ComposeResult:
        yield Static("pgferry · overview", id="title")
        yield Static(id="banner")
        yield Static(id="error")
        yield Static("reading status…", id="summary")
        yield Static(id="connections")
        table = DataTable(id="schemas", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Footer(compact=True)

    def on_mount(self) -> None:
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
        self.post_message(OverviewLoaded(load_overview(self.source)))

    def on_overview_loaded(self, message: OverviewLoaded) -> None:
        self.display_overview(message.overview)

    def display_overview(self, overview: Overview) -> None:
        status = overview.status
        self.query_one("#error", Static).remove_class("show")
        banner = banner_lines(status, overview.run)
        self.query_one("#banner", Static).update(Text("\n".join(banner)))
        self.query_one("#banner", Static).set_class(bool(banner), "show")
        server = f"{overview.server} · " if overview.server else ""
        self.query_one("#summary", Static).update(Text(f"{server}database version: {status.version.label}"))
        self.query_one("#connections", Static).update(
            Text("\n".join(f"{s.name}: {s.database}" for s in status.schemas)))
        table = self.query_one("#schemas", DataTable)
        table.clear()
        for s in status.schemas:
            table.add_row(s.name, s.version or "-", str(len(s.applied)), str(len(s.pending)),
                          str(len(s.state.failed)), schema_state(s), key=s.name)

    def show_error(self, text: str) -> None:
        panel = self.query_one("#error", Static)
        panel.update(Text("✗ cannot read the status\n" + text + "\nPress r to try again."))
        panel.add_class("show")
        self.query_one("#summary", Static).update("")
