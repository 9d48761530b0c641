"""locking.py's claims checked on a real server: each statement runs (in a transaction, not
committed) and a second session reads the locks that backend holds in pg_locks; the strongest
mode on every relation must be the one predicted, and a relation the analysis leaves out must not
be locked in a mode that blocks an application. Rewrites are checked by the table's file node.

Statements PostgreSQL refuses in a transaction (CONCURRENTLY, VACUUM) are run while another
session holds a conflicting lock: the mode they wait for is read while they wait."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest
from pglast import parse_sql

from pgferry.engine.definitions.locking import Work, analyse, analyse_script
from pgferry.engine.definitions.lockmodes import Blocks, LockMode

SETUP = """
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE t (id int PRIMARY KEY, a varchar(10), b int, p_id int, CONSTRAINT t_b_check CHECK (b > 0) NOT VALID);
INSERT INTO p VALUES (1), (2);
INSERT INTO t VALUES (1, 'x', 1, 1), (2, 'y', 2, 2);
CREATE INDEX t_b ON t (b);
CREATE UNIQUE INDEX t_a_key ON t (a);
CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
CREATE UNIQUE INDEX mv_id ON mv (id);
CREATE TYPE mood AS ENUM ('sad');
"""

AE, SUE, SRE = "ACCESS EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE ROW EXCLUSIVE"
T, P = "public.t", "public.p"
INDEXES = {"public.t_b": T, "public.t_a_key": T, "public.t_pkey": T}  # what the catalog would say

# (statement, expected {relation: mode}, expected work)
IN_TRANSACTION = [
    ("CREATE TABLE c (id int REFERENCES p (id))", {P: SRE}, ["catalog only"]),
    ("CREATE INDEX t_id2 ON t (id)", {T: "SHARE"}, ["index build"]),
    ("DROP INDEX t_b", {T: AE, "public.t_b": AE}, ["catalog only"]),
    ("DROP TABLE p", {P: AE}, ["catalog only"]),
    ("ALTER TABLE t ADD COLUMN c int", {T: AE}, ["catalog only"]),
    ("ALTER TABLE t ADD COLUMN c int DEFAULT 7", {T: AE}, ["catalog only"]),
    ("ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now()", {T: AE}, ["catalog only"]),
    ("ALTER TABLE t ADD COLUMN c float DEFAULT random()", {T: AE}, ["rewrite"]),
    ("ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid()", {T: AE}, ["rewrite"]),
    ("ALTER TABLE t ADD COLUMN c bigserial", {T: AE}, ["rewrite"]),
    ("ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS IDENTITY", {T: AE}, ["rewrite"]),
    ("ALTER TABLE t ALTER COLUMN b SET NOT NULL", {T: AE}, ["scan"]),
    ("ALTER TABLE t ALTER COLUMN b TYPE bigint", {T: AE}, ["rewrite"]),
    ("ALTER TABLE t ALTER COLUMN a TYPE text USING a || '!'", {T: AE}, ["rewrite"]),
    ("ALTER TABLE t ADD CONSTRAINT t_b_pos CHECK (b > 0)", {T: AE}, ["scan"]),
    ("ALTER TABLE t ADD CONSTRAINT t_b_pos CHECK (b > 0) NOT VALID", {T: AE}, ["catalog only"]),
    ("ALTER TABLE t ADD CONSTRAINT t_p FOREIGN KEY (p_id) REFERENCES p (id)", {T: SRE, P: SRE}, ["scan"]),
    ("ALTER TABLE t ADD CONSTRAINT t_p FOREIGN KEY (p_id) REFERENCES p (id) NOT VALID", {T: SRE, P: SRE}, ["catalog only"]),
    ("ALTER TABLE t VALIDATE CONSTRAINT t_b_check", {T: SUE}, ["scan"]),
    ("ALTER TABLE t ADD CONSTRAINT t_b_u UNIQUE (b)", {T: AE}, ["index build"]),
    ("ALTER TABLE t ADD CONSTRAINT t_a_u UNIQUE USING INDEX t_a_key", {T: AE}, ["catalog only"]),
    ("ALTER TABLE t RENAME TO t2", {T: AE}, ["catalog only"]),
    ("ALTER TABLE t RENAME COLUMN a TO a2", {T: AE}, ["catalog only"]),
    ("ALTER TABLE t RENAME CONSTRAINT t_b_check TO t_b_check2", {T: AE}, ["catalog only"]),
    ("ALTER INDEX t_b RENAME TO t_b2", {"public.t_b": SUE}, ["catalog only"]),
    ("ALTER TABLE t DROP COLUMN b", {T: AE}, ["catalog only"]),
    ("ALTER TABLE t ALTER COLUMN b SET DEFAULT 3", {T: AE}, ["catalog only"]),
    ("ALTER TABLE t ALTER COLUMN b DROP DEFAULT", {T: AE}, ["catalog only"]),
    ("ALTER TABLE t DROP CONSTRAINT t_b_check", {T: AE}, ["catalog only"]),
    ("ALTER TABLE t SET (fillfactor = 70)", {T: SUE}, ["catalog only"]),
    ("ALTER TABLE t ALTER COLUMN b SET STATISTICS 500", {T: SUE}, ["catalog only"]),
    ("ALTER TABLE t DISABLE TRIGGER ALL", {T: SRE}, ["catalog only"]),
    ("CREATE TRIGGER t_tr BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
     {T: SRE}, ["catalog only"]),
    ("ALTER TYPE mood ADD VALUE 'happy'", {}, ["catalog only"]),
    ("CREATE MATERIALIZED VIEW mv2 AS SELECT id FROM t", {T: "ACCESS SHARE"}, ["scan"]),
    ("REFRESH MATERIALIZED VIEW mv", {"public.mv": AE}, ["rewrite"]),
    ("REFRESH MATERIALIZED VIEW CONCURRENTLY mv", {"public.mv": "EXCLUSIVE"}, ["rewrite"]),
    ("ANALYZE t", {T: SUE}, ["scan"]),
    ("UPDATE t SET b = b + 1", {T: "ROW EXCLUSIVE"}, ["scan"]),
    ("UPDATE t SET b = 5 WHERE id = 1", {T: "ROW EXCLUSIVE"}, ["rows"]),
    ("DELETE FROM t WHERE id IN (1, 2)", {T: "ROW EXCLUSIVE"}, ["rows"]),
    ("INSERT INTO t (id, a) VALUES (9, 'z')", {T: "ROW EXCLUSIVE"}, ["rows"]),
    ("CLUSTER t USING t_pkey", {T: AE}, ["rewrite", "index build"]),
    ("REINDEX TABLE t", {T: "SHARE"}, ["index build"]),
    ("TRUNCATE t, p CASCADE", {T: AE, P: AE}, ["catalog only"]),
    ("COMMENT ON TABLE t IS 'x'", {T: SUE}, ["catalog only"]),
    ("COMMENT ON COLUMN t.a IS 'x'", {T: SUE}, ["catalog only"]),
    ("GRANT SELECT ON t TO PUBLIC", {}, ["catalog only"]),
    ("CREATE EXTENSION IF NOT EXISTS pg_trgm", {}, ["catalog only"]),
    ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", {}, ["catalog only"]),
    ("CREATE VIEW v AS SELECT a FROM t", {}, ["catalog only"]),
    ("LOCK TABLE t IN SHARE ROW EXCLUSIVE MODE", {T: SRE}, ["catalog only"]),
]

LOCKS = """
SELECT n.nspname || '.' || c.relname, l.mode, c.relkind
FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = %s AND l.locktype = 'relation' AND n.nspname NOT IN ('pg_catalog', 'pg_toast', 'information_schema')
"""


def _held(admin, pid: int) -> tuple[dict[str, LockMode], dict[str, str]]:
    modes: dict[str, LockMode] = {}
    kinds: dict[str, str] = {}
    for relation, mode, kind in admin.execute(LOCKS, (pid,)).fetchall():
        m = LockMode.from_pg(mode)
        modes[relation] = max(modes.get(relation, m), m, key=lambda x: x.rank)
        kinds[relation] = kind
    return modes, kinds


def _check(effect, expected: dict, held: dict, kinds: dict) -> None:
    predicted = {lt.relation: str(lt.mode) for lt in effect.locks if lt.relation not in effect.new_relations}
    assert predicted == expected
    for relation, mode in predicted.items():
        assert str(held.get(relation)) == mode, f"{relation}: pg_locks has {held.get(relation)}, predicted {mode}"
    for relation, mode in held.items():
        if relation not in predicted and kinds[relation] in ("r", "p", "m"):
            assert mode.blocks is Blocks.NOTHING, f"{relation} locked {mode}, not predicted"


@pytest.fixture
def prepared(database):
    with psycopg.connect(database, autocommit=True) as admin:
        admin.execute(SETUP)
        yield database, admin


@pytest.mark.parametrize("statement,expected,work", IN_TRANSACTION, ids=[c[0][:60] for c in IN_TRANSACTION])
def test_locks_match_pg_locks(prepared, statement, expected, work):
    database, admin = prepared
    effect = analyse(parse_sql(statement)[0].stmt, indexes=INDEXES)
    assert effect.known
    assert [str(w) for w in effect.work] == work
    with psycopg.connect(database) as conn:
        oid, node = conn.execute("SELECT 't'::regclass::oid, pg_relation_filenode('t')").fetchone()
        conn.execute(statement)
        held, kinds = _held(admin, conn.info.backend_pid)
        rewritten = conn.execute("SELECT pg_relation_filenode(%s)", (oid,)).fetchone()[0] not in (node, None)
        conn.rollback()
    _check(effect, expected, held, kinds)
    if statement.startswith("ALTER TABLE t "):
        assert rewritten == (Work.REWRITE in effect.work), "the table's file node says otherwise"


def test_binary_coercible_type_change_is_catalog_only(prepared):
    """varchar(10) -> text and -> varchar(20) keep the file; the script's CREATE TABLE tells the types."""
    database, admin = prepared
    script = "CREATE TABLE w (a varchar(10)); ALTER TABLE w ALTER COLUMN a TYPE text; ALTER TABLE w ALTER COLUMN a TYPE varchar(5)"
    effects = analyse_script([r.stmt for r in parse_sql(script)])
    assert effects[1].work == (Work.CATALOG_ONLY,)
    effects = analyse_script([r.stmt for r in parse_sql(script)][1:], columns={"public.w": {"a": ("varchar", (10,))}})
    assert effects[0].work == (Work.CATALOG_ONLY,) and effects[1].work == (Work.REWRITE,)
    with psycopg.connect(database) as conn:
        conn.execute("CREATE TABLE w (a varchar(10)); INSERT INTO w VALUES ('x')")
        conn.commit()
        node = conn.execute("SELECT pg_relation_filenode('w')").fetchone()[0]
        conn.execute("ALTER TABLE w ALTER COLUMN a TYPE text")
        assert conn.execute("SELECT pg_relation_filenode('w')").fetchone()[0] == node
        conn.execute("ALTER TABLE w ALTER COLUMN a TYPE varchar(5)")
        assert conn.execute("SELECT pg_relation_filenode('w')").fetchone()[0] != node


