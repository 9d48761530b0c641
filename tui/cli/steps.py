"""`pgferry up`, `upto` and `downto`: one schema's migration graph moved directly, without releases."""
from __future__ import annotations

import sys

from typing import TYPE_CHECKING

from pgferry.engine.errors import ExitCode, UsageError

from .accept import accept_flags, gate_changed, record_changed
from .flags import common, conns_of, definitions, dsns_of, run_flags, run_options, target_ids
from .output import emit_json, print_steps

if TYPE_CHECKING:
    from pgferry.engine.definitions.catalog import Definitions
    from pgferry.engine.definitions.graph import Step


def register(sub) -> None:
    p = sub.add_parser("up", help="apply every pending migration of the selected schemas",
                       description="Apply every migration up to each schema's leaves.")
    common(p)
    p.add_argument("--schema", action="append", metavar="NAME", help="only this schema (repeatable; default: all)")
    run_flags(p)
    accept_flags(p)
    p.set_defaults(handler=cmd_up)

    p = sub.add_parser("upto", help="apply the target migrations and their ancestors",
                       description="Apply the targets and every unapplied ancestor, in topological order.")
    common(p)
    p.add_argument("--schema", required=True, metavar="NAME", help="the schema (migration graph) to move")
    p.add_argument("--target", required=True, action="append", metavar="ID[,ID]", help="migration id(s) to apply")
    run_flags(p)
    accept_flags(p)
    p.set_defaults(handler=cmd_upto)

    p = sub.add_parser("downto", help="revert every applied descendant of the target migrations",
                       description="Revert every applied descendant of the targets (the targets stay applied), "
                       "newest first. Asks for confirmation unless --yes.")
    common(p)
    p.add_argument("--schema", required=True, metavar="NAME", help="the schema (migration graph) to move")
    p.add_argument("--target", required=True, action="append", metavar="ID[,ID]",
                   help="migration id(s) that stay applied; their applied descendants are reverted")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    run_flags(p)
    accept_flags(p)
    p.set_defaults(handler=cmd_downto)


def _run(args, plans: dict[str, callable], title: str, accepted: tuple | None = None) -> int:
    """Run each schema's compute function with its own Migrator; render events. `accepted`: the
    changed migrations accepted (gate_changed), when the caller asked before its confirmation."""
    from pgferry.engine.run.runner import Migrator
    from pgferry.tui.render import renderer

    defs = args._defs
    dsns = dsns_of(args, defs)
    conns = conns_of(args, defs)
    record_changed(args, defs, conns, gate_changed(args, defs, conns, list(plans)) if accepted is None else accepted)
    results = []
    with renderer(args.no_progress or args.json) as render:
        for schema, compute in plans.items():
            with Migrator(dsns[schema], defs.schemas[schema], run_options(args), on_event=render) as m:
                results.append(m.run(compute))
    if args.json:
        emit_json({"schemas": [{"name": r.schema, "applied": r.applied, "reverted": r.reverted,
                                 "seconds": round(r.seconds, 3)} for r in results]})
    return ExitCode.OK


def _preview(args, plans: dict[str, callable]) -> dict[str, list[Step]]:
    from pgferry.engine.bookkeeping.status import read_status

    defs = args._defs
    status = read_status(defs, dsns_of(args, defs), args.bookkeeping_schema, list(plans))
    return {s.name: plans[s.name](s.state.applied) for s in status.schemas}


def _dry_run(args, plans) -> int:
    previews = _preview(args, plans)
    if args.json:
        emit_json({"schemas": [{"name": n, "steps": [{"id": s.id, "up": s.up, "name": s.migration.name,
                                                         "backfill": list(s.backfill)} for s in steps]}
                                for n, steps in previews.items()]})
    else:
        for name, steps in previews.items():
            print_steps(f"{name}: {len(steps)} step(s) (dry run, nothing changed)", steps)
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

    dsns = dsns_of(args, args._defs)
    refuse_unrecorded(args._defs, {s: dsns[s] for s in plans}, args.bookkeeping_schema)


def _apply(args, plans: dict[str, callable], title: str) -> int:
    """`up` and `upto`: the run, its dry run, or (nothing to run) the lines a run would print."""
    if _nothing_to_run(args, plans):
        return _ran_nothing(args, plans)
    _refuse_unrecorded(args, plans)
    return _dry_run(args, plans) if args.dry_run else _run(args, plans, title)


def _nothing_to_run(args, plans) -> bool:
    """Nothing pending, read in one session per database (engine/bookkeeping/pending.py) instead of
    the checks' and migrators' own: for plain output, with no change to accept."""
    if args.dry_run or args.accept_changed or not (args.no_progress or args.json or not sys.stderr.isatty()):
        return False
    from pgferry.engine.bookkeeping.pending import nothing_to_run

    return nothing_to_run(args._defs, dsns_of(args, args._defs), plans, args.bookkeeping_schema)


def _ran_nothing(args, plans) -> int:
    from pgferry.tui.terminal import run_finished_line, run_started_line

    for name in plans:
        print(run_started_line(name, 0, ""), file=sys.stderr, flush=True)
        print(run_finished_line(name, 0, 0, 0.0), file=sys.stderr, flush=True)
    if args.json:
        emit_json({"schemas": [{"name": n, "applied": [], "reverted": [], "seconds": 0.0} for n in plans]})
    return ExitCode.OK


def cmd_up(args) -> int:
    defs = args._defs = definitions(args)
    names = args.schema or list(defs.schemas)
    for n in names:
        defs.schema(n)
    plans = {n: (lambda g: lambda applied: g.up(applied, g.leaves()))(defs.schemas[n]) for n in names}
    return _apply(args, plans, "up")


def _targeted(args):
    """The schema's graph and the checked --target ids of `upto`/`downto`."""
    defs = args._defs = definitions(args)
    ids = target_ids(args.target)
    _check_targets(defs, args.schema, ids)
    return defs.schemas[args.schema], ids


def cmd_upto(args) -> int:
    g, ids = _targeted(args)
    plans = {args.schema: lambda applied: g.up(applied, ids)}
    return _apply(args, plans, "upto")


def cmd_downto(args) -> int:
    g, ids = _targeted(args)
    plans = {args.schema: lambda applied: g.down(applied, ids)}
    if args.dry_run:
        return _dry_run(args, plans)
    accepted = gate_changed(args, args._defs, conns_of(args, args._defs), [args.schema])
    steps = _preview(args, plans)[args.schema]
    if not steps:
        record_changed(args, args._defs, conns_of(args, args._defs), accepted)
        print(f"{args.schema}: nothing to revert", file=sys.stderr)
        return ExitCode.OK
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("downto reverts migrations and needs confirmation", hint="re-run with --yes, or --dry-run to see the steps")
        print_steps(f"{args.schema}: {len(steps)} migration(s) will be reverted", steps)
        answer = input("Revert them? Type 'yes' to continue: ").strip().lower()
        if answer != "yes":
            print("nothing changed", file=sys.stderr)
            return ExitCode.FAILURE
    return _run(args, plans, "downto", accepted)
