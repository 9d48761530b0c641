"""engine/safetext.py: control characters from the server or definitions never reach a terminal raw."""
from pgferry.engine.safetext import is_printable, printable


def test_escape_sequences_are_shown_not_acted_on():
    hostile = "x\x1b]52;c;aGVsbG8=\x07\x1b]0;owned\x07\x1b[2J\rdone\u202egnp.exe\x9b31m"
    out = printable(hostile)
    assert is_printable(out)
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out and "\x9b" not in out
    assert out.startswith("x\\x1b]52;c;aGVsbG8=\\x07") and "\\u202e" in out and "\\x0d" in out


def test_tabs_and_newlines_kept_unless_one_line():
    assert printable("a\tb\nc") == "a\tb\nc"
    assert printable("a\tb\nc", one_line=True) == "a\\x09b\\x0ac"
    assert printable("ordinary text, ünïcode ok") == "ordinary text, ünïcode ok"
    assert printable(42) == "42"