# Statements PostgreSQL runs outside a transaction: (statement, a lock that makes it wait, relation, mode).
WAITING = [
    ("CREATE INDEX CONCURRENTLY t_id3 ON t (id)", "LOCK TABLE t IN SHARE MODE", T, SUE),
    ("DROP INDEX CONCURRENTLY t_b", "LOCK TABLE t IN SHARE MODE", T, SUE),
    ("REINDEX TABLE CONCURRENTLY t", "LOCK TABLE t IN SHARE MODE", T, SUE),
    ("VACUUM t", "LOCK TABLE t IN SHARE MODE", T, SUE),
    ("VACUUM FULL t", "LOCK TABLE t IN ACCESS SHARE MODE", T, AE),
]


@pytest.mark.parametrize("statement,blocker,relation,mode", WAITING, ids=[c[0] for c in WAITING])
def test_non_transactional_statement_waits_for_predicted_mode(prepared, statement, blocker, relation, mode):
    database, admin = prepared
    effect = analyse(parse_sql(statement)[0].stmt, indexes=INDEXES)
    assert str(effect.lock_on(relation)) == mode
    with psycopg.connect(database) as holder, psycopg.connect(database, autocommit=True) as runner:
        holder.execute(blocker)
        pid = runner.info.backend_pid
        worker = threading.Thread(target=runner.execute, args=(statement,))
        worker.start()
        try:
            waiting = None
            for _ in range(500):
                waiting = admin.execute("SELECT mode FROM pg_locks WHERE pid = %s AND NOT granted AND relation = %s::regclass",
                                        (pid, relation)).fetchone()
                if waiting:
                    break
                time.sleep(0.01)
        finally:
            holder.rollback()
            worker.join()
    assert waiting is not None and str(LockMode.from_pg(waiting[0])) == mode


def test_unmodelled_statement_claims_nothing():
    effect = analyse(parse_sql("DO $$ BEGIN END $$")[0].stmt)
    assert not effect.known and effect.locks == () and effect.work == ()


def test_volatility_of_defaults():
    def vol(expr):
        return analyse(parse_sql(f"ALTER TABLE t ADD COLUMN c text DEFAULT {expr}")[0].stmt)
    assert vol("'x'").volatile_default is False
    assert vol("now()").volatile_default is False
    assert vol("clock_timestamp()").volatile_default is True
    unknown = vol("my_fn()")
    assert unknown.volatile_default is True and "assumed volatile" in unknown.notes[0]


def test_table_created_earlier_costs_nothing():
    effects = analyse_script([r.stmt for r in parse_sql("CREATE TABLE n (a int); ALTER TABLE n ADD COLUMN b float DEFAULT random()")])
    assert effects[1].work == (Work.CATALOG_ONLY,) and effects[1].created == ("public.n",)
    later = analyse(parse_sql("CREATE INDEX ON n (a)")[0].stmt, created={"public.n"})
    assert later.work == (Work.CATALOG_ONLY,) and later.tables == ("public.n",)
