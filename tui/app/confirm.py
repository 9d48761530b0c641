"""A typed confirmation: what is hard to undo asks for a word, never just Enter (k9s, lazygit).

`TypedConfirm(title, body, expected, action_label)` shows `body` (the exact SQL or command that
will run), asks for `expected` to be typed, and dismisses with True only when it matches.
Esc, Cancel or closing it dismiss with False. `option`, when given, is a checkbox above the prompt
(off until ticked: Tab to it, Space); `chosen` says whether it was ticked when the dialog closed.
"""
from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static


class TypedConfirm(ModalScreen[bool]):
    CSS_PATH = "confirm.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without doing anything.", id="confirm-cancel"),
        # the input keeps the focus: these scroll the SQL above it
        Binding("pageup", "scroll_body(-1)", "Scroll up", show=False, id="confirm-page-up"),
        Binding("pagedown", "scroll_body(1)", "Scroll down", show=False, id="confirm-page-down"),
    ]

    def __init__(self, title: str, body: RenderableType | str, expected: str, action_label: str,
                 option: str | None = None) -> None:
        super().__init__()
        self.option = option
        self.chosen = False
        self.title_text = title
        self.body = Text(body) if isinstance(body, str) else body  # a str is shown as is, never as markup
        self.expected = expected
        self.action_label = action_label

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.title_text), id="confirm-title")
            with VerticalScroll(id="confirm-body"):
                yield Static(self.body)
            with Vertical(id="confirm-foot"):
                if self.option:
                    yield Checkbox(Text(self.option), id="confirm-option", compact=True)
                yield Static(Text.assemble("Type ", (self.expected, "bold"), f" to {self.action_label} "
                                           "(Esc cancels; PgUp/PgDn scroll the text above):"), id="confirm-prompt")
                yield Input(id="confirm-input")  # with its border: visible in 16 colours too
                yield Static("", id="confirm-problem", markup=False)
                with Horizontal(id="confirm-buttons"):
                    yield Button(self.action_label, variant="warning", id="confirm-go", disabled=True, compact=True)
                    yield Button("Cancel", id="confirm-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm-go", Button).disabled = event.value.strip() != self.expected
        self.query_one("#confirm-problem", Static).update("")

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.chosen = event.value
        # The mark says it without colour (as the export dialog's formats do)
        event.checkbox.label = Text(f"{self.option} ✓" if self.chosen else self.option)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.expected:
            self.dismiss(True)
        else:  # stay open: a typo should not silently cancel, nor act
            self.query_one("#confirm-problem", Static).update(
                f"✗ that is not {self.expected}: type it exactly, or press Esc to cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-go")

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_scroll_body(self, pages: int) -> None:
        body = self.query_one("#confirm-body", VerticalScroll)
        (body.scroll_page_down if pages > 0 else body.scroll_page_up)(animate=False)
