"""engine.definitions.defcache: a second command on an unchanged folder skips loading; any change reloads."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from pgferry.engine.definitions import catalog, defcache
from pgferry.engine.errors import DefinitionError
from tests.support import ROOT


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.setenv("PGFERRY_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    settle(root)
    return root


def settle(root: Path, age: float = 60) -> None:
    """Date every file a minute back: the cache keeps no folder touched in the last seconds."""
    past = time.time() - age
    for p in root.rglob("*"):
        os.utime(p, (past, past))


def loads_from_disk(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = catalog.load_definitions
    monkeypatch.setattr(catalog, "load_definitions", lambda *a, **k: calls.append(str(a[0])) or real(*a, **k))
    return calls


def test_second_load_comes_from_the_cache_and_is_the_same(tree, monkeypatch):
    calls = loads_from_disk(monkeypatch)
    first = catalog.load(tree)
    second = catalog.load(tree)
    assert calls == [str(tree)]  # loaded once, then read back
    assert list(second.schemas) == list(first.schemas)
    for name, graph in first.schemas.items():
        other = second.schemas[name]
        assert list(other.migrations) == list(graph.migrations)
        for mid, m in graph.migrations.items():
            o = other.migrations[mid]
            assert (o.name, o.parents, o.privileged, o.create_index_concurrently, o.up.checksum, o.down.checksum) == \
                   (m.name, m.parents, m.privileged, m.create_index_concurrently, m.up.checksum, m.down.checksum)
            assert o.up.statements == m.up.statements
            assert [s.facts for s in o.up.statements] == [s.facts for s in m.up.statements]
    # trees are rebuilt from the text on demand, the same as a fresh parse
    cic = next(m for g in second.schemas.values() for m in g.migrations.values() if m.create_index_concurrently)
    fresh = next(m for g in first.schemas.values() for m in g.migrations.values() if m.id == cic.id)
    assert cic.up.statements[0].node == fresh.up.statements[0].node
    assert [r.version for r in second.releases.releases] == [r.version for r in first.releases.releases]


def test_any_change_to_a_file_reloads(tree, monkeypatch):
    calls = loads_from_disk(monkeypatch)
    catalog.load(tree)
    up = next(tree.glob("frontend/*/up.sql"))
    up.write_text(up.read_text() + "\n-- reviewed\n")
    settle(tree)
    defs = catalog.load(tree)
    assert len(calls) == 2
    mid = int(up.parent.name.split("_")[0])
    assert defs.schemas["frontend"].migrations[mid].up.text.endswith("-- reviewed\n")
    # same size, different content and stamp: still a miss
    up.write_text(up.read_text().replace("-- reviewed", "-- REVIEWED"))
    settle(tree, age=30)
    assert catalog.load(tree).schemas["frontend"].migrations[mid].up.text.endswith("-- REVIEWED\n")
    assert len(calls) == 3
    # a new file (a migration folder being written) misses too, and a broken one is reported
    (tree / "frontend" / "9999999999_new").mkdir()
    settle(tree)
    with pytest.raises(Exception, match="metadata.yaml"):
        catalog.load(tree)


def test_a_folder_edited_just_now_is_not_kept(tree, monkeypatch):
    calls = loads_from_disk(monkeypatch)
    next(tree.glob("frontend/*/down.sql")).touch()  # modified now: its stamp may not change on a quick re-edit
    catalog.load(tree)
    catalog.load(tree)
    assert len(calls) == 2
    assert not list((tree.parent / "cache").glob("*.pickle"))


def test_a_cache_file_others_could_write_is_never_read(tree, monkeypatch):
    calls = loads_from_disk(monkeypatch)
    catalog.load(tree)
    (cached,) = (tree.parent / "cache").glob("*.pickle")
    assert cached.stat().st_mode & 0o777 == 0o600
    os.chmod(cached, 0o664)
    catalog.load(tree)
    assert len(calls) == 2


def test_off_turns_it_off(tree, monkeypatch):
    monkeypatch.setenv("PGFERRY_CACHE_DIR", "off")
    calls = loads_from_disk(monkeypatch)
    catalog.load(tree)
    catalog.load(tree)
    assert len(calls) == 2
    assert defcache.cache_dir() is None


def test_a_lower_size_limit_is_not_answered_from_the_cache(tree, monkeypatch):
    calls = loads_from_disk(monkeypatch)
    catalog.load(tree)
    catalog.load(tree)
    assert len(calls) == 1
    monkeypatch.setenv("PGFERRY_MAX_FILE_MB", "0.001")  # the squashed migrations are larger
    with pytest.raises(DefinitionError) as exc:
        catalog.load(tree)
    assert any(f.rule == "file-size" for f in exc.value.findings)


def test_the_key_changes_with_any_module_of_the_engine(monkeypatch):
    """The cache holds pickled engine objects, so a changed module anywhere in the engine (its
    subpackages too, not only the one defcache lives in) must miss."""
    import pgferry.engine

    monkeypatch.setattr(defcache, "_CODE", None)
    stamp = defcache._code_stamp().decode()
    engine = Path(pgferry.engine.__file__).resolve().parent
    modules = sorted(str(p.relative_to(engine)) for p in engine.rglob("*.py"))
    assert [m for m in modules if f"{m}:" not in stamp] == []
