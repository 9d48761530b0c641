"""Rendering engine events: plain lines for logs and CI (here), or the live display on a terminal
(tui/live.py, which imports rich)."""
from __future__ import annotations

import sys
import threading
import time

from pgferry.engine import events as ev
from pgferry.tui.interrupt import ACTIVITY
from pgferry.tui.pulse import Pulse
from pgferry.tui.lines import describe, oob_line


class PlainRenderer:
    """Line by line, for pipes, CI logs and `--no-progress`."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._last_progress = 0.0
        self.pulse = Pulse(self._print)  # index builds and lock waits: a line at a steady interval

    def __call__(self, e) -> None:
        ACTIVITY(e)
        if self.pulse.take(e):
            return
        if isinstance(e, ev.OobProgress):
            # Progress arrives several times a second; a log wants a line every few seconds.
            now = time.monotonic()
            if now - self._last_progress < 2:
                return
            self._last_progress = now
            line = oob_line(e)
        else:
            line = describe(e)
        if line is not None:
            self._print(line)

    def _print(self, line: str) -> None:
        with self._lock:
            print(line, file=self.stream, flush=True)

    def __enter__(self):
        self.pulse.start()
        return self

    def __exit__(self, *exc):
        self.pulse.stop()


def renderer(plain: bool):
    if plain or not sys.stderr.isatty():
        return PlainRenderer()
    from pgferry.tui.live import RichRenderer

    return RichRenderer()
