"""The report of an upgrade run: what ran, durations, manual steps and who confirmed them, warnings.

The same Markdown as `pgferry report --run N`, shown here and saved with one key.
"""
from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Markdown, Static

from pgferry.engine.upgrade.report import build_report, migration_names, to_markdown
from pgferry.engine.userdirs import write_private
from pgferry.engine.safetext import printable

from .base import PgferryScreen, bottom_bar
from .data import Source


class ReportLoaded(Message):
    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.markdown = printable(markdown)  # to_markdown escapes already; a given text may not


class ReportScreen(PgferryScreen):
    CSS_PATH = "report.tcss"
    BINDINGS = [
        Binding("s", "save", "Save", tooltip="Save the report as Markdown in the current directory.", id="save"),
        Binding("escape", "back", "Back", id="back"),
    ]

    def __init__(self, source: Source, run_id: int, given: str | None = None) -> None:
        """given: Markdown shown as is, never read from the database (snapshots)."""
        super().__init__()
        self.given = given
        self.source = source
        self.run_id = run_id
        self.markdown: str | None = None
        self.saved: Path | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"pgferry · report of run {self.run_id}", id="title")
        with VerticalScroll():
            yield Markdown("reading the run…", id="report")
        yield bottom_bar()

    def on_mount(self) -> None:
        if self.given is not None:
            self.post_message(ReportLoaded(self.given))
        else:
            self.load()

    def disabled_reason(self, action: str) -> str | None:
        if action == "save" and self.markdown is None:
            return "the report is not read yet"
        return None

    @work(thread=True, exclusive=True, exit_on_error=False, group="report", description="reading the run")
    def load(self) -> None:
        defs = self.source.definitions()
        report = build_report(dict(self.source.connections().dsns), self.source.bookkeeping_schema, self.run_id,
                              migration_names(defs), defs)
        self.post_message(ReportLoaded(to_markdown(report)))

    def on_report_loaded(self, message: ReportLoaded) -> None:
        self.markdown = message.markdown
        self.query_one("#report", Markdown).update(message.markdown)
        self.update_keys()

    def action_save(self) -> None:
        path = Path.cwd() / f"pgferry-report-run-{self.run_id}.md"
        try:
            write_private(str(path), self.markdown)
        except OSError as exc:
            self.show_error(f"cannot write {path}: {exc.strerror}")
            return
        self.saved = path
        self.app.notify(f"saved {path} (readable by you only)", title="report")

    def action_back(self) -> None:
        self.app.pop_screen()
