"""Server faults during an upgrade: PostgreSQL restarted (fast and immediate shutdown) during a
schema migration, during a concurrent index build and during an out-of-band batch; backends
terminated (pg_terminate_backend) at random moments.

Each fault must end the run with exit 1 or 4, one `error:` line that says what happened (the
connection was lost, and why), no traceback, and a database the next run of the same command
completes without manual steps: the sample data intact, drift and recover empty, no invalid index.

The moment is made deterministic by holding the step up from outside, the way production does:
an idle transaction holding a lock the migration needs, a transaction with an old snapshot that
a concurrent index build must wait for, a slow trigger inside an out-of-band batch.
"""
from __future__ import annotations

import os
import random
import re
import signal
import threading
import time

import psycopg
import pytest

from tests.support import say, wait_for
from tests.faults.harness import no_traceback, pgferry, spawn, upgrade_args, verify_complete
from tests.faults.product import NEWEST

TARGET = "3.24.0"  # from the oldest release: schema migrations, a CIC (3.21.0), a stop for out-of-band 1
LOST = re.compile(r"^error: .*(lost the connection|connection).*"
                  r"(administrator command|closed the connection|terminat|shut ?down|restart)", re.M | re.I)


def pgferry_backends(server, dbname: str, where: str = "true") -> list[int]:
    rows = server.execute(
        f"SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name LIKE 'pgferry%%' "
        f"AND ({where.replace('%', '%%')})",
        [dbname])
    return [r[0] for r in rows]


def check_fault_reported(proc, log, what: str) -> str:
    code = proc.wait(120)
    text = log.read_text()
    assert code in (1, 4), f"{what}: exit {code}\n{text[-2000:]}"
    assert no_traceback(text), text
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, f"{what}: want one error line\n{text[-2000:]}"
    assert LOST.search(text), f"{what}: the error must say the connection was lost and why\n{errors[0]}"
    return text


def rerun_completes(product, dsn: str, to: str, *more: str) -> str:
    reference, _ = product.reference(to, *more)
    r = pgferry(*upgrade_args(dsn, to, *more))
    assert r.returncode == 0, r.stderr[-3000:]
    assert no_traceback(r.stderr)
    verdict = verify_complete(dsn, reference, to=to)
    assert verdict.ok, verdict.problems
    return r.stderr


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_restart_during_a_schema_migration(product, fault_server, tmp_path, mode):
    name, dsn = product.clone("mig")
    # An idle transaction that read `repo` holds a lock ALTER TABLE repo must wait for.
    blocker = psycopg.connect(fault_server.admin_dsn.replace("dbname=postgres", f"dbname={name}"))
    blocker.execute("SELECT count(*) FROM repo")
    log = tmp_path / "run.log"
    proc = spawn(upgrade_args(dsn, TARGET, "--lock-timeout", "5"), log)
    try:
        wait_for("pgferry's migration to wait for its lock",
                 lambda: pgferry_backends(fault_server, name, "wait_event_type = 'Lock' AND query ~* 'ALTER TABLE'"))
        fault_server.restart(mode)
    finally:
        blocker.close()
    text = check_fault_reported(proc, log, f"{mode} restart during a migration")
    assert re.search(r"during frontend migration \d+", text), text
    rerun_completes(product, dsn, TARGET)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_restart_during_a_concurrent_index_build(product, fault_server, tmp_path, mode):
    name, dsn = product.clone("cic")
    # A transaction with an old snapshot: CREATE INDEX CONCURRENTLY builds, then waits for it.
    old = psycopg.connect(fault_server.admin_dsn.replace("dbname=postgres", f"dbname={name}"))
    old.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    old.execute("SELECT count(*) FROM pg_class")
    log = tmp_path / "run.log"
    proc = spawn(upgrade_args(dsn, TARGET), log)
    try:
        index = wait_for("a concurrent index build", lambda: fault_server.execute(
            "SELECT c.relname FROM pg_stat_progress_create_index p JOIN pg_class c ON c.oid = p.index_relid "
            "WHERE p.datid = (SELECT oid FROM pg_database WHERE datname = %s) AND p.phase LIKE 'waiting for%%'",
            [name], dbname=name))[0][0]
        fault_server.restart(mode)
    finally:
        old.close()
    text = check_fault_reported(proc, log, f"{mode} restart during a CIC")
    assert f"while building index {index}" in text, text
    left = fault_server.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [index], dbname=name)
    if mode == "fast":
        assert left == [(False,)], "the interrupted build leaves an invalid index for the next run to repair"
    else:
        # with synchronous_commit off (a scratch server) the last commits may not survive a crash
        assert left in ([], [(False,)])
    out = rerun_completes(product, dsn, TARGET)
    if left:
        assert f"dropping invalid index {index}" in out and "stale attempt" in out, out


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_restart_during_an_out_of_band_batch(product, fault_server, tmp_path, mode):
    name, dsn = product.clone("oob")
    # A slow statement trigger: every out-of-band batch on repo takes seconds (a big batch).
    fault_server.execute(
        "CREATE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF current_setting('application_name') LIKE 'pgferry%oob%' THEN PERFORM pg_sleep(30); END IF; "
        "RETURN NULL; END $$; "
        "CREATE TRIGGER slow_batch AFTER UPDATE ON repo FOR EACH STATEMENT EXECUTE FUNCTION slow_batch()",
        dbname=name)
    log = tmp_path / "run.log"
    # the drift check would (rightly) refuse the trigger: it is part of the fault, not the product
    proc = spawn(upgrade_args(dsn, TARGET, "--skip-drift-check"), log)
    wait_for("an out-of-band batch", lambda: pgferry_backends(
        fault_server, name, "application_name LIKE '%oob%' AND wait_event = 'PgSleep'"), timeout=120)
    fault_server.restart(mode)
    text = check_fault_reported(proc, log, f"{mode} restart during an out-of-band batch")
    assert "out-of-band 1" in text, text
    fault_server.execute("DROP TRIGGER slow_batch ON repo; DROP FUNCTION slow_batch()", dbname=name)
    if fault_server.execute("SELECT to_regclass('out_of_band_migrations')", dbname=name)[0][0]:
        progress = fault_server.execute("SELECT progress FROM out_of_band_migrations WHERE id = 1", dbname=name)
        assert not progress or progress[0][0] < 1
    else:
        assert mode == "immediate"  # synchronous_commit is off on this scratch server: a crash loses the last commits
    out = rerun_completes(product, dsn, TARGET)
    assert "out-of-band 1: running" in out


