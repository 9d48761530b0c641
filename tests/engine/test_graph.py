"""Graph queries are pure functions over definitions: no database needed."""
from __future__ import annotations

import pytest

from pgferry.engine.definitions.graph import UnknownMigration

ALL = {1, 2, 3, 10, 11, 12, 13, 14, 15, 16}


def ids(steps):
    return [s.id for s in steps]


@pytest.fixture
def main(small_defs):
    return small_defs.schemas["main"]


def test_structure(main):
    assert main.leaves() == {16}
    assert main.roots() == {1, 10}
    assert main.order(ALL) == [1, 2, 3, 10, 11, 12, 13, 14, 15, 16]
    assert main.ancestors([13]) == {1, 2, 3, 10, 11, 12, 13}
    assert main.descendants([12]) == {13, 14, 15, 16}


def test_fresh_install_uses_the_squash(main):
    steps = main.up([], [16])
    assert ids(steps) == [10, 11, 12, 13, 14, 15, 16]
    assert steps[0].backfill == (1, 2, 3)
    assert all(s.up for s in steps)


def test_squash_used_for_an_old_release_that_needs_all_it_replaces(main):
    steps = main.up([], [3])
    assert ids(steps) == [10] and steps[0].backfill == (1, 2, 3)


def test_target_inside_the_squash_uses_originals(main):
    assert ids(main.up([], [2])) == [1, 2]


def test_half_migrated_database_uses_originals(main):
    steps = main.up([1], [16])
    assert ids(steps) == [2, 3, 11, 12, 13, 14, 15, 16]
    assert all(s.backfill == () for s in steps)


def test_diamond_order_ties_broken_by_id(main):
    done = {1, 2, 3, 10}
    assert ids(main.up(done, [13])) == [11, 12, 13]
    assert ids(main.up(done, [12])) == [12]
    assert ids(main.up(done | {12}, [13])) == [11, 13]


def test_down_reverts_applied_descendants_newest_first(main):
    assert ids(main.down(ALL, [12])) == [16, 15, 14, 13]
    steps = main.down(ALL, [10])
    assert ids(steps) == [16, 15, 14, 13, 12, 11]
    assert not any(s.up for s in steps)
    # only what is applied is reverted
    assert ids(main.down({1, 2, 3, 10, 11}, [10])) == [11]


def test_down_into_a_squash_reverts_originals_and_unrecords_the_squash(main):
    steps = main.to_set(ALL, [2])
    assert ids(steps) == [16, 15, 14, 13, 12, 11, 3]
    assert steps[-1].backfill == (10,)


def test_to_set_moves_between_branches(main):
    # from "left branch applied" to "right branch only"
    steps = main.to_set({1, 2, 3, 10, 11}, [12])
    assert [(s.id, s.up) for s in steps] == [(11, False), (12, True)]


def test_normalize_squash_equivalence(main):
    assert main.normalize({10}) >= {1, 2, 3, 10}
    assert 10 in main.normalize({1, 2, 3})
    assert 10 not in main.normalize({1, 2})


def test_unknown_target(main):
    with pytest.raises(UnknownMigration):
        main.up([], [999])


def test_database_version_is_derived(small_defs):
    v = small_defs.version_of({"main": {10, 1, 2, 3}, "aux": {1}})
    assert v.label == "1.0.0"
    v = small_defs.version_of({"main": {1, 2, 3, 11}, "aux": {1}})
    assert v.release.version == "1.0.0" and v.label == "1.0.0 + 1 migration of 1.1.0"
    v = small_defs.version_of({"main": ALL, "aux": {1, 2, 3}})
    assert v.label == "1.2.0"
    assert small_defs.version_of({}).label == "none"


def test_releases(small_defs):
    cat = small_defs.releases
    assert [r.version for r in cat.releases] == ["1.0.0", "1.1.0", "1.2.0"]
    assert cat.latest().version == "1.2.0"
    assert cat.find("v1.1.0").version == "1.1.0"
    assert cat.find("9.9.9") is None
    assert small_defs.required(cat.releases[0], "main") == {1, 2, 3}
    r = cat.releases[2]
    assert r.supports_server("16.4") and not r.supports_server("12.1")


def test_engine_never_imports_textual():
    """The engine is a library: importing all of it must not pull in Textual."""
    import subprocess
    import sys

    code = (
        "import sys, importlib, pkgutil, pgferry.engine as engine\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'textual' or name.startswith('textual.'): raise ImportError('textual blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'pgferry.engine.'): importlib.import_module(m.name)\n"
        "assert not any(k == 'textual' or k.startswith('textual.') for k in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version_label_names_the_releases_beyond():
    """A run stopped between releases: frontend at 3.27.0, the rest at 3.23.0. The label names the
    release every schema has reached and the releases the migrations beyond it come from."""
    from pgferry.engine.definitions.catalog import bundled_migrations_dir, load

    defs = load(bundled_migrations_dir())
    r23, r27 = defs.release("3.23.0"), defs.release("3.27.0")
    applied = {s: set(defs.required(r23, s)) for s in defs.schemas}
    applied["frontend"] |= defs.required(r27, "frontend")
    beyond = defs.required(r27, "frontend") - defs.required(r23, "frontend") - set(defs.schemas["frontend"].squashes)
    v = defs.version_of(applied)
    assert v.release == r23 and v.label == f"3.23.0 + {len(beyond)} migrations of 3.24.0–3.27.0"
    applied["frontend"] = set(defs.required(r23, "frontend")) | {max(beyond)}  # a single one: a single release
    assert defs.version_of(applied).label == "3.23.0 + 1 migration of 3.27.0"


def test_version_label_counts_unreleased_migrations(small_copy):
    """A migration no release holds yet (in development): named unreleased, and still pending."""
    from pgferry.engine.definitions.catalog import load
    from tests.support import add_migration

    add_migration(small_copy, "aux", 4, "draft", "SELECT 1;\n", parents=[3])
    defs = load(small_copy)
    main_all = defs.required(defs.release("1.2.0"), "main")
    assert defs.version_of({"main": main_all, "aux": {1, 2, 3, 4}}).label == "1.2.0 + 1 unreleased migration"
    # main's 11..13 come with 1.1.0, 14..16 with 1.2.0; aux 4 with none
    assert defs.version_of({"main": main_all, "aux": {1, 4}}).label == \
        "1.0.0 + 6 migrations of 1.1.0–1.2.0 + 1 unreleased migration"
    assert 4 in defs.heads_on("aux")
