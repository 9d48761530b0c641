"""Adopt: a database holding the product with nothing recorded, brought under pgferry's bookkeeping.

The operator picks the release the database is at; the comparison with that release's shape runs
in a worker (one release at a time: a replayed shape costs scratch databases), and shows either
what adopting records or the differences with their fix SQL. Recording asks for the release to be
typed, as every change that is hard to undo does.
"""
from __future__ import annotations

import os

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from pgferry.engine.repair.adopt import Adoption
from pgferry.engine.safetext import printable
from pgferry.tui.adopt_view import lines

from .base import PgferryScreen, bottom_bar
from .confirm import TypedConfirm
from .data import Source


class Compared(Message):
    def __init__(self, adoption: Adoption) -> None:
        super().__init__()
        self.adoption = adoption  # shown through `printable`, line by line; recorded as is


class Adopted(Message):
    def __init__(self, adoption: Adoption) -> None:
        super().__init__()
        self.adoption = adoption


class AdoptScreen(PgferryScreen):
    CSS_PATH = "adopt.tcss"
    BINDINGS = [
        Binding("enter", "compare", "Compare", key_display="⏎", priority=True,
                tooltip="Compare the database with the highlighted release's shape.", id="adopt-compare"),
        Binding("c", "record", "Adopt", tooltip="Record the compared release as the database's (typed confirmation).",
                id="adopt-record"),
        Binding("escape", "back", "Back", tooltip="Back to the overview.", id="adopt-back"),
    ]

    def __init__(self, source: Source, adoption: Adoption | None = None) -> None:
        super().__init__()
        self.source = source
        self.adoption = adoption  # a given comparison is shown as is (snapshots)
        self.busy: str | None = None  # what a worker is doing now

    def compose(self) -> ComposeResult:
        yield Static("pgferry · adopt an existing database", id="title")
        yield Static(Text("The product's tables are here, but pgferry's bookkeeping records nothing: a restored dump, "
                          "or a database another tool built. Choose the release it is at and press ⏎ to compare "
                          "it with that release's shape; when they match, c records the release's migrations as "
                          "backfilled, with you as the one who confirmed it."), id="intro")
        table = DataTable(id="releases", cursor_type="row", zebra_stripes=True)
        table.add_columns("release", "notes")
        yield table
        with VerticalScroll(id="result-box"):
            yield Static(id="result")
        yield bottom_bar()

    def on_mount(self) -> None:
        defs = self.source.definitions()
        table = self.query_one("#releases", DataTable)
        for r in defs.releases.releases:
            table.add_row(r.version, Text(" ".join(r.notes.split()), style="dim"), key=r.version)
        newest = defs.releases.latest()
        chosen = self.adoption.release if self.adoption else newest.version if newest else None
        if chosen is not None:
            table.move_cursor(row=table.get_row_index(chosen))
        if self.adoption is not None:
            self._show(self.adoption)
        else:
            self._say("Choose a release, then ⏎ compares.")
        table.focus()

    def disabled_reason(self, action: str) -> str | None:
        if action in ("compare", "record") and self.busy:
            return self.busy
        if action == "record":
            if self.source.read_only:
                return "read-only view (pgferry watch)"
            if self.adoption is None:
                return "compare with a release first (⏎)"
            if not self.adoption.matches:
                return f"the database differs from {self.adoption.release}: apply the fix SQL, or compare another release"
        return None

    def _highlighted(self) -> str:
        table = self.query_one("#releases", DataTable)
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _say(self, text: str) -> None:
        self.query_one("#result", Static).update(Text(text))

    def _show(self, adoption: Adoption) -> None:
        self.query_one("#result", Static).update(Text("\n".join(printable(line) for line in lines(adoption))))
        self.update_keys()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_compare()

    def action_compare(self) -> None:
        if self.busy:
            return
        version = self._highlighted()
        from pgferry.engine.repair.expected import expected_path

        shipped = expected_path(self.source.definitions(), version).is_file()
        self.adoption = None
        self.busy = f"comparing with {version}"
        self._say(f"comparing the database with {version}…" + ("" if shipped else
                  "\nno shipped expected shape: replaying its migrations into scratch databases in a temporary "
                  "embedded PostgreSQL (this takes a while)…"))
        self.update_keys()
        self.compare(version, shipped)

    @work(thread=True, exclusive=True, exit_on_error=False, group="adopt", description="comparing with a release")
    def compare(self, version: str, shipped: bool) -> None:
        from pgferry.engine.bookkeeping.runs import operator_name
        from pgferry.engine.repair.adopt import prepare_adoption
        from pgferry.engine.repair.drift import default_ignore
        from pgferry.engine.repair.expected import generate

        defs = self.source.definitions()
        conns = self.source.connections()
        operator = os.environ.get("PGFERRY_OPERATOR") or operator_name()
        load = None if shipped else (lambda d, v: generate(d, v))
        self.post_message(Compared(prepare_adoption(defs, conns.dsns, version, operator=operator,
                                                    bookkeeping_schema=conns.bookkeeping_schema,
                                                    rules=default_ignore(defs), load=load)))

    def on_compared(self, message: Compared) -> None:
        self.busy = None
        self.adoption = message.adoption
        self._show(message.adoption)

    def action_record(self) -> None:
        a = self.adoption
        body = "\n".join(printable(line) for line in lines(a))
        self.app.push_screen(TypedConfirm(f"Adopt the database at {a.release}", body, a.release, "record it"),
                             self._confirmed)

    def _confirmed(self, ok: bool | None) -> None:
        if ok:
            self.busy = "recording the release"
            self._say(f"recording {self.adoption.release}…")
            self.update_keys()
            self.record(self.adoption)

    @work(thread=True, exclusive=True, exit_on_error=False, group="adopt", description="recording the release")
    def record(self, adoption: Adoption) -> None:
        from pgferry.engine.repair.adopt import adopt

        self.post_message(Adopted(adopt(self.source.definitions(), adoption)))

    def on_adopted(self, message: Adopted) -> None:
        a = message.adoption
        self.app.notify(f"recorded {a.migrations} migration(s) of {a.release} as backfilled, confirmed by "
                        f"{printable(a.operator)}", title="adopted", markup=False)
        self.app.pop_screen()  # the overview reads the status again

    def show_error(self, text: str) -> None:
        self.busy = None
        self.adoption = None
        self._say("✗ " + text)
        self.update_keys()

    def action_back(self) -> None:
        self.app.pop_screen()
