"""The fleet screen (issue 18): a fleet run ring by ring, read from the coordinator every
POLL_SECONDS in a worker. Enter opens an instance's own run screen (read-only: the fleet's
coordinator runs its upgrade); p/r pause or resume the instance under the cursor, or the whole
fleet run from a ring's line or with P/R; / filters. What it knows is fleet_model.FleetView; what
it draws, fleet_render.
"""
from __future__ import annotations

import time

import psycopg
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input, Static
from textual.worker import get_current_worker

from pgferry.engine.errors import PgferryError
from pgferry.engine.fleet.state import coordinator_name

from . import fleet_render as draw
from .base import PgferryScreen, bottom_bar
from .data import error_text
from .fleet_model import POLL_SECONDS, FleetFeed, FleetSnapshot, FleetSource, FleetView, InstanceLine, Line, RingLine
from .safe import neutralised


class FleetUpdate(Message):
    def __init__(self, snapshot: FleetSnapshot) -> None:
        super().__init__()
        self.snapshot = neutralised(snapshot)  # reasons are the servers' text: escaped once, on arrival


class FleetScreen(PgferryScreen):
    CSS_PATH = "fleet.tcss"
    BINDINGS = [
        # priority: before the table's own (hidden) enter, so the footer shows it; dimmed, it falls through.
        Binding("enter", "open", "Open", tooltip="The instance's own upgrade run, live (read-only).", id="open",
                priority=True),
        Binding("p", "pause", "Pause", tooltip="Pause the instance (or, on a ring's line, the fleet run).", id="pause"),
        Binding("r", "resume", "Resume", tooltip="Resume the instance (or, on a ring's line, the fleet run).",
                id="resume"),
        Binding("P", "pause_fleet", "Pause all", key_display="P", tooltip="No instance starts from now.",
                id="pause-fleet"),
        Binding("R", "resume_fleet", "Resume all", key_display="R", tooltip="`fleet upgrade` carries on.",
                id="resume-fleet"),
        Binding("slash", "filter", "Filter", key_display="/", tooltip="Show instances whose name, ring, status "
                "or label contains the text.", id="filter"),
        Binding("escape", "back", "Back", tooltip="Leave the fleet screen; the fleet run goes on.", id="back"),
    ]

    def __init__(self, fleet: FleetSource, given: FleetSnapshot | None = None) -> None:
        """given: a snapshot shown as it is, never polled (snapshots)."""
        super().__init__()
        self.fleet = fleet
        self.given = given
        self.view = FleetView.of(fleet.inventory)
        self.drawn: list = []  # the table's rows as last filled: (key, cells)

    def compose(self) -> ComposeResult:
        yield Static(draw.title(self.view, self.fleet.inventory.name), id="title")
        yield Static(draw.run_line(self.view), id="run")
        yield Input(placeholder="filter: name, ring, status or label (enter: done, escape: clear)", id="filter")
        table = DataTable(id="instances", cursor_type="row", zebra_stripes=True)
        table.add_columns(*draw.COLUMNS)
        yield table
        yield bottom_bar()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        if self.given is not None:
            self.post_message(FleetUpdate(self.given))
        else:
            self.poll()

    # -- reading ----------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="fleet", description="reading the fleet")
    def poll(self) -> None:
        worker = get_current_worker()
        feed = FleetFeed(self.fleet)
        try:
            while not worker.is_cancelled:
                try:
                    self.post_message(FleetUpdate(feed.read()))
                except (PgferryError, psycopg.Error) as exc:  # said on screen; the next read tries again
                    feed.close()
                    self.app.call_from_thread(self.show_error, error_text(exc, self.fleet.secrets()))
                deadline = time.monotonic() + POLL_SECONDS
                while time.monotonic() < deadline and not worker.is_cancelled:
                    time.sleep(0.1)
        finally:
            feed.close()

    def on_fleet_update(self, message: FleetUpdate) -> None:
        self.view.snapshot = message.snapshot
        self.show()

    # -- drawing ----------------------------------------------------------------------------------

    def show(self) -> None:
        self.query_one("#title", Static).update(draw.title(self.view, self.fleet.inventory.name))
        self.query_one("#run", Static).update(draw.run_line(self.view))
        wide = self.size.width >= draw.WIDE
        rows = [(line.key, draw.ring_cells(line, wide) if isinstance(line, RingLine) else draw.instance_cells(line))
                for line in self.view.lines()]
        if rows != self.drawn:  # an unchanged fleet leaves the table, its cursor and its scrolling alone
            self.fill(rows)
        self.update_keys()

    def fill(self, rows) -> None:
        table = self.query_one(DataTable)
        keep, scroll_x = self.current_key(), table.scroll_x
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if keep is None:  # first drawn: on the first instance (a failure, when there is one)
            keep = next((line.key for line in self.view.lines() if isinstance(line, InstanceLine)), None)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        table.scroll_x = scroll_x
        self.drawn = rows

    def current_key(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def current(self) -> Line | None:
        return self.view.find(self.current_key())

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.update_keys()

    # -- keys -------------------------------------------------------------------------------------

    def disabled_reason(self, action: str) -> str | None:
        if action == "open" and self.is_mounted and self.query_one("#filter", Input).has_focus:
            return "typing a filter (enter: done)"  # enter goes to the filter
        return self.view.disabled_reason(action, self.current())

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """A click on a row."""
        if self.disabled_reason("open") is None:
            self.action_open()

    def on_descendant_focus(self) -> None:
        self.update_keys()

    def on_resize(self) -> None:
        self.show()

    def action_open(self) -> None:
        line = self.current()
        instance = next(i for i in self.fleet.inventory.instances if i.name == line.state.name)
        self.app.open_instance_run(self.fleet.instance_source(instance), line.state.upgrade_run_id)

    def action_pause(self) -> None:
        self._control("pause", self.current())

    def action_resume(self) -> None:
        self._control("resume", self.current())

    def action_pause_fleet(self) -> None:
        self._control("pause", None)

    def action_resume_fleet(self) -> None:
        self._control("resume", None)

    @work(thread=True, exit_on_error=False, group="control", description="asking the coordinator")
    def _control(self, what: str, line: Line | None) -> None:
        from pgferry.engine.fleet.control import pause_fleet, pause_one, resume_fleet, resume_one
        from pgferry.engine.fleet.state import open_store

        store = open_store(self.fleet.coordinator)
        try:
            run = store.get(self.view.run.id)
            if isinstance(line, InstanceLine):
                instance = self.fleet.inventory.instance(line.state.name)
                said = (pause_one(store, run, instance, coordinator_name(), self.fleet.definitions(),
                                  self.fleet.bookkeeping_schema) if what == "pause" else resume_one(store, run, instance))
            else:
                said = pause_fleet(store, run, coordinator_name()) if what == "pause" else resume_fleet(store, run)
            feed = FleetFeed(self.fleet)  # shown at once, not at the poll's next read
            try:
                fresh = feed.read()
            finally:
                feed.close()
        finally:
            store.conn.close()
        self.app.call_from_thread(self.app.notify, said, markup=False)
        self.post_message(FleetUpdate(fresh))

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("show")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.view.filter = event.value
        self.show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus or self.view.filter:  # escape first clears the filter, then leaves
            box.value = ""
            box.remove_class("show")
            self.query_one(DataTable).focus()
            return
        if len(self.app.screen_stack) <= 2:  # opened by `pgferry fleet ui`: nothing under it
            self.app.exit()
        else:
            self.app.pop_screen()

    def show_error(self, text: str) -> None:
        self.query_one("#run", Static).update(Text(f"✗ {text}"))
        super().show_error(text)
