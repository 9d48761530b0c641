"""The command line as users and scripts see it: output, JSON, exit codes, masking."""
from __future__ import annotations

import json

import pytest

from tests.conftest import SMALL, applied_ids, query, run_cli
from tui.cli import build_parser, main

M = ["--migrations", str(SMALL)]


def cli(capsys, *args):
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_status_on_an_empty_database_is_read_only(capsys, database):
    rc, out, err = cli(capsys, "status", "--dsn", database, "--json", *M)
    assert rc == 0, err
    data = json.loads(out)
    assert set(data) >= {"schemas", "out_of_band", "version"}
    by = {s["name"]: s for s in data["schemas"]}
    assert by["main"]["applied"] == [] and by["main"]["pending"][0] == 10
    assert by["main"]["dirty"] is False and by["main"]["version"] is None
    assert set(by["main"]) >= {"name", "version", "applied", "pending", "failed", "in_progress", "dirty"}
    # status creates nothing
    assert query(database, "SELECT to_regclass('public.migration_logs')") == [(None,)]


def test_up_then_status(capsys, database):
    rc, out, err = cli(capsys, "up", "--dsn", database, "--json", *M)
    assert rc == 0, err
    result = {s["name"]: s for s in json.loads(out)["schemas"]}
    assert result["main"]["applied"] == [10, 11, 12, 13, 14, 15, 16]
    assert result["aux"]["applied"] == [1, 2, 3]
    rc, out, _ = cli(capsys, "status", "--dsn", database, "--json", *M)
    data = json.loads(out)
    assert data["version"] == "1.2.0"
    assert all(s["pending"] == [] and s["version"] == "1.2.0" for s in data["schemas"])
    rc, out, _ = cli(capsys, "status", "--dsn", database, *M)
    assert rc == 0 and "1.2.0" in out and "up to date" in out


def test_upto_and_downto(capsys, database):
    rc, _, err = cli(capsys, "upto", "--dsn", database, "--schema", "main", "--target", "13", *M)
    assert rc == 0, err
    assert applied_ids(database, "main") == {1, 2, 3, 10, 11, 12, 13}
    rc, out, _ = cli(capsys, "status", "--dsn", database, "--json", "--schema", "main", *M)
    assert json.loads(out)["schemas"][0]["version"] == "1.1.0"
    # downto asks for confirmation; a script without --yes is refused and nothing changes
    rc, _, err = cli(capsys, "downto", "--dsn", database, "--schema", "main", "--target", "11", *M)
    assert rc == 2 and "--yes" in err
    assert applied_ids(database, "main") == {1, 2, 3, 10, 11, 12, 13}
    rc, _, err = cli(capsys, "downto", "--dsn", database, "--schema", "main", "--target", "11", "--yes", *M)
    assert rc == 0, err
    assert applied_ids(database, "main") == {1, 2, 3, 10, 11, 12}
    assert query(database, "SELECT to_regclass('user_profiles')") == [(None,)]


def test_dry_run_changes_nothing(capsys, database):
    rc, out, err = cli(capsys, "up", "--dsn", database, "--dry-run", *M)
    assert rc == 0, err
    assert "up   main 10 squashed base schema" in out and "records 1, 2, 3 as applied" in out
    assert "[privileged]" in out and "[concurrent index]" in out
    assert query(database, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_unknown_target_and_schema_are_usage_errors(capsys, database):
    rc, _, err = cli(capsys, "upto", "--dsn", database, "--schema", "main", "--target", "999", *M)
    assert rc == 2 and "no migration 999" in err
    rc, _, err = cli(capsys, "upto", "--dsn", database, "--schema", "nope", "--target", "1", *M)
    assert rc == 2 and "unknown schema" in err
    rc, _, err = cli(capsys, "upto", "--dsn", database, "--schema", "main", "--target", "x", *M)
    assert rc == 2
    assert query(database, "SELECT to_regclass('public.migration_logs')") == [(None,)]


def test_cannot_connect_exits_6_and_never_shows_the_password(capsys):
    secret = "s3cr3t-Pa55word"
    dsn = f"postgresql://alice:{secret}@127.0.0.1:1/nowhere?connect_timeout=2"
    rc, out, err = cli(capsys, "status", "--dsn", dsn, *M)
    assert rc == 6
    assert secret not in out + err
    assert "cannot connect" in err and "alice@127.0.0.1:1/nowhere" in err


def test_password_from_environment_is_not_shown(database):
    secret = "env-Secret-42"
    r = run_cli("status", *M, env={"PGFERRY_DSN": f"host=127.0.0.1 port=1 user=bob password={secret} connect_timeout=2"})
    assert r.returncode == 6
    assert secret not in r.stdout + r.stderr


def test_schema_dsn_routes_schemas_to_databases(capsys, pg_server, database):
    other = pg_server.create_database()
    rc, _, err = cli(capsys, "up", "--dsn", database, "--schema-dsn", f"aux={other}", *M)
    assert rc == 0, err
    assert applied_ids(database, "main") and not applied_ids(database, "aux")
    assert applied_ids(other, "aux") == {1, 2, 3}
    rc, _, err = cli(capsys, "up", "--dsn", database, "--schema-dsn", "aux", *M)
    assert rc == 2 and "NAME=DSN" in err


def test_plain_progress_lines_when_not_a_terminal(database):
    r = run_cli("up", "--dsn", database, *M)
    assert r.returncode == 0, r.stderr
    assert "[1/7] main: applying 10 squashed base schema" in r.stderr
    assert "(concurrent index)" in r.stderr
    assert "main: done, 7 applied" in r.stderr
    again = run_cli("up", "--dsn", database, *M)
    assert again.returncode == 0 and "main: up to date" in again.stderr


def test_every_command_has_complete_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        text = p.format_help()
        assert p.description, name
        for action in p._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help"
        assert "--migrations" in text
    r = run_cli("--help")
    assert r.returncode == 0 and "exit codes" in r.stdout


def test_no_traceback_on_bad_definitions(tmp_path, database):
    (tmp_path / "main" / "1_x").mkdir(parents=True)
    r = run_cli("up", "--dsn", database, "--migrations", str(tmp_path))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "metadata.yaml" in r.stderr
