"""The command line as users and scripts see it: output, JSON, exit codes, masking."""
from __future__ import annotations

import json

import pytest

from pgferry.tui.cli import build_parser, main
from tests.support import LONG_NAME, SMALL, applied_ids, cli, query, run_cli

M = ["--migrations", str(SMALL)]


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


# -- flags before or after the command mean the same ---------------------------------------------

ENV_DSN = "postgresql://envuser@127.0.0.1:1/envdb?connect_timeout=2"
FLAG_DSN = "postgresql://flaguser:Fl4g-s3cret@127.0.0.1:1/flagdb?connect_timeout=2"
# Each command's own arguments: enough to reach its first connection. Nothing listens on port 1,
# so a command fails at once (exit 6) naming the database it tried: the flag's, never the environment's.
REACHES_A_DATABASE = {
    "status": [], "up": [], "upto": ["--schema", "main", "--target", "13"],
    "downto": ["--schema", "main", "--target", "11", "--yes"], "plan": ["--to", "latest"],
    "upgrade": ["--to", "latest", "--yes"], "downgrade": ["--to", "1.0.0", "--yes"],
    "oob": ["status"], "preflight": ["--to", "latest"], "describe": [], "drift": [],
    "privileged": ["--to", "latest"], "check": ["--release", "1.2.0"], "recover": [], "report": [],
}


def placed(before: bool, command: list[str], flags: list[str]) -> list[str]:
    return [*flags, *command] if before else [*command, *flags]


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
@pytest.mark.parametrize("command", sorted(REACHES_A_DATABASE))
def test_connection_and_definition_flags_count_before_and_after_the_command(capsys, monkeypatch, command, before):
    monkeypatch.setenv("PGFERRY_DSN", ENV_DSN)
    # The small product has no out-of-band migration, so `oob status` reads the bundled ones.
    flags = ["--dsn", FLAG_DSN, *([] if command == "oob" else M)]
    rc, out, err = cli(capsys, *placed(before, [command, *REACHES_A_DATABASE[command]], flags))
    assert rc == 6, err
    assert "flaguser@127.0.0.1:1/flagdb" in err and "envdb" not in err
    assert "Fl4g-s3cret" not in out + err


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_validate_reads_the_migrations_flag_before_and_after_the_command(capsys, small_copy, before):
    (small_copy / "main" / "16_events_kind_index" / "up.sql").write_text("CREATE INDEX CONCURRENTLY ON events (\n")
    rc, _, err = cli(capsys, *placed(before, ["validate"], ["--migrations", str(small_copy)]))
    assert rc == 2
    assert "16_events_kind_index" in err and "1 error(s)" in err


def subcommands(parser) -> dict:
    return next(a for a in parser._actions if a.dest == "command").choices


def test_a_command_parser_is_built_from_its_own_group_alone():
    """`pgferry CMD ...` builds only the parser of CMD's group (main.COMMANDS): the same parser the
    whole command line holds for it, whatever flags stand before it."""
    from pgferry.tui.cli.main import COMMANDS, command_of

    full = subcommands(build_parser())
    assert set(full) == set(COMMANDS)
    for name, p in full.items():
        alone = subcommands(build_parser(["--dsn", "host=a", "--migrations=defs/", name, "--json"]))
        assert name in alone and alone[name].format_help() == p.format_help()
    # Anything it cannot read for sure gets the whole parser: an abbreviated flag, help, no command.
    assert [command_of(a) for a in (["--mig", "d", "status"], ["--help"], [], ["--dsn", "status"], ["nope"])] == \
        [None, None, None, None, None]


def parsed(*argv: str):
    from pgferry.tui.cli.main import merge_placements

    args = build_parser(argv).parse_args(list(argv))
    merge_placements(args)
    return args


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
@pytest.mark.parametrize("command", [["watch"], ["demo", "--no-ui"], ["status"], ["recover"]], ids=" ".join)
def test_every_placed_flag_reaches_the_command(command, before):
    db = command[0] != "demo"
    flags = ["--migrations", "defs/"] + (["--dsn", "host=a", "--schema-dsn", "aux=host=b",
                                          "--bookkeeping-schema", "bk"] if db else [])
    args = parsed(*placed(before, command, flags))
    assert args.migrations == "defs/"
    if db:
        assert (args.dsn, args.schema_dsn, args.bookkeeping_schema) == ("host=a", ["aux=host=b"], "bk")
    if command == ["watch"]:
        from pgferry.tui.cli.app import app_source

        source = app_source(args, watch=True)
        assert (source.migrations, source.dsn, source.schema_dsn, source.bookkeeping_schema) == \
            ("defs/", "host=a", ("aux=host=b",), "bk")


def test_placed_flags_default_as_before():
    assert parsed("status").bookkeeping_schema == "public"
    assert parsed("--bookkeeping-schema", "bk", "status", "--bookkeeping-schema", "bk").bookkeeping_schema == "bk"
    # one schema's connection before the command, another's after it: both apply
    assert parsed("--schema-dsn", "main=host=a", "status", "--schema-dsn", "aux=host=b").schema_dsn == \
        ["main=host=a", "aux=host=b"]
    args = parsed("--dsn", "host=a", "--theme", "x")  # the terminal UI, no command
    assert (args.dsn, args.bookkeeping_schema, args.migrations) == ("host=a", "public", None)


@pytest.mark.parametrize("argv, named", [
    (["--dsn", "postgresql://u:pw1-Secret@h/one", "status", "--dsn", "postgresql://u:pw2-Secret@h/two"],
     ["postgresql://u:****@h/one", "postgresql://u:****@h/two", "before the command", "after it"]),
    (["--migrations", "a/", "validate", "--migrations", "b/"], ["a/", "b/"]),
    (["--schema-dsn", "main=host=a", "status", "--schema-dsn", "main=host=b"], ["'main'", "host=a", "host=b"]),
    (["--dsn", "host=a", "validate"], ["--dsn does not apply to validate"]),
    (["--bookkeeping-schema", "x", "demo"], ["--bookkeeping-schema does not apply to demo"]),
])
def test_disagreeing_or_useless_placements_are_refused(capsys, argv, named):
    rc, out, err = cli(capsys, *argv)
    assert rc == 2
    assert all(n in err for n in named), err
    assert "Secret" not in out + err


# -- plan output: whole lines off a terminal, --out FILE in the format its extension says ----------

def test_plan_into_a_pipe_or_a_file_is_never_cut(capsys, database, long_named):
    rc, out, err = cli(capsys, "plan", "--to", "latest", "--dsn", database, "--migrations", str(long_named))
    assert rc == 0, err
    assert LONG_NAME in out and "…" not in out
    # the estimate column (the plan's impact, read from the database) sits between the badges and the schema
    assert any(line.startswith("   6 ↑") and " s main         15          " + LONG_NAME in line
               for line in out.splitlines())


@pytest.mark.parametrize("argv", [
    ["validate", "--dsn", "postgresql://u:Pw-s3cret@h/db"],
    ["status", "--lock-timeout", "host=h password=Pw-s3cret"],
    ["validate", "--dsn=postgresql://u:Pw-s3cret@h/db"],
    ["status", "--schema-dsn", "main=host=h password=Pw-s3cret", "stray", "main=postgresql://u:Pw-s3cret@h/db"],
], ids=["no such flag", "bad value", "flag=value", "stray words"])
def test_refused_arguments_never_show_a_password(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    _, err = capsys.readouterr()
    assert exc.value.code == 2 and "error: " in err
    assert "Pw-s3cret" not in err and "****" in err
