"""The bookkeeping read of several schemas at once (`MigrationLog.states`): what `state` reads of
each, in one query; a missing table told by the error outside a transaction, asked about inside one."""
from __future__ import annotations

import psycopg

from pgferry.engine.bookkeeping.bookkeeping import MigrationLog
from tests.support import SMALL, cli


def test_states_read_at_once_are_each_schemas_state(database, capsys):
    assert cli(capsys, "upto", "--schema", "main", "--target", "13", "--dsn", database, "--migrations", str(SMALL),
               "--no-progress")[0] == 0
    with psycopg.connect(database, autocommit=True) as conn:
        log = MigrationLog(conn)
        conn.execute("INSERT INTO migration_logs (schema, version, up, success, error_message) "
                     "VALUES ('main', 14, true, false, 'boom')")
        at_once = log.states(["main", "aux"])
        assert at_once == {s: log.state(s) for s in ("main", "aux")}
        assert at_once["main"].applied and 14 in at_once["main"].failed and not at_once["aux"].applied


def test_no_table_is_no_state_and_a_callers_transaction_survives(database):
    with psycopg.connect(database) as conn:
        log = MigrationLog(conn, "nowhere")
        conn.execute("CREATE TABLE kept (x int)")  # opens the caller's transaction
        assert [s.tables_exist for s in log.states(["main", "aux"]).values()] == [False, False]
        conn.commit()  # nothing failed inside it
    with psycopg.connect(database, autocommit=True) as conn:
        assert not MigrationLog(conn, "nowhere").states(["main"])["main"].tables_exist
        assert conn.execute("SELECT to_regclass('kept') IS NOT NULL").fetchone() == (True,)
