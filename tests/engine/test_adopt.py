"""Adopting a database pgferry never ran on (issue 15 §2), on a real server: the small product
installed at 1.1.0 with its bookkeeping dropped stands for a database another tool built; the
bundled product's dump (restored without the bookkeeping tables) for a restored backup."""
from __future__ import annotations

import json
import subprocess

import psycopg
import pytest

from pgferry.engine.bookkeeping.bookkeeping import MigrationLog
from pgferry.engine.definitions.catalog import load
from pgferry.engine.errors import PgferryError
from pgferry.engine.repair.adopt import adopt, prepare_adoption
from pgferry.engine.repair.describe import BOOKKEEPING
from pgferry.engine.repair.expected import render
from pgferry.engine.upgrade.backup import dump_command, find_tool
from tests.support import ADOPTED, bundled, cli, drop_bookkeeping, drift_json, execute, install_unrecorded, query

RELEASE = ADOPTED


@pytest.fixture
def unrecorded(capsys, database, small_copy, small_shapes):
    install_unrecorded(capsys, database, small_copy, small_shapes)
    return database


def adopt_cli(capsys, dsn, migrations, *more):
    return cli(capsys, "adopt", "--release", RELEASE, "--dsn", dsn, "--migrations", str(migrations), *more)


def logs(dsn):
    return query(dsn, "SELECT schema, version, success, backfilled, manual, confirmed_by, error_message "
                      "FROM migration_logs ORDER BY schema, version")


def no_bookkeeping(dsn) -> bool:
    return query(dsn, "SELECT to_regclass('migration_logs')") == [(None,)]


def test_adopted_database_records_the_release_backfilled_then_upgrades(capsys, unrecorded, small_copy):
    defs = load(small_copy)
    code, out, err = adopt_cli(capsys, unrecorded, small_copy, "--dry-run")
    assert code == 0, err
    assert "matches release 1.1.0" in out and "main: 7 migration(s) to record as backfilled" in out
    assert no_bookkeeping(unrecorded)  # a dry run creates nothing

    code, out, err = adopt_cli(capsys, unrecorded, small_copy, "--yes", "--confirmed-by", "alice")
    assert code == 0, err
    assert "adopted at 1.1.0: recorded 9 migration(s) as backfilled, confirmed by alice" in out
    rows = logs(unrecorded)
    for schema in ("main", "aux"):  # every ancestor of the leaves: the squash 10 and what it replaces alike
        assert {v for s, v, *_ in rows if s == schema} == set(defs.required(defs.release(RELEASE), schema))
    assert {r[2:] for r in rows} == {(True, True, True, "alice", "adopted at release 1.1.0 by alice")}

    code, out, err = cli(capsys, "status", "--dsn", unrecorded, "--migrations", str(small_copy))
    assert code == 0 and "database version: 1.1.0" in out, out + err
    code, _, err = cli(capsys, "upgrade", "--to", "1.2.0", "--yes", "--no-progress", "--dsn", unrecorded,
                       "--migrations", str(small_copy))
    assert code == 0, err
    assert query(unrecorded, "SELECT count(*) FROM migration_logs WHERE NOT backfilled AND version IN (14, 15, 16)") \
        == [(3,)]


def test_database_that_differs_is_refused_with_its_differences_and_fix(capsys, unrecorded, small_copy):
    execute(unrecorded, "ALTER TABLE users DROP COLUMN email", "CREATE INDEX users_username_extra ON users (username)")
    code, out, err = adopt_cli(capsys, unrecorded, small_copy, "--yes", "--json")
    assert code == 5, err
    data = json.loads(out)
    [db] = data["databases"]
    assert data["matches"] is False and data["adopted"] is False and db["matches"] is False
    assert {(d["kind"], d["object"], d["problem"]) for d in db["differences"]} == {
        ("column", "users.email", "missing"), ("index", "users.users_username_extra", "unexpected")}
    assert "ALTER TABLE public.users ADD COLUMN email text;" in db["fix"]
    assert "DROP INDEX CONCURRENTLY public.users_username_extra;" in db["fix"]
    assert "refused: 2 difference(s) from 1.1.0; nothing was recorded" in err and "fix SQL" in err
    assert no_bookkeeping(unrecorded)


