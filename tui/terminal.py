"""What reaches the terminal: every command's output goes through `printable` (text from the server
or the definitions is shown with its control characters escaped, never obeyed), and a rich console
writes to the real stream. Apart from tui.render, and rich imported by the first console, so that
every command sets up its output without importing rich (tests/cli/test_lazy_imports.py)."""
from __future__ import annotations

import contextlib
import io
import sys
import unicodedata
from typing import TYPE_CHECKING, Sequence

from pgferry.engine.safetext import printable

if TYPE_CHECKING:
    from rich.console import Console


class Guarded(io.TextIOBase):
    """stdout or stderr with every control character shown escaped: the one place where text from
    the server or the definitions (a RAISE message, a DETAIL quoting application data, a name)
    meets the operator's terminal, so an OSC 52 or a screen clear in it is shown, never obeyed."""

    def __init__(self, stream):
        self.unguarded = stream

    def write(self, text: str) -> int:
        self.unguarded.write(printable(text))
        return len(text)

    def flush(self) -> None:
        self.unguarded.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.unguarded.isatty()

    def fileno(self) -> int:
        return self.unguarded.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.unguarded, "encoding", "utf-8")


@contextlib.contextmanager
def guarded_output():
    """print() to stdout and stderr goes through `Guarded` while the block runs."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Guarded(out), Guarded(err)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def unguarded(stream):
    while isinstance(stream, Guarded):  # `pgferry demo` runs `status` inside its own guard
        stream = stream.unguarded
    return stream


# A pipe or a file has no edge: nothing is cut or wrapped to fit one (`pgferry plan > plan.txt`).
UNCUT = 1 << 20


def rich_console(*, stderr: bool = False) -> Console:
    """A rich console on the real stream: its own styling must reach the terminal, so what it shows
    from the server or the definitions goes through `printable` (or `label`) first."""
    from rich.console import Console

    stream = unguarded(sys.stderr if stderr else sys.stdout)
    if stream.isatty():
        return Console(file=stream)
    return Console(file=stream, width=UNCUT, soft_wrap=True)


def label(text: str, *, one_line: bool = True) -> str:
    """Server or definition text for rich markup: controls shown escaped, markup escaped."""
    from rich.markup import escape

    return escape(printable(text, one_line=one_line))


def run_started_line(schema: str, steps: int, database: str) -> str:
    """What a run of one schema says first (engine.events.RunStarted), also when none is started."""
    return f"{schema}: {steps} step(s) to run on {database}" if steps else f"{schema}: up to date"


def run_finished_line(schema: str, applied: int, reverted: int, seconds: float) -> str:
    """... and last (engine.events.RunFinished)."""
    return f"{schema}: done, {applied} applied, {reverted} reverted in {seconds:.1f}s"


Piece = str | tuple[str, str]  # text, or (text, rich style)


class Lines:
    """Lines of text pieces and simple tables on stdout, text from the server or the definitions
    shown through `printable`. On a terminal a rich console draws them, styles shown; elsewhere
    (a probe's or a script's pipe, a file) they are written as that console writes them there,
    byte for byte, without importing rich: no colour, nothing cut, tables without edges."""

    def __init__(self):
        self.stream = unguarded(sys.stdout)
        self.console = rich_console() if self.stream.isatty() else None

    def line(self, *pieces: Piece, one_line: bool = True) -> None:
        texts = [(p, "") if isinstance(p, str) else p for p in pieces]
        texts = [(printable(t, one_line=one_line), style) for t, style in texts]
        if self.console is None:
            self.stream.write("".join(t for t, _ in texts).expandtabs(8) + "\n")
        else:
            from rich.text import Text

            self.console.print(Text.assemble(*texts))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        rows = [[printable(cell, one_line=True) for cell in row] for row in rows]
        if self.console is None:
            self.stream.write(plain_table(headers, rows))
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(show_edge=False, pad_edge=False)
        for h in headers:
            table.add_column(h)
        for row in rows:
            table.add_row(*map(Text, row))
        self.console.print(table)


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """rich's Table(show_edge=False, pad_edge=False) as it prints without colour and cut nowhere:
    cells padded by one space (none at the outer edges), a heavy rule under the headers."""
    widths = [max(map(cell_width, column)) for column in zip(headers, *rows)]
    last = len(widths) - 1

    def cells(values, sep: str) -> str:
        return sep.join((" " if i else "") + v + " " * (w - cell_width(v)) + (" " if i < last else "")
                        for i, (v, w) in enumerate(zip(values, widths)))

    rule = "╇".join("━" * (w + (i > 0) + (i < last)) for i, w in enumerate(widths))
    return "\n".join([cells(headers, "┃"), rule, *(cells(r, "│") for r in rows)]) + "\n"


def cell_width(text: str) -> int:
    """Terminal cells `text` takes: two for a wide character, none for a combining one."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
