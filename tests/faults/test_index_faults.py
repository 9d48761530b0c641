"""A hostile or broken shipped index (engine/definitions/defindex.py) never crashes a load, never
changes what is loaded: it is ignored as a whole, with one warning saying why (or silently, when it
is only another pgferry's), and every file is parsed as if there were none."""
from __future__ import annotations

import json
import os

import pytest

from pgferry.engine.definitions.catalog import load, load_definitions
from pgferry.engine.definitions.defindex import INDEX_FILE, Analyses
from pgferry.engine.definitions.indexwriter import write_index
from tests.engine.test_defindex import flat, indexed_statements


@pytest.fixture
def indexed(small_copy):
    """The small product with its index written, and what parsing every file gives."""
    write_index(small_copy)
    defs, findings = load_definitions(small_copy, analyses=Analyses(small_copy))
    return small_copy, flat(defs), findings


def index_warnings(findings) -> list[str]:
    return [f.message for f in findings if f.rule == "index"]


def assert_ignored_with(root, parsed, parsed_findings, why: str) -> None:
    defs, findings = load_definitions(root)
    assert defs is not None and flat(defs) == parsed
    warnings = index_warnings(findings)
    assert len(warnings) == 1 and why in warnings[0], warnings
    assert [f for f in findings if f.rule != "index"] == parsed_findings
    assert next(f for f in findings if f.rule == "index").path == f"migrations/{INDEX_FILE}"


def rewrite_entries(root, change) -> None:
    path = root / INDEX_FILE
    head, *lines, tail = path.read_text().split("\n")[:-1]
    entries = dict(json.loads("{" + line.rstrip(",") + "}").popitem() for line in lines)
    change(entries)
    body = ",\n".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in entries.items())
    path.write_text(f"{head}\n{body}\n{tail}\n")


def test_an_entry_whose_statements_lie_beyond_its_file_drops_the_index_once(indexed):
    root, parsed, parsed_findings = indexed

    def beyond(entries):
        for key in [k for k in entries if k.endswith("up.sql")][:3]:  # several bad entries: still one warning
            entries[key][1] = [[0, 10**9]]

    rewrite_entries(root, beyond)
    assert_ignored_with(root, parsed, parsed_findings, "a statement lies outside the file")


@pytest.mark.parametrize("bad, why", [
    (lambda spans: spans[::-1], "a statement lies outside the file"),  # out of order
    (lambda spans: [[-1, 3]] + spans[1:], "a statement lies outside the file"),
    (lambda spans: [[0, "3"]] + spans[1:], "a statement lies outside the file"),
    (lambda spans: [["x"]] + spans[1:], "malformed span"),
    (lambda spans: spans[1:], "malformed statements"),  # fewer spans than facts
    (lambda spans: "spans", "malformed statements"),
])
def test_malformed_statements_drop_the_index(indexed, bad, why):
    root, parsed, parsed_findings = indexed

    def spoil(entries):
        key = max((k for k in entries if k.endswith("up.sql")), key=lambda k: len(entries[k][1]))
        assert len(entries[key][1]) >= 2
        entries[key][1] = bad(entries[key][1])

    rewrite_entries(root, spoil)
    assert_ignored_with(root, parsed, parsed_findings, why)


def test_malformed_facts_notes_and_yaml_entries_drop_the_index(indexed):
    root, parsed, parsed_findings = indexed
    for spoil, why in [(lambda e: e[2].__setitem__(0, ["CreateStmt", 1, "no", None, False, False]), "malformed facts"),
                       (lambda e: e[3].__setitem__(0, [None, [[1, 2]], None, None]), "malformed lint hit")]:
        write_index(root)
        rewrite_entries(root, lambda entries: spoil(entries[next(k for k in entries if k.endswith("up.sql"))]))
        assert_ignored_with(root, parsed, parsed_findings, why)
    write_index(root)
    rewrite_entries(root, lambda entries: entries[next(k for k in entries if k.endswith("metadata.yaml"))].__setitem__(2, [[["name"], 0]]))
    assert_ignored_with(root, parsed, parsed_findings, "malformed line map")


