"""`pgferry report`: what a run did, from the database alone."""
from __future__ import annotations

import json
import stat

import psycopg
import pytest

from pgferry.engine.definitions.catalog import bundled_migrations_dir, load
from pgferry.engine.upgrade.report import build_report, to_markdown
from pgferry.engine.bookkeeping.runs import RunStore
from pgferry.engine.errors import RunStopped
from pgferry.engine.events import StopReached
from pgferry.engine.upgrade.upgrade import Connections, Upgrade
from tests.support import SMALL, run_cli
from pgferry.engine.upgrade.report import migration_names
from pgferry.tui.cli import main


def test_report_lists_steps_and_manual_steps(database, tmp_path, capsys):
    assert main(["upgrade", "--to", "1.1.0", "--yes", "--no-progress", "--dsn", database, "--migrations", str(SMALL)]) == 0
    # A DBA ran the privileged step 14 by hand and pgferry recorded it (as `privileged verify` does).
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.execute("INSERT INTO migration_logs (schema, version, up, success, finished_at, manual, confirmed_by) "
                     "VALUES ('main', 14, true, true, now(), true, 'dba@example (verified in the catalog)')")
    assert main(["upgrade", "--to", "1.2.0", "--yes", "--no-progress", "--dsn", database, "--migrations", str(SMALL)]) == 0
    capsys.readouterr()
    assert main(["report", "--json", "--dsn", database, "--migrations", str(SMALL)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "succeeded" and report["from"] == "1.1.0" and report["to"] == "1.2.0"
    assert [(s["schema"], s["id"]) for s in report["steps"]] == [("main", 15), ("main", 16), ("aux", 3)]
    assert [(s["schema"], s["id"], s["confirmed_by"]) for s in report["manual"]] == [
        ("main", 14, "dba@example (verified in the catalog)")]
    out = tmp_path / "report.md"
    out.write_text("old")
    out.chmod(0o644)
    r = run_cli("report", "--dsn", database, "--migrations", str(SMALL), "--out", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # made owner-only even though it existed
    assert "| main | 14 | Install pg_trgm" in text or "| main | 14 |" in text
    assert "status: **succeeded**" in text and "## Slowest steps (of 3)" in text


def test_report_without_runs_says_so(database):
    r = run_cli("report", "--dsn", database, "--migrations", str(SMALL))
    assert r.returncode == 2 and "no upgrade run recorded yet" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def bundled():
    return load(bundled_migrations_dir())


@pytest.fixture
def per_schema(pg_server, bundled):
    """One database per schema, as the demo and real deployments have."""
    dsns = {name: pg_server.create_database() for name in bundled.schemas}
    yield dsns
    for dsn in dsns.values():
        pg_server.drop_database(dsn)


def test_report_of_a_resumed_move_covers_it_whole(per_schema, bundled):
    """3.20.0 → 4.2.0 paused at its second stop, then continued: one report for the whole move."""
    conns = Connections(per_schema)
    database = conns.primary
    Upgrade(bundled, conns).run("3.20.0")

    def pause_at_the_second_stop(event) -> None:
        if isinstance(event, StopReached) and event.release == "3.30.1":
            with psycopg.connect(database, autocommit=True) as conn:
                run_id = conn.execute("SELECT max(id) FROM upgrade_runs").fetchone()[0]
                assert RunStore(conn).request(run_id, "pause", "dba")

    with pytest.raises(RunStopped):
        Upgrade(bundled, conns, on_event=pause_at_the_second_stop).run("4.2.0")
    Upgrade(bundled, conns).run("4.2.0")

    report = build_report(conns.dsns, names=migration_names(bundled), defs=bundled)
    assert [r.id for r in report.runs] == [2, 3] and report.as_dict()["from"] == "3.20.0"
    text = to_markdown(report)
    assert text.startswith("# pgferry report: run 3 (continuing 2), upgrade 3.20.0 → 4.2.0\n")
    continued = [line for line in text.splitlines() if "continued by run 3" in line]
    assert len(continued) == 1 and text.count("continued by run") == 1, continued
    assert continued[0].startswith("- run 2 stopped: upgrade paused at step ") and "as dba asked" in continued[0]
    # Out-of-band migrations in the order they ran: 1 and 2 at the stop 3.23.0, then 3 and 4 at 3.30.1.
    planned = [s["id"] for s in report.runs[0].plan["steps"] if s["kind"] == "out_of_band"]
    assert [o["id"] for o in report.out_of_band] == planned
    assert planned == [1, 2, 3, 4]  # frontend's database holds 1 and 4: read database by database, 4 came second
    rows = [line.split("|")[1].strip() for line in text.split("## Out-of-band migrations")[1].splitlines()
            if line.startswith("| ") and line[2].isdigit()]
    assert rows == [str(i) for i in planned]
    with psycopg.connect(database, autocommit=True) as conn:  # the stored reason keeps a separator too
        stored = conn.execute("SELECT error FROM upgrade_runs WHERE id = 2").fetchone()[0]
    assert stored.endswith("; continued by run 3") and "; continued by run 3" not in stored[:-20]


def test_report_text_from_the_server_is_escaped(database):
    """A RAISE message with an escape sequence and a pipe: shown escaped, the table still whole."""
    assert main(["upgrade", "--to", "1.1.0", "--yes", "--no-progress", "--dsn", database, "--migrations", str(SMALL)]) == 0
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("INSERT INTO migration_logs (schema, version, up, success, finished_at, error_message, run_id) "
                     "VALUES ('main', 15, true, false, now(), %s, 1)", ["boom \x1b]52;c;aGk=\x07 | x"])
    text = to_markdown(build_report({"main": database, "aux": database}))
    assert "\x1b" not in text and "\x07" not in text
    assert "boom \\x1b]52;c;aGk=\\x07 \\| x" in text
