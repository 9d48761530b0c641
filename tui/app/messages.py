"""Typed messages from workers to screens.

What a worker read from the server or the definitions is neutralised here, on its way to a
screen (tui/app/safe.py), so no widget draws an escape sequence from it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from pgferry.engine.safetext import printable

from .data import Overview, PreflightSummary
from .safe import neutralised

if TYPE_CHECKING:  # the recovery screen loads its engine modules when it opens
    from pgferry.engine.repair.actions import ActionResult

    from .recovery_model import Walkthrough


class OverviewLoaded(Message):
    def __init__(self, overview: Overview) -> None:
        super().__init__()
        self.overview = neutralised(overview)


class PreflightLoaded(Message):
    def __init__(self, summary: PreflightSummary | None) -> None:
        super().__init__()
        self.summary = neutralised(summary)


# the recovery walkthrough's workers (tui/app/recovery.py)

class Diagnosed(Message):
    def __init__(self, walkthrough: Walkthrough) -> None:
        super().__init__()
        self.walkthrough = walkthrough


class ActionEvent(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = printable(text)  # an event line may quote the server


class ActionDone(Message):
    def __init__(self, confirmed: str, result: ActionResult) -> None:
        super().__init__()
        self.confirmed, self.result = confirmed, result


class RecoveryFailed(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