@pytest.mark.parametrize("content, why", [
    (None, "truncated"),  # the written index cut in half
    (b"\x00\xff garbage \x9c", "not an index pgferry wrote"),
    (b"[" * 100_000 + b"]" * 100_000, "not an index pgferry wrote"),  # nested past the decoder's recursion limit
    (b'{"format":1,"pgferry":"%s","files":[\n]}\n', "not an index pgferry wrote"),
    (b'{"format":1,"pgferry":"%s","files":{\n"a/up.sql":[]\n}}', "truncated"),  # no newline at the end
    (b'{"format":1,"pgferry":"%s","files":{\n["a/up.sql"]\n}}\n', "line 2 is not an entry"),
    (b'{"format":1,"pgferry":"%s","files":{\n' + b"[" * 100_000 + b'\n}}\n', "line 2 is not an entry"),
])
def test_a_truncated_or_garbage_index_is_ignored_with_one_warning(indexed, content, why):
    root, parsed, parsed_findings = indexed
    path = root / INDEX_FILE
    if content is None:
        content = path.read_bytes()[: path.stat().st_size // 2]
    elif b"%s" in content:
        from pgferry import __version__

        content = content.replace(b"%s", __version__.encode())
    path.write_bytes(content)
    assert_ignored_with(root, parsed, parsed_findings, why)


def test_an_index_over_the_size_limit_is_not_read(indexed, monkeypatch):
    root, parsed, parsed_findings = indexed
    monkeypatch.setenv("PGFERRY_MAX_FILE_MB", "0.001")  # 1 KB: the small product's files are smaller
    assert (root / INDEX_FILE).stat().st_size > 1024
    assert_ignored_with(root, parsed, parsed_findings, "over the 0.001 MB limit")


def test_a_symlinked_index_is_not_followed(indexed, tmp_path):
    root, parsed, parsed_findings = indexed
    elsewhere = tmp_path / "elsewhere.json"
    os.replace(root / INDEX_FILE, elsewhere)  # a valid index, that would be used if followed
    (root / INDEX_FILE).symlink_to(elsewhere)
    assert_ignored_with(root, parsed, parsed_findings, "a symlink (not followed)")
    (root / INDEX_FILE).unlink()
    (root / INDEX_FILE).symlink_to("/dev/zero")
    assert_ignored_with(root, parsed, parsed_findings, "a symlink (not followed)")


def test_an_index_that_is_no_regular_file_is_not_read(indexed):
    root, parsed, parsed_findings = indexed
    (root / INDEX_FILE).unlink()
    os.mkfifo(root / INDEX_FILE)  # opening it for reading would wait for a writer forever
    assert_ignored_with(root, parsed, parsed_findings, "not a regular file")


def test_an_entry_that_is_not_json_drops_the_index(indexed):
    root, parsed, parsed_findings = indexed
    path = root / INDEX_FILE
    lines = path.read_text().split("\n")
    n = next(i for i, line in enumerate(lines) if "up.sql" in line)
    lines[n] = lines[n][:lines[n].index(",") + 1] + "[[[" * 50_000  # its hash still matches
    path.write_text("\n".join(lines))
    assert_ignored_with(root, parsed, parsed_findings, "entry ")


def test_a_broken_index_never_stops_a_command_that_acts(indexed):
    root, parsed, _ = indexed
    rewrite_entries(root, lambda entries: entries[next(k for k in entries if k.endswith("down.sql"))].__setitem__(1, [[3, 10**6]]))
    assert flat(load(root)) == parsed  # a warning, never an error


def test_writing_the_index_replaces_a_symlink_not_its_target(small_copy, tmp_path):
    target = tmp_path / "not-the-index.txt"
    target.write_text("keep me\n")
    (small_copy / INDEX_FILE).symlink_to(target)
    write_index(small_copy)
    assert target.read_text() == "keep me\n"
    assert not (small_copy / INDEX_FILE).is_symlink()
    assert indexed_statements(load_definitions(small_copy)[0]) > 0