# CI size; PGFERRY_FAULTS=full (or PGFERRY_FAULT_TERMINATIONS=N) for more
TERMINATIONS = int(os.environ.get("PGFERRY_FAULT_TERMINATIONS", "20" if os.environ.get("PGFERRY_FAULTS") == "full" else "3"))


def test_backends_terminated_at_random_moments(request, product, fault_server, tmp_path):
    """pg_terminate_backend on every pgferry backend of the database, at a random moment of the
    oldest→newest upgrade; then the same command again until it completes."""
    seed = int(os.environ.get("PGFERRY_FAULT_SEED", "20261122"))
    rng = random.Random(f"terminate:{seed}")
    _, seconds = product.reference(NEWEST)
    say(request, f"\npg_terminate_backend trials: seed {seed}, {TERMINATIONS} trials")
    hits = 0
    for trial in range(TERMINATIONS):
        name, dsn = product.clone("term")
        log = tmp_path / f"term{trial}.log"
        proc = spawn(upgrade_args(dsn, NEWEST), log)
        # The moment is random within the run, counted from its first session: a sleep counted from
        # the spawn fell before any session existed whenever start-up was slow (a loaded machine).
        wait_for("pgferry's first session", lambda: pgferry_backends(fault_server, name) or proc.poll() is not None,
                 timeout=120)
        time.sleep(rng.uniform(0.0, seconds / 2))
        killed = fault_server.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND "
            "application_name LIKE 'pgferry%%'", [name])
        code = proc.wait(300)
        text = log.read_text()
        assert no_traceback(text), text
        if code == 0:
            assert not killed or "succeeded" in text
            rerun_completes(product, dsn, NEWEST)
            continue
        hits += 1
        assert code in (1, 4), f"trial {trial}: exit {code}\n{text[-2000:]}"
        errors = [line for line in text.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and LOST.search(text), f"trial {trial}:\n{text[-2000:]}"
        say(request, f"  trial {trial}: {errors[0][:150]}")
        rerun_completes(product, dsn, NEWEST)
        fault_server.drop_database(name)
    assert hits >= TERMINATIONS // 2
