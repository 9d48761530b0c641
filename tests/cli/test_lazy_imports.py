"""The commands that probes and init containers run many times a day (`check --release`, `status`,
`up` with nothing pending) import only what they use: with the definitions cached, no SQL or YAML
parser, no terminal UI, and no event types where nothing runs (issue 19). Checked on which modules
a fresh interpreter holds after the command, never on a time."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import ROOT, SMALL, cli

M = ["--migrations", str(SMALL)]
GROUPS = ("status", "steps", "release", "oob", "preflight", "calibrate", "drift", "adopt", "privileged", "check",
          "recover", "report", "restore", "server", "fleet", "demo", "app")
# The parsers (pglast, PyYAML) and what loads them; the Textual app and rich; the events and the live
# display; the runner, the planner and the privileged steps, which a run with nothing to do never
# starts; the checks before a move between releases (drift, preflight, privileged steps, the repair
# modules); the out-of-band runner and rows; every command group's module (each module named here,
# or any module inside it, counts).
WATCHED = ("pglast", "yaml", "textual", "rich", "pgferry.engine.events", "pgferry.engine.definitions.pgparse",
           "pgferry.tui.render", "pgferry.engine.upgrade.gate", "pgferry.engine.run.runner", "pgferry.engine.plan",
           "pgferry.engine.privileges", "pgferry.engine.repair", "pgferry.engine.run.background",
           "pgferry.engine.run.oobstate", *(f"pgferry.tui.cli.{g}" for g in GROUPS))
# What each command may import of them, on a database with nothing pending and cached definitions:
# its own command group, and for status the out-of-band rows it shows.
ALLOWED = {
    "check": {"pgferry.tui.cli.check"},
    "status": {"pgferry.tui.cli.status", "pgferry.engine.run.oobstate", "pgferry.engine.run.background"},
    "up": {"pgferry.tui.cli.steps"},
}
ARGS = {"check": ["--release", "1.2.0"], "status": [], "up": ["--no-progress"]}

CHILD = """
import json, sys
from pgferry.tui.cli import main
code = main(sys.argv[1:])
print(json.dumps([code, sorted(w for w in %r if any(m == w or m.startswith(w + ".") for m in sys.modules))]))
""" % (WATCHED,)


@pytest.fixture(scope="module")
def applied(pg_server):
    """A database with the small product applied; the definitions cache filled by that run."""
    dsn = pg_server.create_database()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PGFERRY_DSN", dsn)
        from pgferry.tui.cli import main

        assert main(["up", "--no-progress", *M]) == 0
    yield dsn
    pg_server.drop_database(dsn)


@pytest.mark.parametrize("command", sorted(ALLOWED))
def test_a_no_op_command_imports_no_parser_and_no_ui(applied, command):
    argv = [command, *ARGS[command], "--dsn", applied, *M]
    run = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, cwd=ROOT, timeout=60)
    code, imported = json.loads(run.stdout.strip().splitlines()[-1])
    assert code == 0, run.stderr
    assert set(imported) <= ALLOWED[command], f"{command} imported {sorted(set(imported) - ALLOWED[command])}"


def test_validate_still_parses_and_lints_every_file(capsys, small_copy):
    """The parsers are imported where files are read: an unparsable up.sql is still found (exit 2)."""
    broken = next(small_copy.glob("main/*/up.sql"))
    broken.write_text("CREATE TABLE (;\n")
    rc, _, err = cli(capsys, "validate", "--migrations", str(small_copy))
    assert rc == 2 and "unparsable SQL" in err, err


def test_a_run_printing_plain_lines_loads_no_rich(pg_server):
    """`up --no-progress` with work to do (a log, CI, a pipe) prints plain lines: the live display and
    rich are loaded only when a terminal shows them (tui/live.py)."""
    dsn = pg_server.create_database()
    try:
        argv = ["up", "--no-progress", "--dsn", dsn, *M]
        run = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, cwd=ROOT, timeout=60)
        code, imported = json.loads(run.stdout.strip().splitlines()[-1])
        assert code == 0 and "applying" in run.stderr, run.stderr
        assert "rich" not in imported and "textual" not in imported, imported
    finally:
        pg_server.drop_database(dsn)
