"""engine.definitions.pgparse builds the very tree pglast.parse_sql builds, only faster; engine.definitions.digraph
answers like networkx did."""
from __future__ import annotations

import random
from pathlib import Path

import pglast
import pytest

from pgferry.engine.definitions import digraph, pgparse
from tests.support import FIXTURES, ROOT

CORPUS = FIXTURES / "sql" / "parser_corpus.sql"


def full(nodes) -> list:
    # every attribute, locations included (Node.__eq__ ignores locations)
    return [n(None, None, False) for n in nodes]


def sql_files() -> list[Path]:
    files = sorted((ROOT / "migrations").rglob("*.sql")) + sorted(FIXTURES.rglob("*.sql"))
    assert len(files) > 100
    return files


@pytest.fixture
def no_fallback(monkeypatch):
    used = []
    monkeypatch.setattr(pgparse, "_slow_parse_sql", lambda text: used.append(text) or pglast.parse_sql(text))
    return used


def test_same_tree_for_every_bundled_and_fixture_file(no_fallback):
    compared = 0
    for path in sql_files():
        text = path.read_text(encoding="utf-8")
        try:
            expected = pglast.parse_sql(text)
        except pglast.parser.ParseError:
            continue  # deliberately broken fixtures: covered below
        assert full(pgparse.parse_sql(text)) == full(expected), path
        compared += 1
    assert compared > 100 and not no_fallback


def test_same_tree_for_a_corpus_of_ddl_dml_and_unicode(no_fallback):
    text = CORPUS.read_text(encoding="utf-8")
    assert not text.isascii()  # byte offsets must become character offsets
    expected = pglast.parse_sql(text)
    assert len(expected) > 70
    assert full(pgparse.parse_sql(text)) == full(expected)
    # and statement by statement, so each one's locations start at 0
    for raw in expected:
        one = text[raw.stmt_location: raw.stmt_location + raw.stmt_len] if raw.stmt_len else text[raw.stmt_location:]
        assert full(pgparse.parse_sql(one)) == full(pglast.parse_sql(one)), one
    assert not no_fallback


@pytest.mark.parametrize("text", ["SELECT 1 +", "CREATE TABLE (", "SELECT 'é' FROM"])
def test_bad_sql_raises_what_pglast_raises(text):
    with pytest.raises(pglast.parser.ParseError) as slow:
        pglast.parse_sql(text)
    with pytest.raises(pglast.parser.ParseError) as fast:
        pgparse.parse_sql(text)
    assert fast.value.args == slow.value.args


def test_unknown_shapes_fall_back_to_pglast(monkeypatch):
    monkeypatch.setattr(pgparse, "parse_sql_json", lambda text: '{"stmts": [{"stmt": {"NoSuchNode": {}}}]}')
    assert full(pgparse.parse_sql("SELECT 1")) == full(pglast.parse_sql("SELECT 1"))


def test_digraph_matches_networkx():
    nx = pytest.importorskip("networkx")
    rng = random.Random(7)
    for _ in range(50):
        n = rng.randint(1, 30)
        edges = {(rng.randrange(n), rng.randrange(n)) for _ in range(rng.randint(0, 60))}
        dag_edges = [(u, v) for u, v in edges if u < v]
        ours, theirs = digraph.DiGraph(dag_edges), nx.DiGraph(dag_edges)
        ours.add_nodes_from(range(n))
        theirs.add_nodes_from(range(n))
        assert digraph.topological_sort(ours) == list(nx.lexicographical_topological_sort(theirs, key=lambda x: x))
        for a in range(n):
            assert digraph.descendants(ours, a) == nx.descendants(theirs, a)
            b = rng.randrange(n)
            assert digraph.has_path(ours, a, b) == nx.has_path(theirs, a, b)
        assert digraph.find_cycle(ours) is None
        cyclic = digraph.DiGraph(edges)
        found = digraph.find_cycle(cyclic)
        try:
            nx.find_cycle(nx.DiGraph(edges))
            has = True
        except nx.NetworkXNoCycle:
            has = False
        assert (found is not None) == has
        if found:
            assert all(v == found[(i + 1) % len(found)][0] for i, (_, v) in enumerate(found))
            assert all(cyclic._succ[u].__contains__(v) for u, v in found)
            with pytest.raises(digraph.CycleError):
                digraph.topological_sort(cyclic)


