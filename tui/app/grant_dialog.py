"""'Grant it myself': a superuser connection string for running the bundle, asked for once.

The string is masked as it is typed, returned to the caller and never shown, stored or logged;
the demo (and a DBA at the same terminal) prefill it from `Source.superuser_dsn`.
"""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from pgferry.engine.connection import dsn_problem
from pgferry.engine.privileges.privileges import Bundle
from pgferry.engine.safetext import printable


class GrantDialog(ModalScreen[str | None]):
    CSS_PATH = "grant_dialog.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Close without running anything.", id="grant-cancel")]

    def __init__(self, bundle: Bundle, databases: list[str], prefill: str = "") -> None:
        super().__init__()
        self.bundle = bundle
        self.databases = databases
        self.prefill = prefill

    def compose(self) -> ComposeResult:
        n = sum(len(i.statements) for i in self.bundle.items)
        with Vertical(id="grant-dialog"):
            with Vertical(id="grant-head"):
                yield Static("Run the privileged bundle with a superuser connection", id="grant-title")
                yield Static(Text(
                    f"pgferry connects as the superuser to {', '.join(self.databases)}, runs exactly these {n} "
                    "statement(s), one transaction per step, then verifies them in the catalog and holds them as "
                    "granted (each is recorded applied when the upgrade reaches it). The connection string is used for "
                    "this only and never shown, saved or logged."))
            with VerticalScroll(id="grant-sql"):
                yield Static(Text(printable("\n".join(i.sql for i in self.bundle.items))))  # shown; the bundle runs
            with Vertical(id="grant-foot"):
                yield Static("superuser connection string (postgresql://user:password@host:port/db or key=value):")
                yield Input(self.prefill, password=True, placeholder="postgresql://postgres@host:5432/db",
                            id="grant-dsn", compact=True)
                yield Static("", id="grant-problem", markup=False)
                with Horizontal(id="grant-buttons"):
                    yield Button("Run as superuser", variant="warning", id="grant-run", compact=True)
                    yield Button("Cancel", id="grant-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "grant-run":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def submit(self) -> None:
        dsn = self.query_one(Input).value.strip()
        problem = dsn_problem(dsn) if dsn else "give a connection string, or press Esc"
        if problem:  # a string libpq cannot parse is refused here, shown masked, never sent anywhere
            self.query_one("#grant-problem", Static).update(f"✗ {problem}")
            return
        self.dismiss(dsn)
