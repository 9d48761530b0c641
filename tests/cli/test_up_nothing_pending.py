"""`up` with nothing pending, as an init container runs it at every start: answered from one read per
database (engine/bookkeeping/pending.py) with the lines and JSON a run prints, and every check a run
makes before it would move anything still made: a read-only database, an older bookkeeping table and
a changed applied migration each still reach the migrator or the gate."""
from __future__ import annotations

import json

from tests.support import cli, query


def test_up_with_nothing_pending_says_so_as_a_run_does_and_keeps_the_runs_checks(capsys, database, small_copy):
    flags = ["--dsn", database, "--migrations", str(small_copy), "--no-progress"]
    assert cli(capsys, "up", *flags)[0] == 0
    rc, out, err = cli(capsys, "up", "--json", *flags)
    assert rc == 0, err
    assert err.splitlines() == ["main: up to date", "main: done, 0 applied, 0 reverted in 0.0s",
                                "aux: up to date", "aux: done, 0 applied, 0 reverted in 0.0s"]
    assert json.loads(out) == {"schemas": [{"name": n, "applied": [], "reverted": [], "seconds": 0.0}
                                           for n in ("main", "aux")]}

    # A table an older pgferry made, without the newest column: the migrator extends it.
    query(database, "ALTER TABLE migration_logs DROP COLUMN sql_token_checksum")
    assert cli(capsys, "up", *flags)[0] == 0
    assert query(database, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'migration_logs'::regclass "
                           "AND attname = 'sql_token_checksum' AND NOT attisdropped") == [(1,)]

    # An applied migration's file edited since it ran: refused (exit 5), as with steps to take.
    up_sql = next(small_copy.glob("main/11_*/up.sql"))
    up_sql.write_text(up_sql.read_text() + "\nSELECT 1;\n")
    rc, _, err = cli(capsys, "up", *flags)
    assert rc == 5 and "changed since they ran" in err, err
    up_sql.write_text(up_sql.read_text().removesuffix("\nSELECT 1;\n"))

    # A database that cannot be written: refused (exit 1) before anything is read as done.
    dbname = query(database, "SELECT current_database()")[0][0]
    query(database, f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = on')
    rc, _, err = cli(capsys, "up", *flags)
    assert rc == 1 and "read-only" in err, err
