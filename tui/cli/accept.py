"""`--accept-changed`, shared by the commands that run migrations: an applied migration whose up.sql
changed since it ran stops them (exit 5) until its file is restored or its new text accepted, with
who and why kept in migration_logs (engine/bookkeeping/changed.py)."""
from __future__ import annotations

import os
import sys
from dataclasses import replace

from pgferry.engine.errors import UsageError
from pgferry.engine.safetext import printable


def accept_flags(p) -> None:
    g = p.add_argument_group("applied migrations whose file changed")
    g.add_argument("--accept-changed", action="append", default=[], metavar="[SCHEMA:]ID",
                   help="accept the new up.sql of an applied migration that changed since it ran (repeatable); "
                   "recorded in migration_logs with your name (PGFERRY_OPERATOR, else your user name) and --reason")
    g.add_argument("--reason", metavar="TEXT", help="with --accept-changed: why the new text is right "
                   "(asked for in a terminal)")


def note(text: str) -> None:
    print(printable(f"note: {text}"), file=sys.stderr)


def gate_changed(args, defs, conns, schemas=None) -> tuple:
    """Refuse (exit 5) over changed applied migrations not accepted; the accepted ones, their reason
    settled (asked for in a terminal, required otherwise) before anything is written."""
    from pgferry.engine.bookkeeping.changed import check_changed

    accepted = check_changed(defs, conns, args.accept_changed, schemas, note=note)
    if accepted and not (args.reason or "").strip():
        if not sys.stdin.isatty():
            raise UsageError("--accept-changed needs --reason TEXT: why the new text is right (kept in "
                             "migration_logs). Nothing was changed.")
        args.reason = input("Why is the new text right (kept in migration_logs)? ").strip()
        if not args.reason:
            raise UsageError("no reason given: nothing was changed")
    return accepted


def record_changed(args, defs, conns, accepted) -> None:
    """Write the acceptances: once the run is confirmed, right before it starts."""
    if not accepted:
        return
    from pgferry.engine.bookkeeping.changed import record_accepted
    from pgferry.engine.bookkeeping.runs import operator_name

    operator = os.environ.get("PGFERRY_OPERATOR") or operator_name()
    record_accepted(defs, dict(conns.dsns), accepted, operator, args.reason.strip(), conns.bookkeeping_schema,
                    getattr(args, "lock_wait", None))
    for c in accepted:
        note(f"accepted {c.schema} {c.id} ({c.name}) as it is now, by {operator}: {args.reason.strip()}")


def warn_changed(plan, defs, conns):
    """The plan with a warning for each changed applied migration (the run would refuse)."""
    from pgferry.engine.bookkeeping.changed import find_changed, reference

    changes = find_changed(defs, dict(conns.dsns), conns.bookkeeping_schema)
    warnings = tuple(c.describe() + (f": the run refuses until the file is restored or accepted "
                                     f"(--accept-changed {reference(c, changes)} --reason TEXT)" if c.blocks else "")
                     for c in changes)
    return replace(plan, warnings=plan.warnings + warnings) if warnings else plan
