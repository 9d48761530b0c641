"""The command palette (ctrl+p): every key of the screen in front, plus themes, help and quit.

Titles read "category: verb" so typing the category lists its commands. A command whose key is
dimmed right now stays listed with the reason as its help, and choosing it says why, instead of
silently doing nothing.
"""
from __future__ import annotations

from functools import partial
from typing import Iterable

from textual.app import SystemCommand
from textual.screen import Screen
from textual.theme import BUILTIN_THEMES


def category(screen: Screen) -> str:
    name = getattr(screen, "CATEGORY", None) or type(screen).__name__.removesuffix("Screen")
    return name.lower() or "screen"


def screen_commands(app, screen: Screen) -> Iterable[SystemCommand]:
    seen: set[str] = set()
    reason_of = getattr(screen, "disabled_reason", lambda action: None)
    for bindings in screen._bindings.key_to_bindings.values():
        for b in bindings:
            if not b.show or b.action in seen or b.action in ("back", "quit", "help"):
                continue
            seen.add(b.action)
            reason = reason_of(b.action)
            help_text = f"unavailable: {reason}" if reason else (b.tooltip or b.description)
            key = b.key_display or b.key.split(",")[0]
            yield SystemCommand(f"{category(screen)}: {b.description.lower()} ({key})", help_text,
                                partial(_run, app, screen, b.action, reason))


def _run(app, screen: Screen, action: str, reason: str | None) -> None:
    if reason:
        app.notify(reason, title="not now", severity="warning", markup=False)
        return
    app.call_later(screen.run_action, action)


def global_commands(app) -> Iterable[SystemCommand]:
    for name in sorted(app.available_themes):
        if name not in _TEXTUAL_BUILTIN:
            yield SystemCommand(f"theme: {name}", f"switch to the {name} theme",
                                partial(setattr, app, "theme", name))
    yield SystemCommand("help: keys and screens", "what each screen shows and its keys", app.action_help)
    yield SystemCommand("app: quit", "leave pgferry (a running upgrade goes on)", app.action_quit)


# Textual's own themes stay reachable through --theme; the palette lists pgferry's and the user's.
_TEXTUAL_BUILTIN = frozenset(BUILTIN_THEMES)
