"""`pgferry server-upgrade`: move the product's own PostgreSQL cluster to a new major version with
pg_upgrade, checked before anything changes, explained, recorded step by step, and proven after
(engine/server/). Exit 0 done (or --dry-run with every check passing), 1 a check or a step failed
or an earlier upgrade was interrupted, 2 usage."""
from __future__ import annotations

import sys
from pathlib import Path

from pgferry.engine.errors import ExitCode, UsageError

from .flags import common, conns_of, definitions
from .output import emit_json, print_checks


def register(sub) -> None:
    p = sub.add_parser(
        "server-upgrade", help="upgrade the product's own PostgreSQL cluster to a new major version (pg_upgrade)",
        description="Checks first (the product's releases supporting the new major, extensions in the new binaries, "
        "collation providers, reg* columns, tablespaces, free disk, sessions, pg_upgrade --check), then stops the old "
        "server, runs pg_upgrade, starts the new server, updates extensions, analyzes, and proves with status, drift "
        "and check --release that the product is intact at the same release. Each step is recorded beside the new "
        "data directory: an interrupted upgrade is resumed (--resume) or rolled back (--rollback).")
    common(p)
    g = p.add_argument_group("clusters (pg_upgrade's names)")
    g.add_argument("--old-bindir", type=Path, metavar="DIR", help="the running server's bin directory")
    g.add_argument("--new-bindir", type=Path, metavar="DIR", help="the new major's bin directory")
    g.add_argument("--old-datadir", type=Path, metavar="DIR", help="the running cluster's data directory")
    g.add_argument("--new-datadir", type=Path, metavar="DIR",
                   help="where the new cluster goes (new or empty); its state file is beside it")
    r = p.add_argument_group("the upgrade")
    r.add_argument("--mode", choices=("copy", "clone", "link"), default="copy",
                   help="copy (slow, the old cluster stays usable), clone (copy-on-write filesystems), link (fast, "
                        "no way back once the new server starts; needs --backup or --no-backup); default copy")
    r.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel pg_upgrade and vacuumdb jobs")
    r.add_argument("--backup", type=Path, metavar="DIR", help="pg_dumpall the cluster into DIR before stopping it")
    r.add_argument("--no-backup", metavar="REASON", help="go without a backup in link mode, saying why")
    r.add_argument("--dry-run", action="store_true", help="run the checks and explain the choice; change nothing")
    r.add_argument("--yes", action="store_true", help="upgrade without asking")
    r.add_argument("--resume", action="store_true", help="continue an interrupted upgrade")
    r.add_argument("--rollback", action="store_true", help="start the old cluster again after an interrupted upgrade")
    m = p.add_argument_group("a managed service (no data directory)")
    m.add_argument("--managed", action="store_true",
                   help="the provider upgrades the server: the checks over the connection and its steps as a checklist")
    m.add_argument("--to-version", type=int, metavar="N", help="the major version the provider will move to (--managed)")
    m.add_argument("--verify", action="store_true",
                   help="after the provider's upgrade: status, drift, collation versions, check --release (--managed)")
    p.set_defaults(handler=cmd_server_upgrade)


def cmd_server_upgrade(args) -> int:
    from pgferry.engine.server.run import rollback

    if args.managed:
        return managed(args)
    if args.new_datadir is None:
        raise UsageError("server-upgrade needs --new-datadir (or --managed for a managed service)")
    if args.rollback:
        state = rollback(args.new_datadir, lambda e: None if args.json else print_event(e))
        if args.json:
            emit_json({"rolled_back": True, "state": state.as_dict()})
        return ExitCode.OK
    job = server_job(args)
    if args.resume:
        return run(args, job)
    interrupted = interrupted_state(args.new_datadir)
    if interrupted is not None:
        return report_interrupted(args, interrupted)
    inspection = job.inspect()
    if args.json and (args.dry_run or not inspection.ok):
        emit_json(inspection.as_dict())
    elif not args.json:
        print_inspection(inspection)
    if not inspection.ok or args.dry_run:
        return ExitCode.OK if inspection.ok else ExitCode.FAILURE
    if not args.yes and not confirm(inspection):
        print("nothing changed", file=sys.stderr)
        return ExitCode.FAILURE
    return run(args, job)


