"""Typed messages from workers to screens."""
from __future__ import annotations

from textual.message import Message

from .data import Overview, PreflightSummary


class OverviewLoaded(Message):
    def __init__(self, overview: Overview) -> None:
        super().__init__()
        self.overview = overview


class PreflightLoaded(Message):
    def __init__(self, summary: PreflightSummary | None) -> None:
        super().__init__()
        self.summary = summary