def test_adopting_asks_for_confirmation_and_refuses_a_recorded_database(capsys, unrecorded, small_copy):
    code, _, err = adopt_cli(capsys, unrecorded, small_copy)  # no terminal, no --yes
    assert code == 2 and "needs confirmation: nothing was recorded" in err
    assert no_bookkeeping(unrecorded)
    assert adopt_cli(capsys, unrecorded, small_copy, "--yes")[0] == 0
    code, _, err = adopt_cli(capsys, unrecorded, small_copy, "--yes")
    assert code == 2 and "already records migrations of main, aux" in err and "`pgferry status`" in err
    code, _, err = cli(capsys, "adopt", "--release", "9.9.9", "--dsn", unrecorded, "--migrations", str(small_copy))
    assert code == 2 and "unknown release '9.9.9'" in err


def test_drift_and_upgrade_on_an_unrecorded_database_name_adoption(capsys, unrecorded, small_copy):
    code, out, _ = cli(capsys, "drift", "--dsn", unrecorded, "--migrations", str(small_copy))
    assert code == 5 and "no drift" not in out and "skipped (nothing recorded)" in out
    assert "hold the product with no migration recorded" in out and "pgferry adopt --release V" in out
    code, _, err = cli(capsys, "upgrade", "--to", "1.2.0", "--yes", "--dsn", unrecorded, "--migrations", str(small_copy))
    assert code == 5 and "pgferry adopt --release V" in err


def test_a_migrator_recording_meanwhile_stops_the_adoption(unrecorded, small_copy):
    """The comparison reads without locks; under the schemas' locks it is asked again."""
    defs = load(small_copy)
    adoption = prepare_adoption(defs, {s: unrecorded for s in defs.schemas}, RELEASE, operator="alice")
    assert adoption.matches
    with psycopg.connect(unrecorded, autocommit=True) as conn:  # a migrator records aux 1 meanwhile
        log = MigrationLog(conn)
        log.ensure()
        with conn.transaction():
            log.record_success("aux", 1, True, None, None)
    before = logs(unrecorded)
    with pytest.raises(PgferryError, match="recorded migrations of main, aux meanwhile"):
        adopt(defs, adoption)
    assert logs(unrecorded) == before


def test_every_database_is_compared_before_any_is_recorded(capsys, pg_server, small_copy, small_shapes):
    main_db, aux_db = pg_server.create_database(), pg_server.create_database()
    try:
        flags = ["--schema-dsn", f"main={main_db}", "--schema-dsn", f"aux={aux_db}", "--migrations", str(small_copy)]
        code, _, err = cli(capsys, "upgrade", "--to", RELEASE, "--yes", "--no-progress", *flags)
        assert code == 0, err
        (small_copy / "expected").mkdir()
        (small_copy / "expected" / f"{RELEASE}.json").write_text(render(small_shapes))
        for dsn in (main_db, aux_db):
            drop_bookkeeping(dsn)
        execute(aux_db, "ALTER TABLE aux_jobs DROP COLUMN state")
        code, out, err = cli(capsys, "adopt", "--release", RELEASE, "--yes", *flags)
        assert code == 5 and "DIFFERS" in out and out.count("matches release") == 1, out
        assert no_bookkeeping(main_db) and no_bookkeeping(aux_db)
        execute(aux_db, "ALTER TABLE aux_jobs ADD COLUMN state text NOT NULL DEFAULT 'queued'")
        code, out, err = cli(capsys, "adopt", "--release", RELEASE, "--yes", *flags)
        assert code == 0, out + err
        assert {s for s, *_ in logs(main_db)} == {"main"} and {s for s, *_ in logs(aux_db)} == {"aux"}
    finally:
        pg_server.drop_database(main_db)
        pg_server.drop_database(aux_db)


def add_email_backfill(root) -> None:
    """Out-of-band 1 fills users.email; deprecated in 1.1.0, so 1.1.0 relies on it being complete."""
    oob = root / "out-of-band" / "1_backfill_emails"
    oob.mkdir(parents=True)
    (oob / "metadata.yaml").write_text("description: Fill missing e-mails.\nschema: main\nintroduced: 1.0.0\n"
                                       "deprecated: 1.1.0\nnonDestructive: true\nbatchSize: 10\n")
    (oob / "progress.sql").write_text(
        "SELECT CASE WHEN count(*) = 0 THEN 1 ELSE count(email)::float8 / count(*) END FROM users;\n")
    (oob / "up.sql").write_text("UPDATE users SET email = username || '@example.com' WHERE id = ANY (ARRAY("
                                "SELECT id FROM users WHERE email IS NULL ORDER BY id LIMIT %(batch_size)s));\n")


