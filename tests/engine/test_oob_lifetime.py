"""Out-of-band migrations across a downgrade, and `oob run` at releases inside or outside their lifetimes.

Progress a plan relies on is measured by progress.sql on the live data, never taken from the
figure recorded the last time the migration ran: a downgrade below `introduced` drops what the
backfill wrote, and the next upgrade must run it again.
"""
from __future__ import annotations

import json

import pytest

from pgferry.engine.definitions.catalog import load
from pgferry.engine.upgrade.upgrade import Connections, Upgrade, make_plan
from tests.support import bundled, cli, execute, query

BUNDLED = bundled()


def move(defs, dsn: str, to: str, downgrade=None):
    return Upgrade(defs, Connections({s: dsn for s in defs.schemas})).run(to, downgrade=downgrade)


def plan_oob_ids(defs, dsn: str, to: str) -> list[int]:
    plan = make_plan(defs, Connections({s: dsn for s in defs.schemas}), to)
    return [s.oob.id for s in plan.steps if s.kind == "out_of_band"]


def oob_status(capsys, dsn: str, *extra: str) -> dict[int, dict]:
    rc, out, err = cli(capsys, "oob", "status", "--json", "--dsn", dsn, *extra)
    assert rc == 0, err
    return {o["id"]: o for o in json.loads(out)["out_of_band"]}


# -- a small product whose backfill a later release relies on ----------------------------------


@pytest.fixture
def small_backfill(small_copy):
    """The small product with out-of-band 1 filling aux_jobs.state: the column arrives empty for
    old rows in 1.1.0 (the migration's default covers new rows only) and becomes NOT NULL in 1.2.0."""
    aux = small_copy / "aux"
    (aux / "2_jobs_state" / "up.sql").write_text(
        "ALTER TABLE aux_jobs ADD COLUMN IF NOT EXISTS state text;\n"
        "ALTER TABLE aux_jobs ALTER COLUMN state SET DEFAULT 'queued';\n")
    (aux / "3_jobs_state_index" / "up.sql").write_text(
        "ALTER TABLE aux_jobs ALTER COLUMN state SET NOT NULL;\n"
        "CREATE INDEX IF NOT EXISTS aux_jobs_state ON aux_jobs (state);\n")
    (aux / "3_jobs_state_index" / "down.sql").write_text(
        "DROP INDEX IF EXISTS aux_jobs_state;\nALTER TABLE aux_jobs ALTER COLUMN state DROP NOT NULL;\n")
    oob = small_copy / "out-of-band" / "1_backfill_job_state"
    oob.mkdir(parents=True)
    (oob / "metadata.yaml").write_text(
        "description: Set the state of jobs queued before 1.1.0.\nschema: aux\nintroduced: 1.1.0\n"
        "deprecated: 1.2.0\nnonDestructive: true\nbatchSize: 10\n")
    (oob / "progress.sql").write_text(
        "SELECT CASE WHEN count(*) = 0 THEN 1 ELSE count(state)::float8 / count(*) END FROM aux_jobs;\n")
    (oob / "up.sql").write_text(
        "UPDATE aux_jobs SET state = 'queued'\n"
        "WHERE id = ANY (ARRAY(SELECT id FROM aux_jobs WHERE state IS NULL ORDER BY id LIMIT %(batch_size)s));\n")
    return load(small_copy)


