"""`pgferry check --release V`: for application start-up and readiness probes.

Exit 0 only if every schema is exactly at V and the out-of-band migrations V needs are complete.
Strictly read-only: creates nothing and takes no lock, so it is safe to run from every replica
of the application at once, even while an upgrade holds the migrator locks.
"""
from __future__ import annotations

import sys

from pgferry.engine.errors import ExitCode

from .flags import common, definitions, dsns_of
from .output import emit_json


def register(sub) -> None:
    p = sub.add_parser(
        "check", help="exit 0 only if the databases are exactly at a release (for start-up and readiness probes)",
        description="Read-only (creates nothing, takes no lock): exit 0 if every schema is at --release and the "
        "out-of-band migrations that release needs are complete; 1 if not; 4 if a migration's last attempt "
        "failed or its backend died; 6 if a database cannot be reached.")
    common(p)
    p.add_argument("--release", required=True, metavar="VERSION", help="the release the application expects")
    p.add_argument("--quiet", action="store_true", help="print nothing; the exit code says it all")
    p.set_defaults(handler=cmd_check)


def cmd_check(args) -> int:
    from pgferry.engine.run.background import OutOfBandStore
    from pgferry.engine.bookkeeping.bookkeeping import MigrationLog
    from pgferry.engine.connection import connect

    defs = definitions(args)
    dsns = dsns_of(args, defs)
    release = defs.release(args.release)
    schemas, oobs, dirty = [], [], False
    conns: dict[str, object] = {}
    try:
        for name, graph in defs.schemas.items():
            dsn = dsns[name]
            conn = conns.setdefault(dsn, connect(dsn, role="check"))
            state = MigrationLog(conn, args.bookkeeping_schema).state(name)
            dirty = dirty or state.dirty
            done = graph.normalize(state.applied)
            want = defs.required(release, name)
            missing = sorted(want - done)
            extra = sorted(set(done) - want - set(graph.squashes))
            schemas.append({"name": name, "at_release": not missing and not extra, "missing": missing,
                            "extra": extra, "dirty": state.dirty})
        for o in defs.out_of_band.values():
            if not o.deprecated or defs.release(o.deprecated).key > release.key:
                continue  # only migrations deprecated at or before the release must be complete
            conn = conns.setdefault(dsns[o.schema], connect(dsns[o.schema], role="check"))
            record = OutOfBandStore(conn, args.bookkeeping_schema).get(o.id)
            progress = record.progress if record else None
            oobs.append({"id": o.id, "progress": progress, "complete": progress is not None and progress >= 1})
    finally:
        for c in conns.values():
            c.close()
    ok = all(s["at_release"] for s in schemas) and all(o["complete"] for o in oobs)
    code = ExitCode.DIRTY if dirty else (ExitCode.OK if ok else ExitCode.FAILURE)
    if args.json:
        emit_json({"release": release.version, "ok": ok and not dirty, "schemas": schemas, "out_of_band": oobs})
    elif not args.quiet:
        for s in schemas:
            if s["at_release"]:
                print(f"✓ {s['name']} is at {release.version}")
            else:
                print(f"✗ {s['name']}: {len(s['missing'])} migration(s) of {release.version} missing, "
                      f"{len(s['extra'])} beyond it")
        for o in oobs:
            mark = "✓" if o["complete"] else "✗"
            prog = "never run" if o["progress"] is None else f"{o['progress']:.0%}"
            print(f"{mark} out-of-band {o['id']}: {prog}")
        if dirty:
            print("✗ a migration's last attempt failed or was interrupted: run `pgferry recover`", file=sys.stderr)
    return code