def test_out_of_band_the_release_relies_on_is_recorded_complete_only_when_measured(capsys, database, small_copy,
                                                                                   small_shapes):
    add_email_backfill(small_copy)
    install_unrecorded(capsys, database, small_copy, small_shapes)
    execute(database, "UPDATE users SET email = NULL WHERE id <= 5")
    code, out, err = adopt_cli(capsys, database, small_copy, "--yes")
    assert code == 5, err
    assert "out-of-band 1 (Fill missing e-mails.) must be complete at this release (deprecated in 1.1.0), " \
           "but progress.sql says 90.0%" in out and "refused: 1 out-of-band migration(s) not complete" in out
    assert no_bookkeeping(database)
    execute(database, "UPDATE users SET email = 'x@example.com' WHERE email IS NULL")
    assert adopt_cli(capsys, database, small_copy, "--yes")[0] == 0
    assert query(database, "SELECT id, progress, finished_at IS NOT NULL FROM out_of_band_migrations") == [(1, 1.0, True)]


def test_replays_the_release_when_no_expected_shape_is_shipped(capsys, pg_server, unrecorded, small_copy):
    (small_copy / "expected" / f"{RELEASE}.json").unlink()
    code, out, err = adopt_cli(capsys, unrecorded, small_copy, "--dry-run", "--admin-dsn", pg_server.admin_dsn)
    assert code == 0, err
    assert "computing the expected shape of 1.1.0: replaying its migrations into scratch databases on --admin-dsn" in err
    assert "matches release 1.1.0" in out


# -- the bundled product: a dump restored without the bookkeeping, adopted, upgraded to the newest --


def _client(name: str, dsn: str, *flags: str) -> None:
    with psycopg.connect(dsn) as conn:
        major = conn.info.server_version // 10000
    argv, env = dump_command(find_tool(name, major), dsn, *flags)
    subprocess.run(argv, env=env, check=True, capture_output=True)


def test_restored_dump_of_the_demo_is_adopted_and_upgraded_to_the_newest(capsys, pg_server, tmp_path):
    defs = bundled()
    newest = defs.releases.latest().version
    source, restored = pg_server.create_database(), pg_server.create_database()
    try:
        code, _, err = cli(capsys, "upgrade", "--to", "3.30.1", "--yes", "--no-progress", "--dsn", source)
        assert code == 0, err
        dump = tmp_path / "demo.dump"
        # pg_dump -T leaves the excluded tables' sequences behind: they must not count as drift
        _client("pg_dump", source, "--format=custom", f"--file={dump}", *(f"--exclude-table={t}" for t in BOOKKEEPING))
        _client("pg_restore", restored, str(dump))
        assert query(restored, "SELECT to_regclass('migration_logs_id_seq') IS NOT NULL") == [(True,)]

        execute(restored, "ALTER TABLE repo DROP COLUMN stars")
        code, out, _ = cli(capsys, "adopt", "--release", "3.30.1", "--yes", "--dsn", restored)
        assert code == 5 and "column repo.stars: missing" in out and "ALTER TABLE public.repo ADD COLUMN stars" in out
        assert "out-of-band 1 (" in out and "must be complete" in out  # its progress.sql cannot run either
        assert no_bookkeeping(restored)
        execute(restored, "ALTER TABLE repo ADD COLUMN stars integer DEFAULT 0 NOT NULL",
                "COMMENT ON COLUMN repo.stars IS 'Stargazer count, copied from metadata by out-of-band migration 1 "
                "(backfill_repo_stars).'")

        code, out, err = cli(capsys, "adopt", "--release", "3.30.1", "--yes", "--confirmed-by", "bob", "--dsn", restored)
        assert code == 0, out + err
        assert query(restored, "SELECT count(*), bool_and(backfilled AND manual AND confirmed_by = 'bob') "
                               "FROM migration_logs") == [(sum(len(defs.required(defs.release("3.30.1"), s))
                                                               for s in defs.schemas), True)]
        code, _, err = cli(capsys, "upgrade", "--to", newest, "--yes", "--no-progress", "--dsn", restored)
        assert code == 0, err
        code, data = drift_json(capsys, restored)
        assert code == 0 and data["databases"][0]["differences"] == [], data
        assert data["databases"][0]["version"] == newest
    finally:
        pg_server.drop_database(source)
        pg_server.drop_database(restored)
