"""Typed messages from workers to screens."""
from __future__ import annotations

from textual.message import Message

from .data import Overview


class OverviewLoaded(Message):
    def __init__(self, overview: Overview) -> None:
        super().__init__()
        self.overview = overview
