"""The pgferry terminal UI (DESIGN §12)."""
from __future__ import annotations

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from engine.errors import UsageError

from . import themes
from .data import Overview, Source, error_text
from .help import HelpScreen
from .overview import OverviewScreen


class PgferryApp(App[None]):
    TITLE = "pgferry"
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Leave pgferry (a running upgrade goes on).", id="quit"),
        Binding("question_mark,f1", "help", "Help", key_display="?", tooltip="Show help and keys.", id="help"),
    ]

    def __init__(self, source: Source | None = None, *, theme: str | None = None,
                 overview: Overview | None = None) -> None:
        super().__init__()
        self.animation_level = "none"  # calm over SSH
        self.source = source or Source()
        self.given = overview
        loaded, self.theme_problems = themes.load_all()
        for t in loaded:
            self.register_theme(t)
        name = themes.choose(theme, self.no_color)
        if name not in self.available_themes:
            raise UsageError(f"unknown theme {name!r}", hint=f"known: {', '.join(sorted(self.available_themes))}")
        self.theme = name

    def on_mount(self) -> None:
        for problem in self.theme_problems:
            self.notify(problem, title="theme file skipped", severity="warning", markup=False)
        self.push_screen(OverviewScreen(self.source, self.given))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def worker_failed(self, screen: Screen, error: BaseException) -> None:
        """The one place worker failures end up: a readable message on the screen that ran it."""
        screen.show_error(error_text(error, self.source.secrets()))
