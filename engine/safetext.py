"""Neutralising text that comes from the server or from definitions before a terminal sees it.

A `RAISE EXCEPTION` message, a DETAIL quoting application data, a migration's name or SQL can hold
escape sequences: OSC 52 writes the operator's clipboard, OSC 0 the window title, CSI clears the
screen, a bare carriage return overwrites a line, a bidi override reorders what is read. Every such
text passes through `printable` on its way to a terminal, a file or a report, and shows the
control characters escaped (`\\x1b`, `\\u202e`) instead of acting on them.
"""
from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls; bidi embeddings, overrides and isolates;
# line and paragraph separators (a terminal may treat them as line breaks).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, *, one_line: bool = False) -> str:
    """`text` with every control character shown escaped. Tabs and newlines are kept unless
    `one_line` (then they are escaped too, for a table cell or a status line)."""
    s = text if isinstance(text, str) else str(text)
    return (_UNSAFE_ONE_LINE if one_line else _UNSAFE).sub(_escape, s)


def is_printable(text: str) -> bool:
    return _UNSAFE.search(text) is None
