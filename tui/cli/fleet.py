"""`pgferry fleet status|plan|upgrade|pause|resume|report|ui`: many instances of one product, from an
inventory file, upgraded ring by ring and tracked in one coordinator database (engine/fleet/)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pgferry.engine.errors import ExitCode, UsageError
from pgferry.engine.safetext import printable

from .flags import EPILOG, definitions, run_flags, run_options
from .fleet_views import print_plans, print_result, print_status, progress
from .output import emit_json, output

ACTIONS = {
    "status": "each instance's release, dirty or unreachable, its upgrade in progress; grouped by release (read-only)",
    "plan": "each instance's own plan to a release, totals per ring, privileged steps, who cannot go (read-only)",
    "upgrade": "upgrade the fleet ring by ring: max_parallel at once, readiness and a bake after each ring",
    "pause": "pause the fleet run, or one instance, at its next safe point",
    "resume": "resume a paused fleet run, or one instance",
    "report": "the fleet run's tracking report (Markdown): per ring, per instance",
    "ui": "the fleet screen of the terminal UI: rings, instances and their progress, pause and resume",
}


def register(sub) -> None:
    p = sub.add_parser("fleet", help="upgrade many instances from an inventory, ring by ring (status, plan, upgrade, "
                       "pause, resume, report)",
                       description="Fleet upgrades: the instances listed in an inventory file (YAML: rings, defaults, "
                       "instances with their DSN and labels), upgraded ring by ring, with the state of the run in a "
                       "coordinator PostgreSQL database shared by every operator and coordinator. Every action "
                       "takes --inventory FILE, --migrations DIR and --json (`pgferry fleet ACTION --help`); the "
                       "operating guide is docs/guides/fleet.md.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="fleet_action", metavar="action", required=True)
    for action, text in ACTIONS.items():
        a = actions.add_parser(action, help=text, description=text[0].upper() + text[1:] + ".")
        a.add_argument("--inventory", required=True, metavar="FILE", help="the fleet's inventory (YAML)")
        a.add_argument("--migrations", metavar="DIR", help="migration definitions (default: the bundled migrations/)")
        a.add_argument("--bookkeeping-schema", metavar="NAME", help="PostgreSQL schema holding migration_logs (default: public)")
        if action != "ui":
            a.add_argument("--json", action="store_true", help="machine-readable output on stdout")
        if action in ("status", "plan", "upgrade"):
            a.add_argument("--ring", metavar="RING", help="only the instances of this ring")
            a.add_argument("--select", action="append", default=[], metavar="LABEL=VALUE",
                           help="only instances with this label (repeatable: all must match)")
        if action in ("plan", "upgrade"):
            a.add_argument("--to", required=True, metavar="VERSION", help="target release, or 'latest'")
        if action in ("pause", "resume"):
            a.add_argument("--instance", metavar="NAME", help="only this instance (default: the whole fleet run)")
        if action == "plan":
            a.add_argument("--bundle-dir", metavar="DIR",
                           help="write each instance's privileged steps for a DBA to DIR/<instance>.sql (owner-only)")
        if action == "upgrade":
            a.add_argument("--bake-seconds", type=float, metavar="SEC",
                           help="wait this long after each ring instead of the inventory's bake_minutes")
            a.add_argument("--yes", action="store_true", help="do not ask for confirmation")
            run_flags(a)
        if action == "report":
            a.add_argument("--out", metavar="FILE", help="write the report to FILE (owner-only) instead of stdout")
        a.set_defaults(handler=HANDLERS[action])


def embedded_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("pgferry")) / "fleet-postgres"


def _inventory(args):
    from pgferry.engine.fleet.inventory import load_inventory

    return load_inventory(args.inventory)


def _store(inventory):
    from pgferry.engine.fleet.state import coordinator_dsn, open_store

    return open_store(coordinator_dsn(inventory, embedded_dir()))


def _selection(args, inventory):
    from pgferry.engine.fleet.inventory import parse_selectors

    chosen = inventory.select(getattr(args, "ring", None), parse_selectors(getattr(args, "select", [])))
    if not chosen:
        raise UsageError(f"no instance of {args.inventory} matches --ring/--select")
    return chosen


def _loaded(args):
    defs = definitions(args)
    inventory = _inventory(args)
    inventory.check_schemas(list(defs.schemas))
    return defs, inventory


def cmd_status(args) -> int:
    from pgferry.engine.fleet.survey import each_instance, read_instance

    defs, inventory = _loaded(args)
    rows = each_instance(_selection(args, inventory), lambda i: read_instance(defs, i, args.bookkeeping_schema),
                         inventory.defaults.max_parallel)
    if args.json:
        emit_json({"fleet": inventory.name, "instances": [r.as_dict() for r in rows]})
    else:
        print_status(inventory, rows)
    return ExitCode.OK if all(not r.problem for r in rows) else ExitCode.CONNECT


def cmd_plan(args) -> int:
    from pgferry.engine.fleet.survey import each_instance, plan_instance
    from pgferry.engine.upgrade.planning import resolve_target
    from pgferry.engine.userdirs import private_dir, write_private

    defs, inventory = _loaded(args)
    to = resolve_target(defs, args.to).version
    plans = each_instance(_selection(args, inventory), lambda i: plan_instance(defs, i, to, args.bookkeeping_schema),
                          inventory.defaults.max_parallel)
    bundles = [p for p in plans if p.privileged is not None]
    if args.bundle_dir and bundles:
        folder = private_dir(Path(args.bundle_dir))
        for p in bundles:
            write_private(str(folder / f"{p.instance.name}.sql"), p.privileged.to_sql())
    if args.json:
        emit_json({"fleet": inventory.name, "to": to, "rings": list(inventory.rings), "instances": [p.as_dict() for p in plans]})
    else:
        print_plans(inventory, to, plans, args.bundle_dir)
    return ExitCode.OK


def cmd_upgrade(args) -> int:
    from pgferry.engine.fleet.coordinator import Coordinator, FleetOptions
    from pgferry.engine.fleet.inventory import parse_selectors
    from pgferry.engine.upgrade.planning import resolve_target

    defs, inventory = _loaded(args)
    _selection(args, inventory)
    if not args.yes and not args.dry_run:
        raise UsageError("fleet upgrade changes every selected instance and needs confirmation",
                         hint="`pgferry fleet plan` shows what each would do; re-run with --yes")
    to = resolve_target(defs, args.to).version
    if args.dry_run:
        return cmd_plan(argparse.Namespace(**{**vars(args), "to": to, "bundle_dir": None}))
    options = FleetOptions(to, args.ring, parse_selectors(args.select), args.bake_seconds, run_options(args))
    store = _store(inventory)
    try:
        result = Coordinator(defs, inventory, store, options, on_event=progress).run()
    finally:
        store.conn.close()
    if args.json:
        emit_json({"run_id": result.run.id, "status": result.run.status, "reason": result.run.reason, "ok": result.ok,
                   "instances": [s.as_dict() for s in result.states]})
    else:
        print_result(result)
    return ExitCode.OK if result.ok else ExitCode.FAILURE


def _current_run(store, inventory):
    run = store.current(inventory.name)
    if run is None:
        raise UsageError(f"fleet {inventory.name} has no unfinished run", hint="`pgferry fleet upgrade` starts one")
    return run


def cmd_pause(args) -> int:
    from pgferry.engine.fleet.control import pause_fleet, pause_one
    from pgferry.engine.fleet.state import coordinator_name

    inventory = _inventory(args)
    store = _store(inventory)
    run = _current_run(store, inventory)
    if args.instance is None:
        said = pause_fleet(store, run, coordinator_name())
    else:
        said = pause_one(store, run, inventory.instance(args.instance), coordinator_name(), definitions(args),
                         args.bookkeeping_schema)
    return _said(args, said, run.id)


def cmd_resume(args) -> int:
    from pgferry.engine.fleet.control import resume_fleet, resume_one

    inventory = _inventory(args)
    store = _store(inventory)
    run = _current_run(store, inventory)
    said = resume_fleet(store, run) if args.instance is None else resume_one(store, run, inventory.instance(args.instance))
    return _said(args, said, run.id)


def _said(args, text: str, run_id: int) -> int:
    if args.json:
        emit_json({"run_id": run_id, "message": text})
    else:
        print(printable(text, one_line=True), file=sys.stderr)
    return ExitCode.OK


def cmd_report(args) -> int:
    import json

    from pgferry.engine.fleet.report import build_fleet_report, to_markdown

    defs, inventory = _loaded(args)
    store = _store(inventory)
    run = store.latest(inventory.name)
    if run is None:
        raise UsageError(f"fleet {inventory.name} has no run recorded", hint="`pgferry fleet upgrade` starts one")
    report = build_fleet_report(defs, inventory, run, store.states(run.id), args.bookkeeping_schema,
                                inventory.defaults.max_parallel)
    output(args, json.dumps(report.as_dict(), indent=2, default=str) + "\n" if args.json else to_markdown(report))
    return ExitCode.OK


def cmd_ui(args) -> int:
    """The fleet screen: an action like the others (each takes --inventory), where `pgferry` alone
    opens the overview because the top level has no required command."""
    from pgferry.engine.fleet.state import coordinator_dsn
    from pgferry.tui.app import PgferryApp
    from pgferry.tui.app.fleet_model import FleetSource

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("fleet ui draws on a terminal and this is not one",
                         hint="`pgferry fleet status` or `pgferry fleet report` print the fleet instead")
    inventory = _inventory(args)
    fleet = FleetSource(inventory, coordinator_dsn(inventory, embedded_dir()), args.migrations, args.bookkeeping_schema)
    app = PgferryApp(theme=args.theme, fleet=fleet)
    app.run()
    return int(app.return_code or 0)


HANDLERS = {"status": cmd_status, "plan": cmd_plan, "upgrade": cmd_upgrade, "pause": cmd_pause, "resume": cmd_resume,
            "report": cmd_report, "ui": cmd_ui}
