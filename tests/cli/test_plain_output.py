"""`status` on a pipe or in a file writes what a rich console wrote there, byte for byte, without
importing rich (tui/terminal.py `Lines`): checked against rich itself on awkward text."""
from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table

from pgferry.engine.safetext import printable
from pgferry.tui.terminal import UNCUT, Lines, label

NAMES = ["main", "[bold]x[/]", "数据库", "e\u0301t\u00e9", "tab\there", "esc\x1b]52;c;AAAA\x07"]


def rich_writes(draw) -> str:
    """What the former `status` printed: markup through `label`, a console as `rich_console` made it."""
    out = io.StringIO()
    draw(Console(file=out, width=UNCUT, soft_wrap=True))
    return out.getvalue()


@pytest.mark.parametrize("name", NAMES)
def test_lines_and_a_table_are_what_rich_wrote(capsys, name):
    # (rich's markup turned ":smile:" into an emoji, a server's text included: `Lines` shows it as it is)
    message = f"{name} failed:\n\tdetail [red]x[/] :smile:"

    def with_rich(console):
        console.print(f"database version: [bold]{label(name)}[/]", highlight=False)
        table = Table(show_edge=False, pad_edge=False)
        for col in ("schema", "version", "state"):
            table.add_column(col)
        table.add_row(label(name), label("1.2.0"), label("✓ up to date"))
        table.add_row(label("other"), label(name * 2), label("· pending"))
        console.print(table)
        console.print(f"[red]✗[/] {label(name)} 7 line 3: {label(message.replace(':', '!'), one_line=False)}",
                      highlight=False)

    out = Lines()
    assert out.console is None  # not a terminal
    out.line("database version: ", (name, "bold"))
    out.table(("schema", "version", "state"), [(name, "1.2.0", "✓ up to date"), ("other", name * 2, "· pending")])
    out.line(("✗", "red"), f" {printable(name, one_line=True)} 7 line 3: ", message.replace(":", "!"), one_line=False)
    assert capsys.readouterr().out == rich_writes(with_rich)
