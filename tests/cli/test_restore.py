"""`upgrade --backup DIR` and `pgferry restore --run N` (issue 15 §5): backup → failed upgrade →
restore → the database equals the dump."""
from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

from pgferry.engine.upgrade.report import build_report, to_markdown
from tests.support import SMALL, applied_ids, cli, database_image, failed_upgrade_with_backup, query


def test_backup_failed_upgrade_restore_gives_back_the_dump(database, small_copy, tmp_path, capsys, monkeypatch):
    from pgferry.engine.upgrade import runbackups as backup_module

    backups = tmp_path / "backups" / "nested"  # folders it makes are owner-only
    image = {}
    real_backup = backup_module.backup_before_changes

    def imaged_then_backed_up(*args, **kwargs):  # the database as `upgrade --backup` dumps it
        image["before"] = database_image(database)
        return real_backup(*args, **kwargs)

    monkeypatch.setattr(backup_module, "backup_before_changes", imaged_then_backed_up)
    run_id = failed_upgrade_with_backup(database, small_copy, backups)

    # Recorded with the run: one database, the file's size and sha256, owner-only.
    status, recorded = query(database, "SELECT status, backups FROM upgrade_runs WHERE id = %s", [run_id])[0]
    assert status == "failed"
    [record] = recorded
    dump = Path(record["path"])
    assert dump.parent == backups and stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert stat.S_IMODE(backups.stat().st_mode) == stat.S_IMODE(backups.parent.stat().st_mode) == 0o700
    assert record["bytes"] == dump.stat().st_size > 0
    assert record["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
    assert record["schemas"] == ["main", "aux"] and record["database"] == query(database, "SELECT current_database()")[0][0]
    assert {11, 12} <= applied_ids(database, "main")  # the failed run changed the database
    assert database_image(database) != image["before"]

    # The report lists the backups, in JSON and Markdown.
    report = build_report({"main": database, "aux": database}, run_id=run_id)
    assert [(b["run_id"], b["path"], b["sha256"]) for b in report.as_dict()["backups"]] == [
        (run_id, record["path"], record["sha256"])]
    assert f"| {run_id} | {record['database']} | {record['path']} |" in to_markdown(report)

    code, out, err = cli(capsys, "restore", "--run", str(run_id), "--yes", "--json", "--dsn", database,
                         "--migrations", str(small_copy))
    assert code == 0, err
    result = json.loads(out)
    assert result["run_id"] == run_id and [r["database"] for r in result["restored"]] == [record["database"]]
    assert result["confirmed"].startswith("--yes, by ")
    # Schema, every row of every table (pgferry's bookkeeping included) and every sequence: the dump.
    assert database_image(database) == image["before"]
    assert not {11, 12} & applied_ids(database, "main")
    assert query(database, "SELECT count(*) FROM upgrade_runs WHERE id = %s", [run_id])[0][0] == 0


def test_restore_needs_a_run_with_backups_and_a_confirmation(database, small_copy, tmp_path, capsys):
    run_id = failed_upgrade_with_backup(database, small_copy, tmp_path / "b")
    args = ["--dsn", database, "--migrations", str(small_copy)]
    code, _, err = cli(capsys, "restore", "--run", str(run_id), *args)  # no terminal, no --yes
    assert code == 2 and "needs confirmation" in err
    assert {11, 12} <= applied_ids(database, "main")  # nothing restored
    code, _, err = cli(capsys, "restore", "--run", str(run_id - 1), "--yes", *args)  # the 1.0.0 install: no backup
    assert code == 2 and f"upgrade run {run_id - 1} took no backup" in err and "--backup DIR" in err


def test_upgrade_without_backup_records_none(database, capsys):
    code, _, err = cli(capsys, "upgrade", "--to", "1.0.0", "--yes", "--no-progress", "--dsn", database,
                       "--migrations", str(SMALL))
    assert code == 0, err
    assert query(database, "SELECT backups FROM upgrade_runs") == [(None,)]


def test_an_older_upgrade_runs_table_gains_the_backups_column(database, tmp_path, capsys):
    args = ["--dsn", database, "--migrations", str(SMALL)]
    assert cli(capsys, "upgrade", "--to", "1.0.0", "--yes", "--no-progress", *args)[0] == 0
    query(database, "ALTER TABLE upgrade_runs DROP COLUMN backups")  # as an older pgferry made it
    code, out, _ = cli(capsys, "report", "--json", *args)
    assert code == 0 and json.loads(out)["backups"] == []  # read as none, the table not altered by a read
    assert query(database, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'upgrade_runs'::regclass "
                           "AND attname = 'backups'") == [(0,)]
    code, _, err = cli(capsys, "upgrade", "--to", "1.1.0", "--yes", "--no-progress", "--backup", str(tmp_path), *args)
    assert code == 0, err
    [(recorded,)] = query(database, "SELECT backups FROM upgrade_runs ORDER BY id DESC LIMIT 1")
    assert [Path(b["path"]).parent for b in recorded] == [tmp_path] and "backed up " in err


def test_restore_of_a_run_over_two_databases(database, pg_server, small_copy, tmp_path, capsys):
    aux_db = pg_server.create_database()
    try:
        run_id = failed_upgrade_with_backup(database, small_copy, tmp_path, "--schema-dsn", f"aux={aux_db}")
        before_aux = database_image(aux_db)
        [(recorded,)] = query(database, "SELECT backups FROM upgrade_runs WHERE id = %s", [run_id])
        assert [r["schemas"] for r in recorded] == [["main"], ["aux"]]
        code, out, err = cli(capsys, "restore", "--run", str(run_id), "--yes", "--json", "--dsn", database,
                             "--schema-dsn", f"aux={aux_db}", "--migrations", str(small_copy))
        assert code == 0, err
        # The database holding upgrade_runs goes last: a restore that fails before it can run again.
        assert [r["database"] for r in json.loads(out)["restored"]] == [recorded[1]["database"], recorded[0]["database"]]
        assert not {11, 12} & applied_ids(database, "main") and database_image(aux_db) == before_aux
    finally:
        pg_server.drop_database(aux_db)


def test_upgrade_json_lists_the_backups_it_took_as_report_does(database, tmp_path, capsys):
    args = ["--dsn", database, "--migrations", str(SMALL), "--backup", str(tmp_path)]
    code, out, err = cli(capsys, "upgrade", "--to", "1.0.0", "--yes", "--json", *args)
    assert code == 0, err
    upgraded = json.loads(out)
    [backup] = upgraded["backups"]
    assert backup["run_id"] == upgraded["run_id"] and Path(backup["path"]).parent == tmp_path
    code, out, _ = cli(capsys, "report", "--json", *args[:4])
    assert code == 0 and json.loads(out)["backups"] == upgraded["backups"]
    code, out, _ = cli(capsys, "upgrade", "--to", "1.0.0", "--yes", "--json", *args)  # nothing to do: nothing dumped
    assert code == 0 and json.loads(out)["backups"] == []
