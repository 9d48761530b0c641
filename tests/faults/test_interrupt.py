"""Ctrl-C at any instant of `pgferry upgrade`: exit 130, one line saying what actually happened,
never a traceback (docs/design.md §11). The process is started as a user starts it and sent SIGINT while
it imports, while it plans, and while a migration runs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.broken import U12, append
from tests.support import ROOT, applied_ids, query

SLEEP = "SELECT pg_sleep(60);\n"  # a migration that is still running when the interrupt comes


def start_upgrade(migrations, dsn: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "pgferry", "upgrade", "--to", "1.1.0", "--yes", "--no-progress",
                             "--dsn", dsn, "--migrations", str(migrations)],
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
    finished = err.count("✓")  # this run's migrations before 12 (earlier runs may have applied some)
    kept = f"; the {finished} migration(s) finished before it are kept" if finished else ""
    assert line == (f"interrupted: main 12 orgs slug (right of the diamond) had not committed and was rolled back"
                    f"{kept}; run the command again to continue"), err
    assert 12 not in applied_ids(database, "main") and 11 in applied_ids(database, "main")
    assert query(database, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'slug'") == [(0,)]
