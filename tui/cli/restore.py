"""`pgferry restore --run N`: put back the databases an upgrade run dumped before it changed them."""
from __future__ import annotations

import argparse
import os
import sys

from pgferry.engine.errors import ExitCode, UsageError
from pgferry.engine.safetext import printable

from .flags import EPILOG, common, definitions, dsns_of
from .output import emit_json


def register(sub) -> None:
    p = sub.add_parser("restore", help="restore the databases an upgrade run backed up (upgrade --backup DIR)",
                       description="Replace each database that upgrade run N dumped before its first change with that "
                       "dump: only the databases of that run, each in one transaction (it becomes the dump, or stays "
                       "as it was). Everything written to them since the dump is lost, pgferry's bookkeeping "
                       "included: run N and later runs are no longer recorded. Each file's size and sha256 are "
                       "checked first (exit 1 when one differs); another migrator holding the lock refuses it "
                       "(exit 1). Asks for the database name (or `restore N` for several) to be typed unless --yes.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    common(p)
    p.add_argument("--run", type=int, required=True, metavar="ID", help="the upgrade run whose backups to restore")
    p.add_argument("--yes", action="store_true", help="do not ask for the typed confirmation (needed without a terminal)")
    p.set_defaults(handler=cmd_restore)


def _describe(plan) -> str:
    from pgferry.engine.sizes import human_size

    lines = [f"upgrade run {plan.run.id} ({plan.run.direction} {plan.run.from_version or 'none'} → "
             f"{plan.run.to_version}, {plan.run.effective_status}) took {len(plan.targets)} backup(s):"]
    lines += [f"  {r['database']}: {r['path']} ({human_size(r['bytes'])}, taken {r['taken_at']}, "
              f"sha256 {r['sha256'][:12]}… checked)" for _, r in plan.targets]
    lines.append("Restoring replaces each of these databases with its dump: everything written since is lost, "
                 f"pgferry's bookkeeping included (run {plan.run.id} and later runs are no longer recorded).")
    return printable("\n".join(lines))


def _confirm(plan, args) -> str | None:
    """How the restore was confirmed; None when the operator typed something else."""
    from pgferry.engine.bookkeeping.runs import operator_name

    operator = os.environ.get("PGFERRY_OPERATOR") or operator_name()
    if args.yes:
        return f"--yes, by {operator}"
    if not sys.stdin.isatty():
        raise UsageError("restore replaces databases and needs confirmation: nothing changed",
                         hint="read what it restores above, then re-run with --yes")
    expected = plan.databases[0] if len(plan.databases) == 1 else f"restore {plan.run.id}"
    print(printable(f"Type {expected} to restore (anything else cancels): "), end="", file=sys.stderr, flush=True)
    if input().strip() != expected:
        return None
    return f"typed {expected!r}, by {operator}"


def cmd_restore(args) -> int:
    from pgferry.engine.upgrade.preflight import migrator_locks
    from pgferry.engine.upgrade.restore import prepare_restore, restore, restore_lock

    defs = definitions(args)
    plan = prepare_restore(dsns_of(args, defs), args.bookkeeping_schema, args.run)
    print(_describe(plan), file=sys.stderr if args.json else sys.stdout)
    # Held while asking too: no migrator starts between the answer and the restore.
    with restore_lock(plan, migrator_locks(defs, args.bookkeeping_schema)):
        confirmed = _confirm(plan, args)
        if confirmed is None:
            print("nothing changed", file=sys.stderr)
            return ExitCode.FAILURE
        restored = restore(plan)
    for r in restored:
        print(printable(f"restored {r.database} from {r.path} in {r.seconds:.1f}s"), file=sys.stderr)
    if args.json:
        emit_json({"run_id": plan.run.id, "confirmed": confirmed, "restored": [r.as_dict() for r in restored]})
    return ExitCode.OK
