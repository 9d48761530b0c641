"""`pgferry restore` refuses what it must not do (issue 15 §5): a backup file changed since the run
wrote it, and restoring while another migrator holds the lock. Each refusal changes nothing."""
from __future__ import annotations

import psycopg

from pgferry.engine.locks import lock_key
from tests.support import applied_ids, cli, failed_upgrade_with_backup, query


def test_restore_refuses_a_tampered_backup(database, small_copy, tmp_path, capsys):
    run_id = failed_upgrade_with_backup(database, small_copy, tmp_path / "b")
    [record] = query(database, "SELECT backups FROM upgrade_runs WHERE id = %s", [run_id])[0][0]
    data = bytearray(open(record["path"], "rb").read())
    data[-1] ^= 0xFF  # same size, one byte different
    open(record["path"], "wb").write(bytes(data))
    code, _, err = cli(capsys, "restore", "--run", str(run_id), "--yes", "--dsn", database, "--migrations", str(small_copy))
    assert code == 1
    assert record["path"] in err and "is not the backup the run took" in err and record["sha256"] in err
    assert {11, 12} <= applied_ids(database, "main")  # nothing restored


def test_restore_refuses_while_another_migrator_holds_the_lock(database, small_copy, tmp_path, capsys):
    run_id = failed_upgrade_with_backup(database, small_copy, tmp_path / "b")
    # Every lock a migrator works under (preflight.migrator_locks): here an upgrade's, then one
    # schema's (a plain `pgferry up`).
    for name in ("upgrade", "aux"):
        with psycopg.connect(database, autocommit=True, application_name="other migrator") as other:
            other.execute("SELECT pg_advisory_lock(%s)", [lock_key("public", name)])
            code, _, err = cli(capsys, "restore", "--run", str(run_id), "--yes", "--dsn", database,
                               "--migrations", str(small_copy))
        assert code == 1, err
        assert f"another migrator holds the {name} lock" in err and "other migrator" in err
        assert {11, 12} <= applied_ids(database, "main")  # nothing restored


def test_backup_and_restore_over_a_password_never_show_it(fault_server, small_copy, tmp_path, capsys):
    from tests.faults.pg import SUPERUSER_PASSWORD

    name = fault_server.create_database("bk")
    dsn = fault_server.dsn(name)  # scram over TCP: pg_dump, pg_restore and psql need the password
    try:
        run_id = failed_upgrade_with_backup(dsn, small_copy, tmp_path / "b")
        shown = capsys.readouterr()
        [record] = query(dsn, "SELECT backups FROM upgrade_runs WHERE id = %s", [run_id])[0][0]
        code, out, err = cli(capsys, "restore", "--run", str(run_id), "--yes", "--json", "--dsn", dsn,
                             "--migrations", str(small_copy))
        assert code == 0, err
        assert not {11, 12} & applied_ids(dsn, "main")
        assert SUPERUSER_PASSWORD not in shown.out + shown.err + out + err + str(record)
    finally:
        fault_server.drop_database(name)


def test_restore_refuses_a_dsn_that_reaches_another_database(database, pg_server, small_copy, tmp_path, capsys):
    aux_db, other = pg_server.create_database(), pg_server.create_database()
    try:
        run_id = failed_upgrade_with_backup(database, small_copy, tmp_path / "b", "--schema-dsn", f"aux={aux_db}")
        code, _, err = cli(capsys, "restore", "--run", str(run_id), "--yes", "--dsn", database,
                           "--schema-dsn", f"aux={other}", "--migrations", str(small_copy))
        assert code == 2 and "now reach" in err and "nothing restored" in err
        assert {11, 12} <= applied_ids(database, "main")  # not even the database that matched
        assert query(other, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace") == [(0,)]
    finally:
        pg_server.drop_database(aux_db)
        pg_server.drop_database(other)
