"""A granted privileged step recorded at its turn: the session dies between its success row and the
grant's use. Both are one transaction, so neither is left behind and the next run records it once."""
from __future__ import annotations

from tests.faults.harness import no_traceback, pgferry, upgrade_args, verify_complete
from tests.support import query

TARGET = "3.22.0"  # brings frontend 1605500017, CREATE EXTENSION pg_trgm
PG_TRGM = 1605500017


def test_session_killed_while_recording_a_granted_step(product, fault_server):
    name, dsn = product.clone("grant")
    bundle = pgferry("privileged", "--to", TARGET, "--all", "--dsn", dsn)
    assert bundle.returncode == 0, bundle.stderr
    fault_server.execute(bundle.stdout, dbname=name)  # the DBA, ahead of the run
    r = pgferry("privileged", "verify", "--to", TARGET, "--confirmed-by", "dba", "--dsn", dsn)
    assert r.returncode == 0, r.stdout + r.stderr
    # The migrator's own session ends the moment it marks the grant used: after the success row,
    # before the COMMIT (a crash at that instant).
    fault_server.execute(
        "CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$; "
        "CREATE TRIGGER die BEFORE UPDATE ON privileged_grants FOR EACH ROW EXECUTE FUNCTION die()", dbname=name)
    # the drift check would (rightly) refuse the trigger: it is part of the fault, not the product
    r = pgferry(*upgrade_args(dsn, TARGET, "--skip-drift-check"))
    assert r.returncode == 1 and "lost the connection" in r.stderr and no_traceback(r.stderr), r.stderr
    assert query(dsn, "SELECT count(*) FROM migration_logs WHERE schema = 'frontend' AND version = %s",
                 [PG_TRGM]) == [(0,)]
    assert query(dsn, "SELECT applied_at FROM privileged_grants WHERE version = %s", [PG_TRGM]) == [(None,)]

    fault_server.execute("DROP TRIGGER die ON privileged_grants; DROP FUNCTION die()", dbname=name)
    r = pgferry(*upgrade_args(dsn, TARGET))
    assert r.returncode == 0, r.stderr
    assert query(dsn, "SELECT manual, confirmed_by FROM migration_logs WHERE schema = 'frontend' AND version = %s "
                      "AND success", [PG_TRGM]) == [(True, "dba (verified in the catalog)")]
    assert query(dsn, "SELECT count(*) FROM privileged_grants g JOIN migration_logs l ON l.id = g.applied_log_id "
                      "WHERE g.version = %s", [PG_TRGM]) == [(1,)]
    verdict = verify_complete(dsn, None, to=TARGET)
    assert verdict.ok, verdict.problems
