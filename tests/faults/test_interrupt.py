"""Ctrl-C at any instant of `pgferry upgrade`: exit 130, one line saying what actually happened,
never a traceback (docs/design.md §11). The process is started as a user starts it and sent SIGINT while
it imports, while it plans, and while a migration runs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from pgferry.engine.connection import with_database
from pgferry.engine.definitions.catalog import load
from pgferry.engine.events import Collector, RunInterrupted, StatementStarted
from pgferry.tui.interrupt import Activity
from tests.broken import U12, append
from tests.support import ROOT, applied_ids, chain, execute, migrate, query, up_to, wait_for

SLEEP = "SELECT pg_sleep(60);\n"  # a migration that is still running when the interrupt comes
SLEEPING = "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%%' AND datname = current_database()"
U11 = "main/11_users_bio/up.sql"
GATE = 4711  # an advisory lock the test holds to keep the server in main 11


def start_upgrade(migrations, dsn: str, *more: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "pgferry", "upgrade", "--to", "1.1.0", "--yes", "--no-progress",
                             "--dsn", dsn, "--migrations", str(migrations), *more],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def wait_until_pgferry_runs(proc: subprocess.Popen) -> None:
    """Until the process loads its first compiled library from site-packages (psycopg's, while
    tui.cli imports): pgferry's own code has begun. Earlier, the interpreter is still starting (site.py) and
    Ctrl-C is Python's own "Fatal Python error: init_import_site", before any line of pgferry runs."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        with open(f"/proc/{proc.pid}/maps") as maps:
            if any(".so" in line and "site-packages" in line for line in maps):
                return
        time.sleep(0.002)


def interrupt(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def interrupted_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("interrupted")]
    assert len(lines) == 1, err
    return lines[0]


def test_ctrl_c_at_any_instant_exits_130_with_one_line(small_copy, database):
    append(U12, SLEEP)(small_copy)
    for delay in (0.0, 0.1, 0.25, 0.6):  # imports (0.3 s to over a second), then loading and planning
        proc = start_upgrade(small_copy, database)
        wait_until_pgferry_runs(proc)
        time.sleep(delay)
        code, err = interrupt(proc)
        assert code == 130, (delay, err)
        interrupted_line(err)
    # with the upgrade in main 12, after the migrations before it committed (once the session of an
    # earlier run that got that far is gone: the server notices a closed client within a second)
    sleeping = "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%%' AND backend_start > %s"
    while query(database, sleeping, ["-infinity"]):
        time.sleep(0.05)
    since = query(database, "SELECT now()")[0][0]
    proc = start_upgrade(small_copy, database)
    deadline = time.monotonic() + 60
    while not query(database, sleeping, [since]):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    code, err = interrupt(proc)
    assert code == 130, err
    line = interrupted_line(err)
    # this run's migrations before 12 (earlier runs may have applied some), committed whether or not
    # this process had read their COMMIT's answer when the interrupt came
    assert line == main_12_rolled_back(committed_since(database, since)), err
    assert 12 not in applied_ids(database, "main") and 11 in applied_ids(database, "main")
    assert query(database, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'slug'") == [(0,)]


def committed_since(dsn: str, since) -> int:
    """Migrations run (not backfilled by a squash) and committed since `since`, in every schema."""
    return query(dsn, "SELECT count(*) FROM migration_logs WHERE success AND NOT backfilled AND finished_at > %s",
                 [since])[0][0]


def main_12_rolled_back(kept: int) -> str:
    kept_part = f"; the {kept} migration(s) finished before it are kept" if kept else ""
    return (f"interrupted: main 12 orgs slug (right of the diamond) had not committed and was rolled back"
            f"{kept_part}; run the command again to continue")


def test_ctrl_c_while_the_terminal_lags_the_server_names_what_the_database_recorded(small_copy, database):
    """Pipelined, the server runs main 12 as soon as 11 commits, while this process may still be
    handling 11's results (a CPU-starved terminal). The process is frozen while the server is still
    in 11 (held on a lock the test owns) and interrupted once the server sleeps in 12: its events
    still have 11 in flight, but 11 committed, and the line says what the database recorded."""
    append(U11, f"SELECT pg_advisory_xact_lock({GATE});\n")(small_copy)
    append(U12, SLEEP)(small_copy)
    with psycopg.connect(database, autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", [GATE])
        proc = start_upgrade(small_copy, database, "--lock-timeout", "60")
        wait_for("main 11 waiting at the gate", lambda: proc.poll() is not None or query(
            database, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND NOT granted", [GATE]))
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGSTOP)
        gate.execute("SELECT pg_advisory_unlock(%s)", [GATE])
    wait_for("main 12 sleeping", lambda: query(database, SLEEPING))
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert interrupted_line(err) == main_12_rolled_back(committed_since(database, "-infinity")), err
    assert not [line for line in err.splitlines() if "✓" in line and "main 11" in line], err  # it had lagged
    assert applied_ids(database, "main") >= {11} and 12 not in applied_ids(database, "main")
    assert not query(database, SLEEPING)  # the session was ended, not left to sleep out its minute


def test_ctrl_c_when_the_database_cannot_say_whether_the_commit_landed_says_so(small_copy, database):
    """In process, the event sink lagging on purpose: Ctrl-C comes while aux 4's COMMIT is on the
    server unanswered, and the database refuses new connections by then. The line does not guess."""
    chain(small_copy, "CREATE TABLE lag_a (id int);\n", "CREATE TABLE lag_b (id int);\n" + SLEEP)
    g = load(small_copy).schemas["aux"]
    admin = with_database(database, "postgres")
    name = psycopg.conninfo.conninfo_to_dict(database)["dbname"]
    activity, seen = Activity(), Collector()

    def lagging(e):
        activity(e)
        seen(e)
        if isinstance(e, StatementStarted) and e.migration_id == 4:
            wait_for("aux 5 sleeping", lambda: query(database, SLEEPING))
            execute(admin, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            migrate(database, g, up_to(g, g.leaves()), on_event=lagging)
    finally:
        execute(admin, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    assert seen.of(RunInterrupted) == [RunInterrupted("aux", unknown=((4, "step4", True),))]
    assert activity.message() == ("interrupted: whether aux 4 step4 committed is unknown (its COMMIT had been sent and "
                                  "the database could not be asked); `pgferry status` tells; the 3 migration(s) "
                                  "finished before it are kept; run the command again to continue")
