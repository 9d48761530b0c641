"""`pgferry report`: what a run did, from the database alone."""
from __future__ import annotations

import json
import stat

import psycopg

from tests.conftest import SMALL, run_cli
from tui.cli import main


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
