"""What the app's widgets may draw: server and definition text with control characters escaped.

Rich's Text strips a few control codes, but ESC passes: a `RAISE EXCEPTION` message, a DETAIL
quoting application data, another session's `application_name` or query, a migration's name or
its SQL could write the operator's clipboard (OSC 52) or title, or clear the screen. Screens
neutralise what they are given where it arrives (a worker's message, a snapshot), so everything
drawn from it afterwards is safe without each line having to remember.
"""
from __future__ import annotations

import dataclasses
from itertools import accumulate
from typing import TypeVar

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Span, Text

from pgferry.engine.safetext import is_printable, printable

T = TypeVar("T")


def neutralised(value: T) -> T:
    """`value` with every string in it, however deep (dataclasses, tuples, lists, sets, dicts),
    passed through `printable`. Nothing else changes; values without control characters come back
    equal. For view data only: the definitions that run (Plan, Migration) are never copied."""
    if isinstance(value, str):
        return printable(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: neutralised(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    if isinstance(value, dict):
        return type(value)((neutralised(k), neutralised(v)) for k, v in value.items())
    if isinstance(value, (tuple, list, set, frozenset)):
        return type(value)(neutralised(v) for v in value)
    return value


def escaped(renderable: RenderableType) -> RenderableType:
    """A drawn Text (or a Group or Padding of them, or a str) with control characters shown escaped, styles
    kept: for text built from definitions (names, notes) by the screens' render functions. SQL
    shown through Syntax is neutralised before it is highlighted (`printable(code)`)."""
    if isinstance(renderable, str):
        return printable(renderable)
    if isinstance(renderable, Group):
        return Group(*(escaped(r) for r in renderable.renderables), fit=renderable.fit)
    if isinstance(renderable, Padding):
        pad = (renderable.top, renderable.right, renderable.bottom, renderable.left)
        return Padding(escaped(renderable.renderable), pad, style=renderable.style, expand=renderable.expand)
    if not isinstance(renderable, Text) or is_printable(renderable.plain):
        return renderable
    pieces = [printable(ch) for ch in renderable.plain]
    at = list(accumulate((len(p) for p in pieces), initial=0))  # old offset -> new offset
    out = renderable.copy()
    out.plain = "".join(pieces)
    out.spans = [Span(at[s.start], at[min(s.end, len(pieces))], s.style) for s in renderable.spans]
    return out
