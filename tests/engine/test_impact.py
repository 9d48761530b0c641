"""Impact of a plan (docs/design.md §6): live sizes, calibration, the cost model, the lint that knows
the data and the release graph, on the real server."""
from __future__ import annotations

from dataclasses import dataclass

import psycopg
import pytest

from pgferry.engine.bookkeeping.calibration import DEFAULTS, CalibrationLog, Throughputs
from pgferry.engine.definitions.catalog import load
from pgferry.engine.plan.estimate import BLOCKED_ERROR_S, RelSize, created_size, estimate_step
from pgferry.engine.plan.graphrule import RULE, graph_findings
from pgferry.engine.plan.impact import Basis, Blocks
from pgferry.engine.upgrade.calibrate import calibrate
from pgferry.engine.upgrade.impact import read_sizes
from tests.support import add_migration, execute, query

SLOW = Throughputs(scan_mb_s=1.0, rewrite_mb_s=0.5, index_mb_s=0.5, catalog_s=0.01, basis="calibrated")


@dataclass(frozen=True)
class Take:  # the shape of locking.py's LockTake, for the pure estimator
    relation: str
    mode: str
    blocks: Blocks


@dataclass(frozen=True)
class Effect:  # the shape of locking.py's StatementEffect
    locks: tuple = ()
    work: tuple = ()
    tables: tuple = ()


def test_sizes_match_the_catalog(database):
    execute(database, "CREATE TABLE projects (id bigserial PRIMARY KEY, slug text)",
            "INSERT INTO projects (slug) SELECT 'p' || g FROM generate_series(1, 20000) g",
            "CREATE INDEX projects_slug ON projects (slug)", "ANALYZE projects",
            "CREATE TABLE fresh (id int, note text)", "INSERT INTO fresh SELECT g, 'x' FROM generate_series(1, 5000) g")
    with psycopg.connect(database, autocommit=True) as conn:
        sizes = read_sizes(conn, ["public.projects", "public.fresh", "public.missing"])
    (tuples, heap, indexes), = query(database, "SELECT reltuples::bigint, pg_total_relation_size(oid) - "
                                     "pg_indexes_size(oid), pg_indexes_size(oid) FROM pg_class WHERE oid = 'projects'::regclass")
    assert (sizes["public.projects"].rows, sizes["public.projects"].heap_bytes,
            sizes["public.projects"].index_bytes) == (tuples == 20000 and 20000, heap, indexes)
    assert "public.missing" not in sizes
    # Never analysed (reltuples -1): the rows are estimated from its pages, not reported as 0.
    assert query(database, "SELECT reltuples FROM pg_class WHERE relname = 'fresh'")[0][0] < 1
    assert 2500 <= sizes["public.fresh"].rows <= 20000


def test_sizes_wait_for_no_migration(database, session):
    """A migration holding ACCESS EXCLUSIVE: the sizes come from the catalog after a short timeout."""
    execute(database, "CREATE TABLE busy (id int)", "INSERT INTO busy SELECT generate_series(1, 1000)", "VACUUM busy")
    holder = session()
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE busy IN ACCESS EXCLUSIVE MODE")
    with psycopg.connect(database, autocommit=True) as conn:
        sizes = read_sizes(conn, ["public.busy"])
    assert sizes["public.busy"].rows == 1000 and sizes["public.busy"].heap_bytes > 0


def test_calibrate_stores_the_figures(database):
    figures = calibrate(database, size_mb=2)
    assert figures.basis == "calibrated" and figures.server_version
    assert min(figures.scan_mb_s, figures.rewrite_mb_s, figures.index_mb_s, figures.catalog_s) > 0
    with psycopg.connect(database, autocommit=True) as conn:
        stored = CalibrationLog(conn).latest()
    assert (stored.scan_mb_s, stored.rewrite_mb_s, stored.basis) == (figures.scan_mb_s, figures.rewrite_mb_s, "calibrated")
    assert query(database, "SELECT count(*) FROM pg_class WHERE relname = 'pgferry_calibration'") == [(0,)]


