"""The help dialog: bundled Markdown, closed by any key."""
from __future__ import annotations

from importlib.resources import files

from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown


def help_text(topic: str | None = None) -> str:
    """The bundled help, with the section for `topic` (a screen's category) first."""
    text = files("pgferry.tui.app").joinpath("help.md").read_text(encoding="utf-8")
    sections = ["## " + part.removeprefix("## ") for part in text.split("\n## ") if part.strip()]
    if topic:
        first = [s for s in sections if s.splitlines()[0].strip("# ").lower() == topic]
        sections = first + [s for s in sections if s not in first]
    return "\n\n".join(s.strip() for s in sections) + "\n"


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"

    def __init__(self, topic: str | None = None) -> None:
        super().__init__()
        self.topic = topic

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(help_text(self.topic), id="help-text")

    def on_key(self, event: events.Key) -> None:
        event.stop()
        scroll = self.query_one(VerticalScroll)
        if event.key in ("down", "j"):
            scroll.scroll_down(animate=False)
        elif event.key in ("up", "k"):
            scroll.scroll_up(animate=False)
        elif event.key in ("pagedown", "space"):
            scroll.scroll_page_down(animate=False)
        elif event.key == "pageup":
            scroll.scroll_page_up(animate=False)
        else:  # any other key closes, Esc included
            self.dismiss(None)
