"""`pgferry preflight`: read-only checks before an upgrade."""
from __future__ import annotations

from pgferry.engine.errors import ExitCode

from .flags import common, conns_of, definitions
from .output import emit_json, print_checks


def register(sub) -> None:
    p = sub.add_parser("preflight", help="checks before an upgrade: server, collations, indexes, sessions, migrators, extensions",
                       description="Read-only checks before an upgrade to a release. Each check passes, warns or fails "
                       "with a one-line reason and, where there is one, a fix. Exit 1 if any check fails; warnings "
                       "do not fail. --backup is the only option that writes (a pg_dump file).")
    common(p)
    p.add_argument("--to", required=True, metavar="VERSION", help="target release, or 'latest'")
    p.add_argument("--channel", default="stable", help="release channel for --to latest (default: stable)")
    p.add_argument("--amcheck", action="store_true", help="run bt_index_check (heapallindexed) on the indexes a collation "
                   "version change affects (needs the amcheck extension)")
    p.add_argument("--backup", metavar="DIR", help="take a pg_dump -Fc of each database into DIR (files mode 0600)")
    p.add_argument("--long-query", type=float, default=60.0, metavar="SEC",
                   help="warn about queries running longer than SEC (default 60)")
    p.add_argument("--idle-in-transaction", type=float, default=10.0, metavar="SEC",
                   help="warn about sessions idle in a transaction longer than SEC (default 10)")
    p.set_defaults(handler=cmd_preflight)

    p = sub.add_parser("collations", help="collation versions in use, changes since pgferry last trusted them, and the "
                       "indexes they affect", description="Lists each database's flagged collations (a library "
                       "version that changed since pgferry recorded it, or that differs from the server's record) and "
                       "the indexes on them, with table and size. Exit 1 while any is flagged. --acknowledge records "
                       "the current versions as checked, with your name, so they are not flagged again; `pgferry "
                       "upgrade` rebuilds the indexes instead.")
    common(p)
    p.add_argument("--acknowledge", action="store_true",
                   help="record the flagged versions as checked by you (after preflight --amcheck, or a rebuild by hand)")
    p.add_argument("--by", metavar="NAME", help="who acknowledges (default: the login user)")
    p.set_defaults(handler=cmd_collations)


def cmd_preflight(args) -> int:
    from pgferry.engine.upgrade.preflight import FAIL, Thresholds, preflight_plan, run_preflight

    defs = definitions(args)
    conns = conns_of(args, defs)
    plan = preflight_plan(defs, conns, args.to, args.channel)
    checks = run_preflight(defs, conns, plan, thresholds=Thresholds(args.long_query, args.idle_in_transaction),
                           amcheck=args.amcheck, backup_dir=args.backup)
    ok = not any(c.status == FAIL for c in checks)
    if args.json:
        emit_json({"checks": [c.as_dict() for c in checks], "ok": ok})
        return ExitCode.OK if ok else ExitCode.FAILURE
    counts = print_checks(checks)
    print(f"preflight to {plan.to_version}: {counts['pass']} passed, {counts['warn']} warning(s), "
          f"{counts['fail']} failed")
    return ExitCode.OK if ok else ExitCode.FAILURE


def cmd_collations(args) -> int:
    from pgferry.engine.connection import connect
    from pgferry.engine.upgrade.collation import acknowledge, read_state

    defs = definitions(args)
    conns = conns_of(args, defs)
    states = []
    for dsn in conns.distinct():
        if args.acknowledge:
            states.append(acknowledge(dsn, conns.bookkeeping_schema, args.by))
            continue
        with connect(dsn, role="status") as conn:
            states.append(read_state(conn, conns.bookkeeping_schema))
    flagged = any(s.flagged for s in states)
    if args.json:
        emit_json({"acknowledged": bool(args.acknowledge and flagged), "databases": [s.as_dict() for s in states]})
    else:
        for s in states:
            if not s.flagged:
                print(f"{s.database}: {sum(1 for v in s.versions if v.actual_version)} versioned collation(s), none changed")
                continue
            verb = "acknowledged" if args.acknowledge else "flagged"
            for f in s.flagged:
                print(f"{s.database}: {verb} {f.describe()}")
            for r in s.reindex():
                print(f"  index {r.describe()}")
    return ExitCode.FAILURE if flagged and not args.acknowledge else ExitCode.OK
