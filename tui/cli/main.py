"""The scriptable command line: `pgferry <command>`: parsing, the placement of shared flags, and
the mapping of every error to one line and an exit code. Every read has --json (docs/design.md §11).

Precedence for the connection: --dsn, else PGFERRY_DSN, else libpq's PG* variables;
--schema-dsn NAME=DSN overrides it for one schema. These flags and --migrations mean the same
before and after the command. Passwords are masked everywhere; every printed line and written
file shows control characters from the server or the definitions escaped.
"""
from __future__ import annotations

import argparse
import atexit
import importlib
import os
import signal
import sys
from typing import Sequence

import psycopg

from pgferry import __version__
from pgferry.engine.connection import mask_dsn, scrub
from pgferry.engine.definitions.graph import UnknownMigration
from pgferry.engine.errors import ExitCode, PgferryError, UsageError, server_message
from pgferry.tui.interrupt import ACTIVITY

from .flags import BEFORE, EPILOG, PLACED, connection_flags, definition_flag, secrets_of

# Each group (a module of this package) adds its subcommands, handlers set, in the order `pgferry
# --help` lists them; COMMANDS says which group adds a command, so that a command's parser is built
# without importing or building the other groups (a probe runs `check` many times a day).
# tests/cli/test_cli.py holds the two to what the groups register.
GROUP_NAMES = ("status", "steps", "release", "oob", "preflight", "calibrate", "drift", "adopt", "privileged", "check",
               "recover", "report", "restore", "server", "fleet", "demo")
COMMANDS = {"validate": "status", "status": "status", "up": "steps", "upto": "steps", "downto": "steps",
            "plan": "release", "upgrade": "release", "downgrade": "release", "oob": "oob", "preflight": "preflight",
            "collations": "preflight", "calibrate": "calibrate", "describe": "drift", "drift": "drift",
            "adopt": "adopt", "privileged": "privileged", "check": "check", "recover": "recover", "report": "report",
            "watch": "report", "restore": "restore", "server-upgrade": "server", "fleet": "fleet", "demo": "demo"}
# The flags `pgferry` itself takes before the command, each with one value.
TOP_FLAGS = ("--theme", "--migrations", "--dsn", "--schema-dsn", "--bookkeeping-schema")


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with one line, as docs/design.md §11 says
        self.print_usage(sys.stderr)
        # The message quotes the arguments it refused: a connection string among them keeps its secrets.
        words = [w.strip("'\"") for w in message.split()]
        print(f"error: {scrub(message, *words, *(w.partition('=')[2] for w in words))}", file=sys.stderr)
        sys.exit(ExitCode.USAGE)


def group(name: str):
    return importlib.import_module(f"{__package__}.{name}")