def server_job(args):
    from pgferry.engine.server.cluster import Binaries
    from pgferry.engine.server.modes import MODES
    from pgferry.engine.server.plan import Cluster, ServerUpgrade

    missing = [f"--{n.replace('_', '-')}" for n in ("old_bindir", "new_bindir", "old_datadir") if getattr(args, n) is None]
    if missing:
        raise UsageError(f"server-upgrade needs {', '.join(missing)}")
    if args.jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    defs = definitions(args)
    return ServerUpgrade(defs, conns_of(args, defs), Cluster(Binaries(args.old_bindir), args.old_datadir),
                         Cluster(Binaries(args.new_bindir), args.new_datadir), MODES[args.mode], args.jobs,
                         args.backup, args.no_backup)


def managed(args) -> int:
    from pgferry.engine.server.managed import inspect_managed, verify_managed

    defs = definitions(args)
    conns = conns_of(args, defs)
    if args.verify:
        checks = verify_managed(defs, conns)
        ok = not any(c.status == "fail" for c in checks)
        if args.json:
            emit_json({"ok": ok, "checks": [c.as_dict() for c in checks]})
        else:
            counts = print_checks(checks)
            print(f"verify: {counts['pass']} passed, {counts['warn']} warning(s), {counts['fail']} failed")
        return ExitCode.OK if ok else ExitCode.FAILURE
    if args.to_version is None:
        raise UsageError("--managed needs --to-version N (or --verify after the provider's upgrade)")
    found = inspect_managed(defs, conns, args.to_version)
    if args.json:
        emit_json(found.as_dict())
    else:
        counts = print_checks(found.checks)
        print(f"checks: {counts['pass']} passed, {counts['warn']} warning(s), {counts['fail']} failed")
        print(f"the provider's steps to PostgreSQL {found.to_major}:")
        for i, step in enumerate(found.steps, 1):
            print(f"  [ ] {i}. {step}")
    return ExitCode.OK if found.ok else ExitCode.FAILURE


def interrupted_state(new_datadir: Path):
    from pgferry.engine.server.state import load

    state = load(new_datadir)
    return state if state is not None and not state.finished else None


def report_interrupted(args, state) -> int:
    if args.json:
        emit_json({"ok": False, "interrupted": state.as_dict()})
    else:
        print(f"✗ a server upgrade to {state.new_datadir} ({state.mode} mode) was {state.position()}")
        print(f"  done: {', '.join(state.done) or 'nothing'}")
        for line in state.safe_actions():
            print(f"  {line}")
    return ExitCode.FAILURE


def run(args, job) -> int:
    from pgferry.engine.server.run import upgrade

    outcome = upgrade(job, lambda e: None if args.json else print_event(e), resume=args.resume)
    if args.json:
        emit_json(outcome.as_dict())
    else:
        print(f"✓ PostgreSQL upgraded in {outcome.seconds:.1f}s (downtime {outcome.downtime:.1f}s); the product is at "
              f"{outcome.state.release or 'no release'}, no drift")
        print(f"  the old cluster ({outcome.state.old_datadir}) is no longer needed once you are satisfied")
    return ExitCode.OK


def print_inspection(inspection) -> None:
    from pgferry.engine.sizes import human_size

    print(f"PostgreSQL {inspection.old_major} → {inspection.new_major}, product release "
          f"{inspection.release.version if inspection.release else 'none'}, data {human_size(inspection.data_bytes)}")
    counts = print_checks(inspection.checks)
    print(f"checks: {counts['pass']} passed, {counts['warn']} warning(s), {counts['fail']} failed "
          "(pg_upgrade --check runs once the new cluster is made)")
    print("modes:")
    for m in inspection.modes():
        chosen = "▶" if m["mode"] == inspection.mode.name else " "
        print(f" {chosen} {m['mode']:<5} ~{m['seconds']:.0f}s, {human_size(m['disk_bytes'])} more disk: {m['summary']}")
    print(f"rollback ({inspection.mode.name}):")
    for line in inspection.mode.rollback:
        print(f"  - {line}")
    print(f"backup: {inspection.backup_note}")


def confirm(inspection) -> bool:
    if not sys.stdin.isatty():
        print("refusing to stop the server without --yes (no terminal to ask on)", file=sys.stderr)
        return False
    answer = input(f"stop PostgreSQL {inspection.old_major} and upgrade it in {inspection.mode.name} mode? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def print_event(event) -> None:
    from pgferry.engine.events import ServerOutput, ServerStep

    if isinstance(event, ServerStep):
        if event.status == "started":
            print(f"▶ {event.step}" + (f": {event.detail}" if event.detail else ""), flush=True)
        elif event.detail:
            print(f"✓ {event.step}: {event.detail}", flush=True)
    elif isinstance(event, ServerOutput):
        print(f"    {event.line}", flush=True)
