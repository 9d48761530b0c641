"""What the app's widgets are given to draw: control characters escaped, styles and structure kept."""
from __future__ import annotations

from rich.console import Group
from rich.padding import Padding
from rich.text import Text

from pgferry.engine.sessions import Session
from pgferry.engine.upgrade.live import LiveRun, LockWaitNow, Statement
from pgferry.tui.app.safe import escaped, neutralised

OSC52 = "\x1b]52;c;aGk=\x07"


def test_neutralised_reaches_every_string_of_a_snapshot():
    live = LiveRun(None, statements=(Statement("db", 1, "migrator", f"SELECT '{OSC52}'", 1.0, None),),
                   waits=(LockWaitNow("db", 2, "ALTER TABLE t", (Session(3, f"app{OSC52}", query="x\ry"),)),))
    out = neutralised(live)
    assert out.statements[0].query == "SELECT '\\x1b]52;c;aGk=\\x07'"
    assert out.waits[0].blockers[0].application == "app\\x1b]52;c;aGk=\\x07"
    assert out.waits[0].blockers[0].query == "x\\x0dy"
    assert neutralised({"steps": [{"name": "a\x1b"}]}) == {"steps": [{"name": "a\\x1b"}]}
    clean = LiveRun(None)
    assert neutralised(clean) == clean


def test_escaped_keeps_the_styles_where_they_were():
    t = Text("name: ", style="dim")
    t.append(f"a\x1bb", style="bold")
    t.append(" end")
    out = escaped(Group(Padding(t, (0, 0, 0, 2)), f"x{OSC52}"))
    inner = out.renderables[0].renderable
    assert inner.plain == "name: a\\x1bb end"
    assert [(inner.plain[s.start:s.end], str(s.style)) for s in inner.spans] == [("a\\x1bb", "bold")]
    assert inner.style == "dim" and out.renderables[0].left == 2
    assert out.renderables[1] == "x\\x1b]52;c;aGk=\\x07"
