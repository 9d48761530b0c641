"""The pre-analysed index a product ships (engine/definitions/defindex.py): loading with it gives
the same definitions and the same findings as parsing every file; a file edited since is parsed;
the bundled product's index is current."""
from __future__ import annotations

import hashlib
import json

import pytest

from pgferry.engine.definitions.catalog import bundled_migrations_dir, load_definitions
from pgferry.engine.definitions.defindex import INDEX_FILE, Analyses
from pgferry.engine.definitions.indexwriter import index_text, write_index
from tests.broken import run_validate_json


def flat(defs) -> list:
    """Everything loading derives from the files, as plain values."""
    out = []
    for graph in defs.schemas.values():
        for m in graph.migrations.values():
            out.append((m.label, m.name, m.parents, m.privileged, m.non_idempotent, m.create_index_concurrently,
                        m.replaces, dict(m.waivers), dict(m.metadata_lines)))
            out += [script_values(s) for s in (m.up, m.down)]
    for o in defs.out_of_band.values():
        out.append((o.id, o.description, o.schema, o.introduced, o.deprecated, o.batch_size))
        out += [script_values(s) for s in (o.progress, o.up, o.down) if s is not None]
    out.append([(r.version, dict(r.leaves), r.line) for r in defs.releases.releases])
    return out


def script_values(script) -> tuple:
    return (script.path, script.text, script.checksum, script.token_checksum,
            [(st.text, st.line, st.offset, st.facts, st.index) for st in script.statements])


def indexed_statements(defs) -> int:
    return sum(st.notes is not None for g in defs.schemas.values() for m in g.migrations.values()
               for st in m.up.statements + m.down.statements)


def test_the_bundled_product_ships_a_current_index():
    """Stale when a definition file changed, or pgferry's analysis of it did, since it was written:
    rewrite it with `python -m pgferry validate --write-index`."""
    root = bundled_migrations_dir()
    text, findings = index_text(root)
    assert text is not None, [str(f) for f in findings if f.severity == "error"]
    shipped = root / INDEX_FILE
    assert shipped.is_file(), "migrations/ ships no index: run `python -m pgferry validate --write-index`"
    assert shipped.read_text(encoding="utf-8") == text, "migrations/pgferry-index.json is stale: run `python -m pgferry validate --write-index`"


def test_loading_with_the_index_gives_what_parsing_every_file_gives():
    root = bundled_migrations_dir()
    indexed, indexed_findings = load_definitions(root)
    parsed, parsed_findings = load_definitions(root, analyses=Analyses(root))
    assert indexed_statements(indexed) > 300 and indexed_statements(parsed) == 0  # the index was used, then not
    assert flat(indexed) == flat(parsed)
    assert indexed_findings == parsed_findings
    assert any(f.severity == "warning" for f in indexed_findings)  # the lint ran on the index's notes


def test_a_file_edited_after_the_index_was_written_is_parsed_again(small_copy, capsys):
    written, _ = write_index(small_copy)
    assert written == small_copy / INDEX_FILE
    up = next(small_copy.glob("main/*/up.sql"))
    up.write_text(up.read_text() + "\nSET search_path = public;\n")
    rc, data = run_validate_json(small_copy, capsys)
    assert rc == 0
    assert [w["rule"] for w in data["warnings"] if w["path"].endswith(str(up.relative_to(small_copy)))] == ["session-setting"]
    defs, _ = load_definitions(small_copy)
    script = next(m.up for g in defs.schemas.values() for m in g.migrations.values() if m.up.text == up.read_text())
    assert script.statements[-1].text == "SET search_path = public"
    assert script.statements[-1].notes is None  # parsed, not taken from the index
    assert script.checksum == hashlib.sha256(up.read_bytes()).hexdigest()


@pytest.mark.parametrize("field", ["format", "pgferry"])
def test_an_index_of_another_pgferry_is_ignored_without_a_word(small_copy, field):
    write_index(small_copy)
    path = small_copy / INDEX_FILE
    head, rest = path.read_text().split("\n", 1)
    doc = json.loads(head + "}}")
    doc[field] = 0 if field == "format" else "0.0.0-other"
    path.write_text(json.dumps(doc)[:-2] + "\n" + rest)
    defs, findings = load_definitions(small_copy)
    assert indexed_statements(defs) == 0
    assert not [f for f in findings if f.rule == "index"]


def test_validate_write_index_writes_only_what_validates(small_copy, capsys):
    rc, data = run_validate_json(small_copy, capsys, "--write-index")
    assert rc == 0 and data["index"] == str(small_copy / INDEX_FILE)
    defs, findings = load_definitions(small_copy)
    assert indexed_statements(defs) > 0 and not [f for f in findings if f.rule == "index"]
    (small_copy / INDEX_FILE).unlink()
    up = next(small_copy.glob("main/*/up.sql"))
    up.write_text("CREATE TABLE (;\n")
    rc, data = run_validate_json(small_copy, capsys, "--write-index")
    assert rc == 2 and data["index"] is None and [e["rule"] for e in data["errors"]] == ["sql-syntax"]
    assert not (small_copy / INDEX_FILE).exists()


@pytest.mark.parametrize("spelling", [".", "./", "{abs}", "../migrations"])
def test_the_index_is_found_however_the_folder_is_named(small_copy, monkeypatch, spelling):
    from pathlib import Path

    write_index(small_copy)
    monkeypatch.chdir(small_copy)
    defs, findings = load_definitions(Path(spelling.format(abs=small_copy)))
    assert defs is not None and indexed_statements(defs) == sum(
        len(m.up.statements) + len(m.down.statements) for g in defs.schemas.values() for m in g.migrations.values())
    assert not [f for f in findings if f.rule == "index"]


def test_loading_leaves_the_cycle_collector_as_it_found_it(small_copy, monkeypatch):
    import gc

    from pgferry.engine.definitions import catalog

    seen = []
    real = catalog._load_definitions
    monkeypatch.setattr(catalog, "_load_definitions", lambda *a: seen.append(gc.isenabled()) or real(*a))
    assert gc.isenabled()
    load_definitions(small_copy)
    assert gc.isenabled() and seen == [False]  # off while loading, on again after
    gc.disable()
    try:
        load_definitions(small_copy)
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
    monkeypatch.setattr(catalog, "_load_definitions", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        load_definitions(small_copy)
    assert gc.isenabled()


def test_an_index_that_cannot_be_written_is_one_clear_error(small_copy, capsys):
    from pgferry.tui.cli import main

    (small_copy / INDEX_FILE).mkdir()  # os.replace cannot put a file over a folder
    capsys.readouterr()
    assert main(["validate", "--write-index", "--migrations", str(small_copy)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {small_copy / INDEX_FILE}" in err and "Traceback" not in err
    assert not list(small_copy.glob(f".{INDEX_FILE}.*"))  # no temporary file left behind


def test_a_command_that_acts_parses_nothing_when_the_index_matches():
    """The bundled product with its index, the definitions cache missed: neither parser is imported
    (a CIC migration's index name comes from the index too)."""
    import subprocess
    import sys

    from tests.support import ROOT

    child = ("import sys; from pgferry.engine.definitions.catalog import load, bundled_migrations_dir; "
             "defs = load(bundled_migrations_dir()); "
             "assert any(m.create_index_concurrently for g in defs.schemas.values() for m in g.migrations.values()); "
             "print(sorted(m for m in ('pglast', 'yaml') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, cwd=ROOT, timeout=60,
                         env={**__import__("os").environ, "PGFERRY_CACHE_DIR": "off"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[-2] == "[]"