def test_small_backfill_runs_again_after_a_downgrade_below_its_introduction(database, small_backfill, capsys):
    defs = small_backfill
    move(defs, database, "1.0.0")
    execute(database, "INSERT INTO aux_jobs (payload) SELECT jsonb_build_object('n', g) FROM generate_series(1, 40) g")
    plan, _ = move(defs, database, "1.2.0")
    assert [s.release.version for s in plan.stops] == ["1.1.0"]
    assert query(database, "SELECT count(*) FROM aux_jobs WHERE state IS NULL") == [(0,)]
    assert oob_status(capsys, database, "--migrations", defs.root)[1]["progress"] == 1.0

    plan, _ = move(defs, database, "1.0.0", downgrade=True)  # aux 2 down drops the column
    assert not [s for s in plan.steps if s.kind == "out_of_band"]  # nonDestructive: nothing undone
    status = oob_status(capsys, database, "--migrations", defs.root)[1]
    assert status["progress"] is None and status["reached"] is False
    assert "introduced in 1.1.0" in status["reason"]
    # what was recorded is reset by the downgrade, not left at 100%
    assert query(database, "SELECT progress, finished_at FROM out_of_band_migrations WHERE id = 1") == [(0.0, None)]

    assert plan_oob_ids(defs, database, "1.2.0") == [1]
    plan, _ = move(defs, database, "1.2.0")
    assert plan.to_version == "1.2.0" and [s.release.version for s in plan.stops] == ["1.1.0"]
    assert query(database, "SELECT count(*) FROM aux_jobs WHERE state IS NULL") == [(0,)]
    assert query(database, "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'aux_jobs'::regclass "
                           "AND attname = 'state'") == [(True,)]


def test_a_stale_record_is_not_trusted_when_the_column_is_back_empty(database, small_backfill, capsys):
    """Even without the reset (a crash right after the schema went down, or `downto` by hand), the
    plan measures: the record says 100%, the data says otherwise."""
    defs = small_backfill
    move(defs, database, "1.0.0")
    execute(database, "INSERT INTO aux_jobs (payload) SELECT '{}' FROM generate_series(1, 15)")
    move(defs, database, "1.2.0")
    move(defs, database, "1.0.0", downgrade=True)
    execute(database, "UPDATE out_of_band_migrations SET progress = 1, finished_at = now() WHERE id = 1")
    assert plan_oob_ids(defs, database, "1.2.0") == [1]
    move(defs, database, "1.1.0")  # inside the lifetime: the live figure, not the record
    assert oob_status(capsys, database, "--migrations", defs.root)[1]["progress"] == 0.0
    assert plan_oob_ids(defs, database, "1.2.0") == [1]
    # `status` shows the same measured figure (it listed no out-of-band migration at all before)
    rc, out, _ = cli(capsys, "status", "--json", "--dsn", database, "--migrations", str(defs.root))
    assert rc == 0 and [(o["id"], o["progress"]) for o in json.loads(out)["out_of_band"]] == [(1, 0.0)]
    rc, out, _ = cli(capsys, "status", "--dsn", database, "--migrations", str(defs.root))
    assert rc == 0 and "out-of-band:" in out and "0.0%  Set the state of jobs queued before 1.1.0." in out


def test_bundled_backfill_runs_again_after_a_downgrade_below_its_introduction(database, capsys):
    # out-of-band 2 (codeintel, nonDestructive) fills lsif_uploads.indexer_name in [3.22.0, 3.26.0);
    # 3.26.0 validates a NOT NULL check on it.
    move(BUNDLED, database, "3.21.0")
    execute(database, "INSERT INTO lsif_uploads (commit, repository_id, indexer, num_parts, uploaded_parts) "
                    "SELECT md5(g::text) || left(md5((g * 2)::text), 8), g, 'sourcegraph/lsif-go:v1.2.0', 1, '{0}' "
                    "FROM generate_series(1, 30) g")
    move(BUNDLED, database, "3.26.0")
    move(BUNDLED, database, "3.21.0", downgrade=True)
    status = oob_status(capsys, database)
    assert status[2]["progress"] is None and not status[2]["reached"]
    assert 2 in plan_oob_ids(BUNDLED, database, "3.26.0")
    plan, _ = move(BUNDLED, database, "3.26.0")
    assert plan.to_version == "3.26.0"
    assert query(database, "SELECT count(*) FROM lsif_uploads WHERE indexer_name IS NULL") == [(0,)]
    assert oob_status(capsys, database)[2]["progress"] == 1.0


# -- `oob run` without ids at an intermediate release -------------------------------------------
