"""`pgferry recover`: diagnose failed or stale migrations, then retry, revert, mark or repair."""
from __future__ import annotations

import os
import sys

from pgferry.engine.connection import scrub
from pgferry.engine.errors import ExitCode, UsageError
from pgferry.engine.userdirs import write_private

from .flags import common, definitions, dsns_of
from .output import emit_json, print_idle_lock_holders


def register(sub) -> None:
    p = sub.add_parser("recover", help="diagnose failed or stale migrations; retry, revert, mark them, repair indexes",
                       description="Without an action: list every failed or stale attempt (and those running now) with "
                       "what ran, when, by whom, the error and its file line, and what of its effect the catalog shows; "
                       "plus invalid indexes no migration owns. Exit 4 when something needs recovery. With an action: "
                       "print its exact SQL, ask for the migration id (or index name) to be typed unless --yes, run "
                       "it, then verify by diagnosing again (exit 0 verified, 1 failed). A mark the catalog contradicts "
                       "(what up.sql creates absent, or still there when reverting) and a REINDEX that duplicate keys "
                       "would fail are refused with exit 1; --force --reason TEXT records a mark anyway.")
    common(p)
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
    p.set_defaults(handler=cmd_recover)


def cmd_recover(args) -> int:
    from datetime import datetime, timezone

    from pgferry.engine.repair.kinds import ActionKind
    from pgferry.engine.repair.perform import run_action
    from pgferry.engine.repair.prepare import prepare
    from pgferry.engine.repair.recovery import diagnose
    from pgferry.engine.bookkeeping.runs import operator_name
    from pgferry.engine.bookkeeping.status import idle_lock_holders_in
    from pgferry.tui import recover_view as view
    from pgferry.tui.render import renderer

    started = datetime.now(timezone.utc)
    defs = definitions(args)
    dsns = dsns_of(args, defs)
    out = sys.stderr if args.json else sys.stdout
    schemas = [args.schema] if args.schema else None
    before = diagnose(defs, dsns, args.bookkeeping_schema, schemas)
    print("\n".join(view.diagnosis_lines(before)), file=out)
    holders = idle_lock_holders_in(dsns[s] for s in schemas or defs.schemas)
    print_idle_lock_holders(holders, out)
    kind, target = next(((k, v) for k in ActionKind if (v := getattr(args, k.replace("-", "_"))) is not None),
                        (None, None))
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
            write_private(args.transcript, scrub(text, *dsns.values()))
            print(f"wrote {args.transcript}", file=sys.stderr)
    if args.json:
        held = {"idle_lock_holders": [h.as_dict() for h in holders]} if holders else {}
        emit_json({**before.as_dict(), "actions": [{**r.as_dict(), "confirmed": c} for c, r in done], **held})
    return code