def test_locks_held_to_commit_and_severity_from_size():
    big = RelSize("public.projects", 2_100_000, int(3 * 1024 * 1024), 1024 * 1024)
    effects = [Effect(locks=(Take("public.projects", "ACCESS EXCLUSIVE", Blocks.READS_AND_WRITES),),
                      work=("scan",), tables=("public.projects",)),
               Effect(work=("catalog only",))]
    texts = ["ALTER TABLE projects ALTER COLUMN slug SET NOT NULL", "COMMENT ON TABLE projects IS 'x'"]
    impact = estimate_step(effects, texts, {"public.projects": big}, SLOW)
    assert impact.basis is Basis.CALIBRATED and impact.estimate_s == pytest.approx(3.02, abs=0.01)
    lock, = impact.locks
    assert lock.held_s == impact.estimate_s  # held until COMMIT, after the second statement
    finding, = impact.lint
    assert (finding.rule, finding.severity) == ("scan-under-lock", "warning")
    assert "2.1 M rows scanned under ACCESS EXCLUSIVE, ~3.0 s of blocked reads and writes" in finding.message
    worse = estimate_step(effects, texts, {"public.projects": RelSize("public.projects", 9_000_000, 6 * 1024 * 1024, 0)},
                          SLOW)
    assert worse.lint[0].severity == "error" and worse.locks[0].held_s >= BLOCKED_ERROR_S
    # Outside a transaction (CREATE INDEX CONCURRENTLY) a lock is held only by its statement.
    assert estimate_step(effects, texts, {"public.projects": big}, SLOW, transactional=False).locks[0].held_s == 3.01
    # A table the plan creates earlier: size 0, said so, and nothing to warn about.
    made = estimate_step(effects, texts, {"public.projects": created_size("public.projects")}, DEFAULTS)
    assert made.tables[0].created_by_plan and made.lint == () and made.basis is Basis.DEFAULT


def test_release_graph_drop_of_a_column_an_older_served_release_reads(small_copy):
    add_migration(small_copy, "main", 17, "drop_email", "ALTER TABLE users DROP COLUMN IF EXISTS email;\n", parents=[16])
    releases = small_copy / "releases.yaml"
    releases.write_text(releases.read_text() + "  - version: 1.3.0\n    leaves: {main: [17], aux: [3]}\n"
                        "    compatible_with: \">=1.1.0\"\n")
    defs = load(small_copy)
    m = defs.schemas["main"].migrations[17]
    finding, = graph_findings(defs, "main", m, "1.3.0")
    assert (finding.rule, finding.severity) == (RULE, "error")
    assert finding.message == "1.3.0 claims to serve 1.1.0 but drops public.users.email that 1.1.0 reads"
    # A rename: reported at the oldest served release that has the column (events came in 1.2.0).
    add_migration(small_copy, "main", 18, "rename_kind", "ALTER TABLE events RENAME COLUMN kind TO category;\n"
                  "ALTER TABLE events ADD COLUMN note text;\n", parents=[17])
    add_migration(small_copy, "main", 19, "drop_note", "ALTER TABLE events DROP COLUMN note;\n", parents=[18])
    releases.write_text(releases.read_text() + "  - version: 1.4.0\n    leaves: {main: [18], aux: [3]}\n"
                        "    compatible_with: \">=1.1.0\"\n  - version: 1.5.0\n    leaves: {main: [19], aux: [3]}\n"
                        "    compatible_with: \">=1.1.0,<1.4.0\"\n")
    defs = load(small_copy)
    finding, = graph_findings(defs, "main", defs.schemas["main"].migrations[18], "1.4.0")
    assert finding.message.startswith("1.4.0 claims to serve 1.2.0 but renames public.events.kind")
    # A column the served releases never had: their application cannot read it.
    assert graph_findings(defs, "main", defs.schemas["main"].migrations[19], "1.5.0") == []


