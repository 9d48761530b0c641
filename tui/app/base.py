"""Shared base for the app's screens.

Two things every screen does the same way:
- worker failures go to the app's one error handler;
- a key that cannot be used right now stays in the footer, dimmed, and a line above the footer
  says why (a screen names the reason in `disabled_reason`), so nothing is hidden and nothing
  is explained by colour alone.
"""
from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.widgets._footer import FooterKey  # not re-exported; the pinned major keeps it
from textual.worker import Worker, WorkerState


class KeyReasons(Static):
    """'dimmed: c continue — verify the privileged steps first'; empty when every key works."""

    DEFAULT_CSS = """
    KeyReasons { height: auto; padding: 0 1; color: $text-muted; display: none; }
    KeyReasons.show { display: block; }
    """


class KeyFooter(Footer):
    """Textual's footer where every key of the screen stays in sight: the command palette's hint (ctrl+p,
    listed in ? help) gives way when the keys need its room, as in 80 columns. Textual docks that hint
    over the right end, where it would hide the last keys (q Quit, ? Help)."""

    _needs: tuple[int, int] = (0, 0)  # (the keys' width, the hint's), as last composed
    _hint_shown = False

    def compose(self) -> ComposeResult:
        keys = hint = 0
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.has_class("-command-palette"):
                hint = _width(widget) + 1  # + 1: the bar that sets it apart
                if keys + hint > self.size.width:
                    continue
            elif isinstance(widget, FooterKey):
                keys += _width(widget) + 1  # + 1: the gap after each key
            yield widget
        self._needs = (keys, hint)
        self._hint_shown = bool(hint) and keys + hint <= self.size.width

    def on_resize(self) -> None:
        keys, hint = self._needs
        if hint and (keys + hint <= self.size.width) != self._hint_shown:
            self.call_after_refresh(self.recompose)


def _width(key: FooterKey) -> int:
    return cell_len(key.key_display) + (1 + cell_len(key.description) if key.description else 0)


def bottom_bar() -> Vertical:
    """The reasons for dimmed keys above the footer, docked together (two docked widgets would overlap)."""
    return Vertical(KeyReasons(), KeyFooter(compact=True), id="bottom-bar")


class PgferryScreen(Screen):
    # DEFAULT_CSS, not a .tcss file as the screens have: every screen inherits it, where a subclass's
    # CSS_PATH would replace this one.
    DEFAULT_CSS = """
    #bottom-bar { dock: bottom; height: auto; }
    #bottom-bar Footer { dock: none; }  /* stacked under the reasons, not overlapping them */
    """

    def disabled_reason(self, action: str) -> str | None:
        """Why `action` cannot run now, or None when it can. Screens override this."""
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # None = shown dimmed in the footer (Textual's convention); the reason goes on KeyReasons.
        return None if self.disabled_reason(action) else True

    def update_keys(self) -> None:
        """Call after the state that decides `disabled_reason` changes."""
        self.refresh_bindings()
        parts = []
        for binding in self._bindings_for_reasons():
            reason = self.disabled_reason(binding.action)
            if reason:
                key = binding.key_display or binding.key.split(",")[0]
                parts.append(f"{key} {binding.description.lower()}: {reason}")
        for widget in self.query(KeyReasons):
            widget.update(Text("dimmed · " + " · ".join(dict.fromkeys(parts)) if parts else ""))
            widget.set_class(bool(parts), "show")

    def _bindings_for_reasons(self):
        seen = set()
        for binding in self._bindings.key_to_bindings.values():
            for b in binding:
                # a key the screen hides (check_action False) is not in the footer: no reason for it either
                if b.show and b.action not in seen and self.check_action(b.action, ()) is not False:
                    seen.add(b.action)
                    yield b

    def on_screen_resume(self) -> None:
        self.update_keys()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.worker_failed(self, event.worker.error)

    def show_error(self, text: str) -> None:
        self.app.notify(text, title="error", severity="error", markup=False)
