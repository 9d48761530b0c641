"""Typed messages from workers to screens.

What a worker read from the server or the definitions is neutralised here, on its way to a
screen (tui/app/safe.py), so no widget draws an escape sequence from it.
"""
from __future__ import annotations

from textual.message import Message

from .data import Overview, PreflightSummary
from .safe import neutralised


class OverviewLoaded(Message):
    def __init__(self, overview: Overview) -> None:
        super().__init__()
        self.overview = neutralised(overview)


class PreflightLoaded(Message):
    def __init__(self, summary: PreflightSummary | None) -> None:
        super().__init__()
        self.summary = neutralised(summary)
