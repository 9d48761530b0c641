"""Export a plan to a file: SQL, JSON or Markdown, readable by its owner only."""
from __future__ import annotations

import json
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from pgferry.engine.plan.export import to_markdown, to_sql
from pgferry.engine.plan.planner import Plan

from .savefile import path_problem, write_private

FORMATS = (("sql", "SQL", ".sql"), ("json", "JSON", ".json"), ("markdown", "Markdown", ".md"))


def render(plan: Plan, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(plan.as_dict(), indent=2) + "\n"
    return to_markdown(plan) if fmt == "markdown" else to_sql(plan)


def default_name(plan: Plan, fmt: str) -> str:
    ext = next(e for f, _, e in FORMATS if f == fmt)
    return f"pgferry-plan-{plan.to_version}{ext}"


def write_export(plan: Plan, fmt: str, path: str) -> Path:
    """Write and return the absolute path; files hold schema details, so 0600 like the CLI's --out."""
    return write_private(path, render(plan, fmt))


class ExportScreen(ModalScreen[Path | None]):
    """Returns the path written, or None when cancelled. Errors stay in the dialog."""

    CSS_PATH = "export.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without writing.", id="export-cancel"),
        Binding("ctrl+s", "write", "Write", tooltip="Write the file.", id="export-write"),
    ]

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.fmt = "sql"
        self.confirm_replace: str | None = None  # the path the user was warned about once

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Export the plan {self.plan.from_label} → {self.plan.to_version}", id="dialog-title",
                         markup=False)
            with RadioSet(id="format"):
                for fmt, label, _ in FORMATS:
                    yield RadioButton(label, value=fmt == self.fmt, id=f"fmt-{fmt}")
            yield Static("file (owner-only, 0600; relative to the current directory):")
            yield Input(default_name(self.plan, self.fmt), id="path", compact=True)
            yield Static("", id="problem", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Write", variant="primary", id="write")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._mark_choice()
        self.query_one(RadioSet).focus()

    def _mark_choice(self) -> None:
        # the pressed radio button differs from the others by colour only: add a glyph (16 colours, NO_COLOR)
        for fmt, label, _ in FORMATS:
            self.query_one(f"#fmt-{fmt}", RadioButton).label = f"{label} ✓" if fmt == self.fmt else label

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        old = default_name(self.plan, self.fmt)
        self.fmt = event.pressed.id.removeprefix("fmt-")
        self._mark_choice()
        path = self.query_one("#path", Input)
        if path.value == old:  # untouched by the user: follow the format
            path.value = default_name(self.plan, self.fmt)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_write()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "write":
            self.action_write()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_write(self) -> None:
        path = self.query_one("#path", Input).value.strip()
        problem = self.query_one("#problem", Static)
        why = path_problem(path, self.confirm_replace, "Write again")
        if why:
            self.confirm_replace = path
            problem.update(why)
            return
        try:
            written = write_export(self.plan, self.fmt, path)
        except OSError as exc:
            problem.update(f"✗ cannot write {path}: {exc.strerror or exc}")
            return
        self.dismiss(written)
