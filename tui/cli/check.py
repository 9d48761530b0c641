"""`pgferry check --release V`: for application start-up and readiness probes.

Exit 0 when the application of release V can run on the databases: every schema has all V needs,
the out-of-band migrations V needs are complete, and whatever is applied beyond V comes from
releases whose schema serves V (`compatible_with` in releases.yaml). The engine decides
(engine/run/readiness.py); this prints it. Strictly read-only: creates nothing and takes no lock.
"""
from __future__ import annotations

import sys

from .flags import common, definitions, dsns_of
from .output import emit_json


def register(sub) -> None:
    p = sub.add_parser(
        "check", help="exit 0 only if a release's application can run on the databases (for start-up and readiness probes)",
        description="Read-only (creates nothing, takes no lock): exit 0 if every schema has all --release needs, the "
        "out-of-band migrations that release needs are complete, and anything applied beyond it comes from releases "
        "whose schema serves it (compatible_with in releases.yaml); 1 if not; 4 if a migration's last attempt "
        "failed or its backend died; 6 if a database cannot be reached.")
    common(p)
    p.add_argument("--release", required=True, metavar="VERSION", help="the release the application expects")
    p.add_argument("--quiet", action="store_true", help="print nothing; the exit code says it all")
    p.set_defaults(handler=cmd_check)


def cmd_check(args) -> int:
    from pgferry.engine.run.readiness import read_readiness

    defs = definitions(args)
    readiness = read_readiness(defs, defs.release(args.release), dsns_of(args, defs), args.bookkeeping_schema)
    if args.json:
        emit_json(readiness.as_dict())
    elif not args.quiet:
        print_readiness(readiness)
    return readiness.exit_code


def print_readiness(readiness) -> None:
    from pgferry.engine.run.readiness import DIRTY

    version = readiness.release.version
    for s in readiness.schemas:
        if not s.missing and not s.extra:
            print(f"✓ {s.name} is at {version}")
        elif not s.missing and readiness.served:
            print(f"✓ {s.name} is at {version} + {len(s.extra)} migration(s) of releases that serve it")
        else:
            print(f"✗ {s.name}: {len(s.missing)} migration(s) of {version} missing, {len(s.extra)} beyond it")
    if readiness.beyond:
        froms = ", ".join(r.version for r in readiness.beyond)
        if readiness.not_serving:
            names = ", ".join(r.version for r in readiness.not_serving)
            print(f"✗ applied beyond {version}: migrations of {froms}; the schema of {names} does not serve {version} "
                  f"(compatible_with in releases.yaml)")
        else:
            print(f"✓ applied beyond {version}: migrations of {froms}, whose schema serves {version}")
    if readiness.unreleased:
        print(f"✗ {readiness.unreleased} migration(s) beyond {version} that no release holds")
    for o in readiness.out_of_band:
        print(f"{'✓' if o.complete else '✗'} out-of-band {o.id}: {o.progress:.0%}")
    if readiness.case == DIRTY:
        print("✗ a migration's last attempt failed or was interrupted: run `pgferry recover`", file=sys.stderr)
