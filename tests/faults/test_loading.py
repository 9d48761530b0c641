"""Loading definition files whatever their size and encoding: line numbers found in time linear in
the file, a size limit with one clear error, a UTF-8 byte order mark dropped with a warning."""
from __future__ import annotations

import re

import pytest

from pgferry.engine.definitions import sqlfile
from pgferry.engine.definitions.catalog import load, load_definitions
from pgferry.engine.errors import DefinitionError
from tests.broken import U12, run_validate_json

BOM = "\ufeff"


def big_script(megabytes: float) -> tuple[str, list[int]]:
    """SQL of about `megabytes` MB in statements of one to three lines between comments, and the
    line each statement starts on (counted while writing it, independently of the loader)."""
    parts, starts, line, size, i = [], [], 1, 0, 0
    while size < megabytes * 2**20:
        comment = f"-- row {i}\n" if i % 3 == 0 else ""
        body = (f"INSERT INTO pad (id, note)\n    VALUES ({i}, 'note {i}');\n" if i % 2 else
                f"UPDATE pad SET note = 'n{i}' WHERE id = {i};\n")
        starts.append(line + comment.count("\n"))
        chunk = comment + body + ("\n" if i % 5 == 0 else "")
        parts.append(chunk)
        line += chunk.count("\n")
        size += len(chunk)
        i += 1
    return "".join(parts), starts


def test_line_numbers_of_a_large_file_are_right_and_found_in_linear_time(monkeypatch):
    text, starts = big_script(2)
    scanned = []  # characters read to number lines: line_of scans the text from its start
    real = sqlfile.line_of
    monkeypatch.setattr(sqlfile, "line_of", lambda t, offset: scanned.append(offset) or real(t, offset))
    script = sqlfile.parse_script("migrations/main/99_big/up.sql", text)
    assert [st.line for st in script.statements] == starts
    assert len(script.statements) > 20_000
    # Scanning from the start for every statement reads the text about N/2 times over (quadratic).
    assert sum(scanned) <= 2 * len(text), f"line numbering read {sum(scanned) / len(text):.0f}x the file"


def test_a_large_file_under_the_limit_loads(small_copy):
    head = (small_copy / U12).read_text()
    text, starts = big_script(2)
    (small_copy / U12).write_text(head + text)
    up = load(small_copy).schema("main").migrations[12].up
    assert [st.line for st in up.statements[-3:]] == [head.count("\n") + n for n in starts[-3:]]


def test_a_file_over_the_size_limit_is_one_error_naming_it(small_copy, capsys, monkeypatch):
    monkeypatch.setenv("PGFERRY_MAX_FILE_MB", "0.01")  # 10 KB
    (small_copy / U12).write_text("SELECT 1;\n" * 2000)  # 20 KB
    rc, data = run_validate_json(small_copy, capsys)
    assert rc == 2
    assert [(e["path"], e["rule"]) for e in data["errors"]] == [(f"migrations/{U12}", "file-size")]
    assert re.search(r"file is 20 KB, over the 0\.01 MB limit", data["errors"][0]["message"])
    assert "PGFERRY_MAX_FILE_MB" in data["errors"][0]["hint"]
    with pytest.raises(DefinitionError) as exc:
        load(small_copy)
    assert exc.value.exit_code == 2 and exc.value.message.startswith(f"migrations/{U12}: file is ")


def test_a_byte_order_mark_is_dropped_with_a_warning(small_copy, capsys):
    meta = "main/11_users_bio/metadata.yaml"
    for rel in (U12, meta):
        path = small_copy / rel
        path.write_text(BOM + path.read_text(), encoding="utf-8")
    rc, data = run_validate_json(small_copy, capsys)
    assert rc == 0 and data["errors"] == [], data
    assert sorted((w["path"], w["line"], w["rule"]) for w in data["warnings"]) == [
        (f"migrations/{meta}", 1, "encoding"), (f"migrations/{U12}", 1, "encoding")]
    assert all("byte order mark" in w["message"] for w in data["warnings"])
    defs, _ = load_definitions(small_copy, lint_warnings=False)
    first = defs.schema("main").migrations[12].up.statements[0]
    assert first.text.startswith("ALTER TABLE") and first.line == 1
    assert defs.schema("main").migrations[11].name == "users bio (left of the diamond)"
