"""`pgferry plan`, `upgrade` and `downgrade`: moves between releases, with out-of-band stops."""
from __future__ import annotations

import json
import os
import sys

from pgferry.engine.errors import ExitCode, PgferryError, UsageError
from pgferry.engine.safetext import printable
from pgferry.tui.interrupt import ACTIVITY

from .accept import accept_flags, gate_changed, record_changed, warn_changed
from .flags import common, conns_of, definitions, run_flags, run_options, secrets_of
from .output import emit_json, output


def register(sub) -> None:
    p = sub.add_parser("plan", help="the ordered plan to a release: schema steps and out-of-band stops (no writes)",
                       description="Compute the plan from the database's current state to a release. Writes nothing.")
    common(p)
    p.add_argument("--to", required=True, metavar="VERSION", help="target release, or 'latest'")
    p.add_argument("--channel", default="stable", help="release channel for --to latest (default: stable)")
    p.add_argument("--allow-downgrade", action="store_true", help="also plan a move to an older release")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--sql", action="store_true", help="the whole SQL in run order")
    fmt.add_argument("--markdown", action="store_true", help="a Markdown summary for a ticket")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout; without --json, --sql or --markdown "
                   "its extension picks the format (.md, .sql, .json, else text)")
    p.set_defaults(handler=cmd_plan)

    for verb, text in (("upgrade", "newer"), ("downgrade", "older")):
        p = sub.add_parser(verb, help=f"move every schema to a {text} release, with out-of-band stops (headless)",
                           description=f"Plan and run a move to a {text} release: schema migrations of every release in "
                           "between, interleaved with the out-of-band migrations that must finish (or be undone) on "
                           "the way. The plan is persisted in upgrade_runs; running the same command after a crash "
                           "resumes where it stopped. Asks for confirmation unless --yes.")
        common(p)
        p.add_argument("--to", required=True, metavar="VERSION", help="target release" + (", or 'latest'" if verb == "upgrade" else ""))
        p.add_argument("--channel", default="stable", help="release channel (default: stable)")
        p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        run_flags(p)
        accept_flags(p)
        p.add_argument("--batch-seconds", type=float, default=None, metavar="SEC",
                       help="target duration of one out-of-band batch (default: each migration's own, 0.5)")
        p.add_argument("--skip-drift-check", action="store_true",
                       help="do not compare the schema with its release first (risks migrations failing, or "
                       "succeeding on a schema that is not what they were written for)")
        p.add_argument("--skip-preflight", action="store_true",
                       help="do not run the preflight checks first (risks blocked DDL, a second migrator, "
                       "a missing extension)")
        p.add_argument("--backup", metavar="DIR",
                       help="pg_dump each database the plan changes into DIR (owner-only) before the first change; "
                       "the files and their sha256 are recorded with the run for `pgferry restore --run N`")
        p.add_argument("--journal", metavar="PATH|auto",
                       help="also append the run's events as JSON lines to PATH (owner-only); 'auto' uses pgferry's "
                       "state directory, where the terminal UI finds it to reattach")
        p.set_defaults(handler=cmd_move)


# `plan --out FILE` without a format flag: the file's extension says which.
PLAN_FORMATS = {".md": "markdown", ".markdown": "markdown", ".sql": "sql", ".json": "json"}


def plan_format(args) -> str:
    for flag in ("json", "sql", "markdown"):
        if getattr(args, flag):
            return flag
    return PLAN_FORMATS.get(os.path.splitext(args.out)[1].lower(), "text") if args.out else "text"


