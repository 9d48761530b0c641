"""`pgferry privileged`: the bundle of privileged SQL for a DBA, and verifying it was done."""
from __future__ import annotations

import json
import sys

from pgferry.engine.errors import ExitCode, UsageError

from .flags import common, conns_of, definitions
from .output import emit_json, output


def register(sub) -> None:
    p = sub.add_parser(
        "privileged",
        help="privileged SQL of a whole upgrade for a DBA (bundle), and verifying it was run (verify)",
        description="Without an action: print every privileged statement of the plan to --to that the connected "
        "role cannot run itself (all schemas, all stops), as one bundle with a token bound to its content. "
        "`verify`: check the catalog for each step's effect and record the verified steps as granted (each is "
        "recorded applied manually when the upgrade reaches it); steps whose effect cannot be checked need --token. "
        "Exit 3 while something is still missing.")
    common(p)
    p.add_argument("action", nargs="?", choices=["verify"], help="verify the DBA's work and record it")
    p.add_argument("--to", required=True, metavar="VERSION", help="target release, or 'latest'")
    p.add_argument("--channel", default="stable", help="release channel (default: stable)")
    p.add_argument("--allow-downgrade", action="store_true", help="the target may be older than the database")
    p.add_argument("--all", action="store_true", help="include privileged steps the role could run itself")
    p.add_argument("--token", help="verify: the bundle's token, confirming steps the catalog cannot show")
    p.add_argument("--confirmed-by", metavar="NAME", help="verify: who ran the bundle (default: your user name)")
    p.add_argument("--out", metavar="FILE", help="write the bundle to FILE (mode 0600) instead of stdout")
    p.set_defaults(handler=cmd_privileged)


def cmd_privileged(args) -> int:
    from pgferry.engine.privileges.grant import check_bundle, record_check
    from pgferry.engine.privileges.privileges import build_bundle
    from pgferry.engine.bookkeeping.runs import operator_name
    from pgferry.engine.upgrade.planning import make_plan

    defs = definitions(args)
    conns = conns_of(args, defs)
    plan = make_plan(defs, conns, args.to, downgrade=None if args.allow_downgrade else False, channel=args.channel)
    dsns = dict(conns.dsns)
    bundle = build_bundle(plan, dsns, include_runnable=args.all)
    if args.action is None:
        text = json.dumps(bundle.as_dict(), indent=2) + "\n" if args.json else bundle.to_sql()
        if bundle.empty and not args.json:
            text = f"-- nothing privileged to hand over for {plan.to_version}: role can run every step\n"
        output(args, text, f" ({len(bundle.items)} step(s), token {bundle.token})")
        return ExitCode.OK
    check = check_bundle(plan, dsns, args.bookkeeping_schema)
    if args.token and args.token != check.token:
        raise UsageError("the token does not match this bundle: the plan or its SQL changed since it was printed",
                         hint=f"print the bundle again (`pgferry privileged --to {plan.to_version}`) and run that")
    who = args.confirmed_by or operator_name()
    if not check.results:
        print("nothing privileged left to verify", file=sys.stderr)
        return ExitCode.OK
    complete = check.complete(token_confirmed=bool(args.token))
    needs_token = [] if args.token else check.unknowable
    recorded = record_check(check, dsns, who, args.bookkeeping_schema, bool(args.token)) if complete else []
    if args.json:
        emit_json({"token": check.token, "recorded": recorded,
                    "missing": [v.item.as_dict() for v in check.missing],
                    "needs_token": [v.item.as_dict() for v in needs_token]})
    else:
        for v in check.results:
            mark = "✓ verified" if v.verified else ("✓ granted before" if v.done else (
                "? needs token" if v.unknowable and not args.token else ("✓ confirmed by token" if v.unknowable
                                                                          else "✗ not done")))
            print(f"{mark:<22} {v.item.schema} {v.item.migration_id} {v.item.name}")
        if complete:  # else nothing was recorded, and the refusal below says why
            print(f"recorded {len(recorded)} step(s) as granted by {who}: each is recorded applied (manually) when "
                  "the upgrade reaches it", file=sys.stderr)
    if not complete:
        record_check(check, dsns, who, args.bookkeeping_schema, bool(args.token))  # raises PrivilegeRequired (exit 3)
    return ExitCode.OK