def test_every_step_of_the_bundled_plan_is_estimated_and_calibration_is_used(database):
    from pgferry.engine.upgrade.impact import with_impact
    from pgferry.engine.upgrade.planning import Connections, make_plan
    from pgferry.engine.upgrade.upgrade import Upgrade
    from tests.support import bundled

    defs = bundled()
    conns = Connections({s: database for s in defs.schemas})
    Upgrade(defs, conns).run(defs.releases.releases[0].version)
    plan = with_impact(make_plan(defs, conns, defs.releases.latest().version), defs, conns)
    assert plan.impact.basis is Basis.DEFAULT and set(plan.impact.steps) == {s.key for s in plan.steps}
    assert all(i.estimate_s > 0 and i.basis is Basis.DEFAULT for i in plan.impact.steps.values())
    assert all("impact" in s for s in plan.as_dict()["steps"])
    with psycopg.connect(database, autocommit=True) as conn:
        CalibrationLog(conn).record(SLOW, 1)
    again = with_impact(plan, defs, conns)
    assert again.impact.basis is Basis.CALIBRATED
    assert {i.basis for k, i in again.impact.steps.items() if k.startswith("schema:")} == {Basis.CALIBRATED}
    assert again.impact.total_s() > plan.impact.total_s()  # slower figures, longer estimates


def _small_with(small_copy, up: str):
    """The small product with aux migration 4 (`up`) in a release 1.3.0."""
    add_migration(small_copy, "aux", 4, "risky", up, parents=[3])
    releases = small_copy / "releases.yaml"
    releases.write_text(releases.read_text() + "  - version: 1.3.0\n    leaves: {main: [16], aux: [4]}\n")
    return load(small_copy)


def test_a_table_with_rows_makes_a_rewrite_an_error_with_its_blocked_seconds(database, small_copy):
    from pgferry.engine.upgrade.impact import with_impact
    from pgferry.engine.upgrade.planning import Connections, make_plan
    from pgferry.engine.upgrade.upgrade import Upgrade

    defs = _small_with(small_copy, "ALTER TABLE aux_jobs ALTER COLUMN state TYPE varchar(40);\n")
    conns = Connections({s: database for s in defs.schemas})
    Upgrade(defs, conns).run("1.2.0")
    execute(database, "INSERT INTO aux_jobs (payload) SELECT jsonb_build_object('n', g) FROM generate_series(1, 30000) g",
            "ANALYZE aux_jobs")
    plan = with_impact(make_plan(defs, conns, "1.3.0"), defs, conns, calibration=SLOW)
    impact = plan.impact.of("schema:aux:4:up")
    table, = impact.tables
    assert (table.relation, table.rows) == ("public.aux_jobs", 30000)
    assert table.bytes == query(database, "SELECT pg_total_relation_size('aux_jobs')")[0][0]
    finding, = [f for f in impact.lint if f.rule == "rewrite-under-lock"]
    assert finding.severity == "error"
    assert "30 k rows rewritten under ACCESS EXCLUSIVE" in finding.message
    assert plan.impact.blocked()["public.aux_jobs"][0] is Blocks.READS_AND_WRITES
    # The same plan before the rows came: nothing to report.
    execute(database, "TRUNCATE aux_jobs", "VACUUM ANALYZE aux_jobs")
    empty = with_impact(make_plan(defs, conns, "1.3.0"), defs, conns, calibration=SLOW)
    assert not [f for f in empty.impact.of("schema:aux:4:up").lint if f.rule == "rewrite-under-lock"]


def test_a_table_an_earlier_step_creates_is_sized_zero(database, small_defs):
    from pgferry.engine.plan.planner import Planner
    from pgferry.engine.upgrade.impact import with_impact
    from pgferry.engine.upgrade.planning import Connections

    conns = Connections({s: database for s in small_defs.schemas})
    plan = with_impact(Planner(small_defs).plan({}, "1.2.0"), small_defs, conns)
    events = {t.relation: t for t in plan.impact.of("schema:main:16:up").tables}
    assert events["public.events"].created_by_plan and events["public.events"].bytes == 0


def test_plan_json_carries_the_impact(database, capsys):
    import json

    from pgferry.engine.upgrade.planning import Connections
    from pgferry.engine.upgrade.upgrade import Upgrade
    from tests.support import SMALL, cli

    defs = load(SMALL)
    Upgrade(defs, Connections({s: database for s in defs.schemas})).run("1.0.0")
    rc, out, _ = cli(capsys, "plan", "--to", "1.2.0", "--json", "--dsn", database, "--migrations", str(SMALL))
    steps = json.loads(out)["steps"]
    assert rc == 0 and steps and all(s["impact"]["estimate_basis"] == "default" for s in steps)
    assert all(s["impact"]["estimate_s"] > 0 for s in steps)