def command_of(argv: Sequence[str]) -> str | None:
    """The command `argv` names, when its words before it are only the top-level flags with their
    values; None otherwise (no command, --help, --version, an abbreviated or unknown flag)."""
    words = iter(argv)
    for word in words:
        if word in TOP_FLAGS:
            next(words, None)  # its value
        elif word.partition("=")[0] not in TOP_FLAGS:  # nor --dsn=VALUE
            return word if word in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line's parser; with `argv` naming a known command, only that command's group."""
    command = None if argv is None else command_of(argv)
    parser = Parser(
        prog="pgferry",
        description="Carry PostgreSQL databases across releases: plan, run, watch and recover migrations. "
       ,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pgferry {__version__}")
    parser.add_argument("--theme", metavar="NAME",
                        help="theme of the terminal UI opened by `pgferry` with no command (default pgferry-dark; "
                        "pgferry-mono under NO_COLOR)")
    # The same flags before the command (their own dest names; `merge_placements` joins the two).
    top = parser.add_argument_group("definitions and connection (before or after the command, the same meaning)")
    definition_flag(top, BEFORE)
    connection_flags(top, BEFORE)
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=Parser)
    for name in (COMMANDS[command],) if command else GROUP_NAMES:
        group(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    ACTIVITY.reset()
    from pgferry.tui.terminal import guarded_output

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    with guarded_output():  # control characters in server or definition text are shown, never obeyed
        return _dispatch(parser, args)


def _dispatch(parser: argparse.ArgumentParser, args) -> int:
    dsns = secrets_of(args)
    try:
        merge_placements(args)
        if args.command is None:
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                parser.print_help()  # no terminal to draw on
                return ExitCode.OK
            return group("app").cmd_app(args)
        return int(args.handler(args))
    except PgferryError as exc:
        print(f"error: {scrub(exc.message, *dsns)}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {scrub(exc.hint, *dsns)}", file=sys.stderr)
        return int(exc.exit_code)
    except UnknownMigration as exc:
        print(f"error: unknown migration {exc.args[0]}", file=sys.stderr)
        return int(ExitCode.USAGE)
    except psycopg.Error as exc:
        # A database refusal outside a migration (permissions, a read-only standby, ...): say what
        # the server said, without a traceback.
        print(f"error: the database refused: {scrub(server_message(exc).with_state(), *dsns)}", file=sys.stderr)
        return int(ExitCode.CONNECT if isinstance(exc, psycopg.OperationalError) else ExitCode.FAILURE)
    except KeyboardInterrupt:
        return interrupted()
    except Exception as exc:  # noqa: BLE001 - never a traceback with locals (it could hold a DSN)
        if os.environ.get("PGFERRY_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {scrub(str(exc), *dsns)}", file=sys.stderr)
        print("hint: re-run with PGFERRY_DEBUG=1 for a traceback and report it", file=sys.stderr)
        return int(ExitCode.FAILURE)


def merge_placements(args) -> None:
    """One value per definitions or connection flag, wherever it stands: `pgferry --dsn X status` is
    `pgferry status --dsn X`. Two placements that disagree are refused rather than one winning."""
    for name in PLACED:
        flag = "--" + name.replace("_", "-")
        before = getattr(args, BEFORE + name)
        if args.command is not None and not hasattr(args, name):
            if before:
                raise UsageError(f"{flag} does not apply to {args.command}")
            continue
        merge = _merge_schema_dsns if name == "schema_dsn" else _merge_one
        setattr(args, name, merge(flag, before, getattr(args, name, None)))
    if hasattr(args, "bookkeeping_schema"):
        args.bookkeeping_schema = args.bookkeeping_schema or "public"


def _merge_one(flag: str, before: str | None, after: str | None) -> str | None:
    if before and after and before != after:
        shown = (mask_dsn(before), mask_dsn(after)) if flag == "--dsn" else (before, after)
        raise UsageError(f"{flag} is given before the command ({shown[0]}) and after it ({shown[1]}) "
                         "with different values: give it once")
    return after or before


def _merge_schema_dsns(flag: str, before: list[str], after: list[str] | None) -> list[str]:
    """Both placements' NAME=DSN items; a schema given two different connections is refused."""
    merged = list(dict.fromkeys([*before, *(after or [])]))
    by_schema: dict[str, str] = {}
    for item in merged:
        schema, _, dsn = item.partition("=")
        if by_schema.setdefault(schema, dsn) != dsn:
            raise UsageError(f"{flag} gives schema {schema!r} two connections: "
                             f"{mask_dsn(by_schema[schema])} and {mask_dsn(dsn)}")
    return merged


def interrupted() -> int:
    print(ACTIVITY.message(), file=sys.stderr)
    return 130


def entry() -> None:
    # The command line is imported (pgferry/__main__ covered that): from here Ctrl-C is a KeyboardInterrupt that
    # `main` answers with what it interrupted; after it, with the process ending, it is ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = main()
    except KeyboardInterrupt:  # before main's own handler (parsing arguments) or within it
        code = interrupted()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if code == 130:
        # Leave with exactly 130. Through the interpreter's own exit, an interrupt that landed inside
        # code built by exec() (dataclasses, pgparse's builders) sometimes still ends the process
        # killed by SIGINT (-2) once caught and answered: seen 2 times in 75 runs under Python 3.11.
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()  # what a normal exit runs: e.g. an embedded server's cleanup
        os._exit(130)
    sys.exit(code)
