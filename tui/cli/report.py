"""`pgferry report` and `pgferry watch`: what an upgrade run did, and its live view."""
from __future__ import annotations

import argparse
import json
import sys

from pgferry.engine.errors import ExitCode, UsageError

from .app import cmd_app
from .flags import EPILOG, common, definitions, dsns_of
from .output import output


def register(sub) -> None:
    p = sub.add_parser("report", help="what an upgrade run did: steps, durations, manual steps, warnings (Markdown)",
                       description="The report of an upgrade run (the latest unless --run), read from the database: "
                       "status, operator and host, duration, warnings, privileged steps run by someone else and who "
                       "confirmed them, out-of-band migrations and the slowest steps. A run resumed after a crash or "
                       "a pause is reported with the runs it continues.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    common(p)
    p.add_argument("--run", type=int, metavar="ID", help="the upgrade run (default: the latest)")
    p.add_argument("--out", metavar="FILE", help="write the report to FILE (owner-only) instead of stdout")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("watch", help="read-only live view of an upgrade run (the terminal UI's run screen)",
                       description="Opens the terminal UI's run screen, read-only, on an upgrade run (the latest unless "
                       "--run). Everything it shows comes from the database, so it works from any machine that can "
                       "reach it; nothing can be paused, aborted or started from here.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    common(p, json_flag=False)
    p.add_argument("--run", type=int, metavar="ID", help="the upgrade run (default: the latest)")
    p.set_defaults(handler=cmd_watch)


def cmd_report(args) -> int:
    from pgferry.engine.upgrade.report import build_report, migration_names, to_markdown

    defs = definitions(args)
    report = build_report(dsns_of(args, defs), args.bookkeeping_schema, args.run, migration_names(defs), defs)
    text = json.dumps(report.as_dict(), indent=2, default=str) + "\n" if args.json else to_markdown(report)
    output(args, text)
    return ExitCode.OK


def cmd_watch(args) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("watch draws a live view and needs a terminal", hint="for scripts: pgferry status --json")
    return cmd_app(args, watch=True)
