"""Saving text to a file the owner alone can read: the fallback for a blocked clipboard, and exports.

`SaveText(title, default_name, text)` asks for a path and writes it with mode 0600 (files hold
schema details and SQL); it returns the absolute path written, or None when cancelled.
"""
from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from pgferry.engine.userdirs import write_private as write_private_file


def write_private(path: str, text: str) -> Path:
    target = Path(path).expanduser().resolve()
    write_private_file(str(target), text)  # owner-only, an existing file's mode included
    return target


def path_problem(path: str, warned: str | None, again: str) -> str | None:
    """Why `path` cannot be written yet: empty, a directory, or an existing file not yet confirmed
    (`warned` is the path the user was already told about; `again` says how to confirm)."""
    if not path:
        return "✗ give a file name"
    target = Path(path).expanduser()
    if target.is_dir():
        return f"✗ {path} is a directory: add a file name"
    if target.exists() and warned != path:
        return f"! {path} exists: {again} to replace it"
    return None


class SaveText(ModalScreen[Path | None]):
    CSS_PATH = "savefile.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Close without writing.", id="save-cancel")]

    def __init__(self, title: str, default_name: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.default_name = default_name
        self.text = text
        self.confirm_replace: str | None = None  # the path the user was warned about once

    def compose(self) -> ComposeResult:
        with Vertical(id="save-dialog"):
            yield Static(Text(self.title_text), id="save-title")
            yield Static("file (owner-only, 0600; relative to the current directory):")
            yield Input(self.default_name, id="save-path", compact=True)
            yield Static("", id="save-problem", markup=False)
            with Horizontal(id="save-buttons"):
                yield Button("Write", variant="primary", id="save-write", compact=True)
                yield Button("Cancel", id="save-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.write()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save-write":
            self.write()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def write(self) -> None:
        path = self.query_one(Input).value.strip()
        problem = self.query_one("#save-problem", Static)
        why = path_problem(path, self.confirm_replace, "press Enter again")
        if why:
            self.confirm_replace = path
            problem.update(why)
            return
        try:
            written = write_private(path, self.text)
        except OSError as exc:
            problem.update(f"✗ cannot write {path}: {exc.strerror or exc}")
            return
        self.dismiss(written)