# -- statements: kind and flags from the JSON, the tree on demand -----------------------------

PRIVILEGED_OBJECTS = {"OBJECT_EXTENSION", "OBJECT_EVENT_TRIGGER", "OBJECT_LANGUAGE", "OBJECT_FDW", "OBJECT_ROLE",
                      "OBJECT_TABLESPACE", "OBJECT_SUBSCRIPTION"}
FLAG_SQL = """
CREATE INDEX CONCURRENTLY i1 ON t (a);
CREATE INDEX i2 ON t (a);
DROP INDEX CONCURRENTLY i1;
REINDEX (CONCURRENTLY) INDEX i2;
REFRESH MATERIALIZED VIEW CONCURRENTLY mv;
ALTER TABLE p DETACH PARTITION c CONCURRENTLY;
ALTER TABLE p DETACH PARTITION c;
VACUUM t;
ANALYZE t;
BEGIN;
COMMIT;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
DROP EXTENSION pg_trgm;
COMMENT ON EXTENSION pg_trgm IS 'x';
ALTER ROLE r RENAME TO s;
DROP TABLE t;
COMMENT ON TABLE t IS 'x';
CREATE DATABASE d;
"""


def oracle(node) -> dict:
    """The same facts, read off pglast's own tree (an independent reading of the same parse)."""
    from pglast import ast

    kind = type(node).__name__
    concurrent = False
    if isinstance(node, (ast.IndexStmt, ast.DropStmt, ast.RefreshMatViewStmt)):
        concurrent = bool(node.concurrent)
    elif isinstance(node, ast.ReindexStmt):
        concurrent = any(getattr(p, "defname", "") == "concurrently" for p in (node.params or ()))
    elif isinstance(node, ast.AlterTableStmt):
        concurrent = any(isinstance(c.def_, ast.PartitionCmd) and c.def_.concurrent for c in (node.cmds or ()))
    obj = {ast.DropStmt: "removeType", ast.CommentStmt: "objtype", ast.RenameStmt: "renameType"}.get(type(node))
    return {
        "kind": kind,
        "concurrent": concurrent,
        "cic": isinstance(node, ast.IndexStmt) and bool(node.concurrent),
        "names_index": isinstance(node, ast.IndexStmt) and bool(node.idxname),
        "transaction_control": isinstance(node, ast.TransactionStmt),
        "privileged_object": bool(obj) and getattr(node, obj).name in PRIVILEGED_OBJECTS,
    }


def test_statement_flags_from_json_agree_with_the_tree():
    from pgferry.engine.definitions.sqlfile import parse_script

    texts = [FLAG_SQL, CORPUS.read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "migrations").rglob("*.sql"))]
    checked = privileged = concurrent = 0
    for text in texts:
        try:
            expected = pglast.parse_sql(text)
        except pglast.parser.ParseError:
            continue  # a template, not SQL
        script = parse_script("x.sql", text)
        assert len(script.statements) == len(expected)
        for st, raw in zip(script.statements, expected):
            want = oracle(raw.stmt)
            got = {"kind": st.kind, "concurrent": st.concurrent, "cic": st.is_create_index_concurrently,
                   "names_index": st.facts.names_index,
                   "transaction_control": st.transaction_control,
                   "privileged_object": st.kind in ("DropStmt", "CommentStmt", "RenameStmt") and st.privileged}
            assert got == want, st.text
            # the tree built on demand is pglast's tree
            assert st.node(None, None, False) == raw.stmt(None, None, False), st.text
            checked += 1
            privileged += st.privileged
            concurrent += st.concurrent
    assert checked > 300 and privileged >= 5 and concurrent >= 5
    flags = [(st.non_transactional, st.privilege) for st in parse_script("f.sql", FLAG_SQL).statements]
    assert flags[0] == ("CONCURRENTLY", None) and flags[1] == (None, None)  # CREATE INDEX [CONCURRENTLY]
    assert flags[5] == ("CONCURRENTLY", None) and flags[6] == (None, None)  # DETACH PARTITION [CONCURRENTLY]
    assert flags[7] == ("VACUUM", None) and flags[8] == (None, None)  # VACUUM, ANALYZE
    assert [p for _, p in flags[11:17]] == ["CREATE EXTENSION", "DROP EXTENSION", "COMMENT ON EXTENSION",
                                            "ALTER ROLE RENAME", None, None]
    assert flags[17] == ("CREATE DATABASE", None)
