"""`pgferry adopt --release V`: bring a database pgferry never ran on under its bookkeeping."""
from __future__ import annotations

import os
import sys

from pgferry.engine.errors import ExitCode, UsageError

from .drift import ignore_rules, replayer, shape_flags
from .flags import common, definitions, dsns_of
from .output import emit_json


def register(sub) -> None:
    p = sub.add_parser("adopt", help="record a release a database already has (a restored dump, another tool's work)",
                       description="For a database holding the product with nothing recorded in migration_logs. "
                       "Compare every database of the product with the expected shape of --release (shipped in "
                       "<migrations>/expected/, else replayed into scratch databases) and measure the out-of-band "
                       "migrations it has reached. When all match: show what will be recorded, ask for the release to "
                       "be typed unless --yes, then record the release's migrations as backfilled, confirmed by you "
                       "(exit 0). When any differs: list the differences and the fix SQL, record nothing (exit 5). "
                       "A database that already records migrations is refused (exit 2): see `status` and `drift`.")
    common(p)
    p.add_argument("--release", required=True, metavar="V", help="the release the database is at")
    p.add_argument("--dry-run", action="store_true", help="compare and show what would be recorded; record nothing")
    p.add_argument("--yes", action="store_true", help="do not ask for the typed confirmation")
    p.add_argument("--confirmed-by", metavar="NAME",
                   help="who adopts it, recorded with every row (default: PGFERRY_OPERATOR, else your user name)")
    shape_flags(p)  # --admin-dsn also serves definitions that ship no expected shape
    p.set_defaults(handler=cmd_adopt)


def cmd_adopt(args) -> int:
    from pgferry.engine.bookkeeping.runs import operator_name
    from pgferry.engine.repair.adopt import adopt, prepare_adoption
    from pgferry.engine.repair.expected import expected_path
    from pgferry.tui.adopt_view import lines

    defs = definitions(args)
    release = defs.release(args.release)
    if args.admin_dsn and not args.replay and expected_path(defs, release.version).is_file():
        raise UsageError("--admin-dsn goes with --replay, or with definitions that ship no expected shape")
    operator = args.confirmed_by or os.environ.get("PGFERRY_OPERATOR") or operator_name()
    out = sys.stderr if args.json else sys.stdout
    load = None
    if args.replay or not expected_path(defs, release.version).is_file():
        where = "on --admin-dsn" if args.admin_dsn else "in a temporary embedded PostgreSQL"
        print(f"computing the expected shape of {release.version}: replaying its migrations into scratch databases "
              f"{where}…", file=sys.stderr, flush=True)
        load = replayer(args.admin_dsn)
    adoption = prepare_adoption(defs, dsns_of(args, defs), release.version, operator=operator,
                                bookkeeping_schema=args.bookkeeping_schema, rules=ignore_rules(args, defs), load=load)
    print("\n".join(lines(adoption)), file=out)
    if adoption.matches and not args.dry_run and _confirmed(adoption, args.yes):
        adopt(defs, adoption)
        print(f"adopted at {adoption.release}: recorded {adoption.migrations} migration(s) as backfilled, "
              f"confirmed by {operator}", file=out)
    if args.json:
        emit_json({**adoption.as_dict(), "dry_run": args.dry_run})
    if not adoption.matches:
        return ExitCode.DRIFT
    return ExitCode.OK if adoption.adopted or args.dry_run else ExitCode.FAILURE


def _confirmed(adoption, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError("adopt records the release in the database's bookkeeping and needs confirmation: "
                         "nothing was recorded", hint="read what will be recorded above, then re-run with --yes")
    print(f"Type {adoption.release} to record it (anything else cancels): ", end="", file=sys.stderr, flush=True)
    if input().strip() != adoption.release:
        print("nothing was recorded", file=sys.stderr)
        return False
    return True
