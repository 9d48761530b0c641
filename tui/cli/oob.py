"""`pgferry oob`: out-of-band (background) migrations: status, run, pause, resume."""
from __future__ import annotations

import sys

from pgferry.engine.errors import ExitCode, UsageError

from .flags import common, definitions, dsns_of
from .output import emit_json, oob_line


def register(sub) -> None:
    p = sub.add_parser("oob", help="out-of-band migrations: status, run, pause, resume",
                       description="Out-of-band (background) data migrations. `run` runs them in batches until done; "
                       "`pause` stops a runner (wherever it runs) at its next batch; `resume` clears the pause and runs.")
    common(p)
    p.add_argument("action", choices=["status", "run", "pause", "resume"], help="what to do")
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="out-of-band migration ids (default: all)")
    p.add_argument("--reverse", action="store_true", help="run: apply the down batches (undo)")
    p.add_argument("--batch-seconds", type=float, default=None, metavar="SEC", help="target duration of one batch")
    p.add_argument("--no-progress", action="store_true", help="plain lines instead of the live display")
    p.set_defaults(handler=cmd_oob)


def cmd_oob(args) -> int:
    from pgferry.engine.run.background import BackgroundOptions, BackgroundRunner, OutOfBandStore
    from pgferry.engine.connection import connect
    from pgferry.engine.run.oobstate import read_database_states, refuse_unmeasured, select_for_run
    from pgferry.engine.safetext import printable
    from pgferry.tui.render import renderer

    defs = definitions(args)
    dsns = dsns_of(args, defs)
    oobs = defs.out_of_band
    ids = args.ids or sorted(oobs)
    for i in ids:
        if i not in oobs:
            raise UsageError(f"no out-of-band migration {i}", hint=f"known: {', '.join(map(str, sorted(oobs))) or 'none'}")
    if args.action == "status":
        rows = [s.row() for s in read_database_states(defs, dsns, args.bookkeeping_schema, ids).values()]
        if args.json:
            emit_json({"out_of_band": [r.as_dict() for r in rows]})
        else:
            for r in rows:
                print(oob_line(r))
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