def cmd_plan(args) -> int:
    from pgferry.engine.plan.export import to_markdown, to_sql
    from pgferry.engine.upgrade.impact import with_impact
    from pgferry.engine.upgrade.planning import make_plan
    from pgferry.tui.plan_view import print_plan

    defs = definitions(args)
    conns = conns_of(args, defs)
    plan = warn_changed(make_plan(defs, conns, args.to, downgrade=None if args.allow_downgrade else False,
                                  channel=args.channel), defs, conns)
    plan = with_impact(plan, defs, conns)
    fmt = plan_format(args)
    if fmt == "text" and not args.out:
        print_plan(plan)
        return ExitCode.OK
    if fmt == "text":
        from io import StringIO

        from rich.console import Console

        from pgferry.tui.terminal import UNCUT

        buffer = StringIO()
        print_plan(plan, Console(file=buffer, width=UNCUT, soft_wrap=True))
        text = buffer.getvalue()
    else:
        text = {"json": lambda: json.dumps(plan.as_dict(), indent=2) + "\n", "sql": lambda: to_sql(plan),
                "markdown": lambda: to_markdown(plan)}[fmt]()
    output(args, text, f" ({fmt})")
    return ExitCode.OK


def cmd_move(args) -> int:
    if not getattr(args, "journal", None):
        return _move(args, None)
    from pgferry.tui.journal import JournalWriter, new_journal_path

    journal = JournalWriter(new_journal_path() if args.journal == "auto" else args.journal, secrets_of(args))
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


def _note(event) -> None:
    from pgferry.tui.render import describe

    print(printable(describe(event)), file=sys.stderr)


def _move(args, journal) -> int:
    from pgferry.engine.run.background import BackgroundOptions
    from pgferry.engine.upgrade.gate import check_before_move
    from pgferry.engine.upgrade.planning import make_plan
    from pgferry.engine.upgrade.upgrade import Upgrade
    from pgferry.tui.plan_view import print_plan
    from pgferry.tui.render import renderer

    defs = definitions(args)
    conns = conns_of(args, defs)
    downgrade = args.command == "downgrade"
    plan = make_plan(defs, conns, args.to, downgrade=downgrade, channel=args.channel)
    if args.dry_run:
        from pgferry.engine.upgrade.impact import with_impact

        plan = with_impact(warn_changed(plan, defs, conns), defs, conns)
        if args.json:
            emit_json(plan.as_dict())
        else:
            print_plan(plan)
        return ExitCode.OK
    accepted = gate_changed(args, defs, conns)
    if plan.empty:
        from pgferry.engine.upgrade.stale import settle_stale_run

        record_changed(args, defs, conns, accepted)
        # A run killed after its last step committed left its row 'running': settled here, said once.
        settle_stale_run(defs, conns, plan.applied, _note if journal is None else (lambda e: (_note(e), journal(e))))
        if args.json:
            emit_json({"run_id": None, "status": "up to date", "plan": plan.as_dict(), "backups": []})
        else:
            print(f"already at {plan.to_version}: nothing to do", file=sys.stderr)
        return ExitCode.OK
    options = run_options(args)
    # A step only someone else can run stops the move here (exit 3), before asking.
    check_before_move(defs, conns, plan, drift=not args.skip_drift_check, preflight=not args.skip_preflight,
                      privileged_dsn=options.privileged_dsn, note=lambda text: print(f"note: {text}", file=sys.stderr))
    if not args.yes:
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
    record_changed(args, defs, conns, accepted)
    bg = BackgroundOptions(bookkeeping_schema=args.bookkeeping_schema, target_batch_seconds=args.batch_seconds)
    with renderer(args.no_progress or args.json) as render:
        sink = render if journal is None else (lambda e: (render(e), journal(e)))
        run = Upgrade(defs, conns, options=options, background=bg, on_event=sink, backup_dir=args.backup)
        plan, run_id = run.run(args.to, downgrade=downgrade, channel=args.channel, confirmed=plan,
                               check_drift=not args.skip_drift_check)
    if args.json:
        from pgferry.engine.upgrade.runbackups import listed

        emit_json({"run_id": run_id, "status": "succeeded", "plan": plan.as_dict(), "backups": listed(run_id, run.backups)})
    return ExitCode.OK
