"""After the server moved (issue 17 §3): pgferry's own status, drift, collation versions and
readiness prove the product intact on the new server, each as a preflight-style Check."""
from __future__ import annotations

from ..connection import connect
from ..definitions.catalog import Definitions
from ..repair import drift
from ..run.readiness import read_readiness
from ..upgrade.collation import read_state
from ..upgrade.planning import Connections
from ..upgrade.preflight import FAIL, PASS, Check, check_server
from ..upgrade.standing import read_standing


def product_checks(defs: Definitions, conns: Connections, expected: str | None) -> list[Check]:
    """`expected`: the release the databases stood at before the move (None: whatever they stand at)."""
    release = read_standing(defs, conns).status.version.release
    now = release.version if release else None
    out = [Check("status", PASS if now == expected or expected is None else FAIL,
                 f"the product stands at {now or 'no release'}" + (f"; it was at {expected}" if expected else ""))]
    if release is not None:
        with connect(next(iter(conns.distinct())), role="server-upgrade") as conn:
            out.append(check_server(conn, release))
    out.append(_drift(defs, conns))
    out += [_collations(dsn, conns.bookkeeping_schema) for dsn in conns.distinct()]
    if release is not None:
        ready = read_readiness(defs, release, conns.dsns, conns.bookkeeping_schema)
        out.append(Check(f"check --release {release.version}", PASS if ready.ok else FAIL, ready.case,
                         fix=None if ready.ok else f"pgferry check --release {release.version} says why"))
    return out


def _drift(defs: Definitions, conns: Connections) -> Check:
    reports = drift.check(defs, conns.dsns, bookkeeping_schema=conns.bookkeeping_schema)
    diffs = [(r.database, d) for r in reports for d in r.differences]
    if any(r.drifted for r in reports):
        return Check("drift", FAIL, f"{len(diffs)} difference(s) from the release's shape",
                     tuple(f"{db}: {d.key} {d.problem}" for db, d in diffs[:20]), fix="pgferry drift shows them with their fixes")
    return Check("drift", PASS, "every database has its release's shape")


def _collations(dsn: str, bookkeeping_schema: str) -> Check:
    with connect(dsn, role="server-upgrade") as conn:
        state = read_state(conn, bookkeeping_schema)
    if state.sound:
        return Check("collation versions", PASS, f"{state.database}: no collation version changed under an index")
    return Check("collation versions", FAIL, f"{state.database}: {len(state.flagged)} collation version change(s); "
                 f"{len(state.affected)} index(es) may sort differently now",
                 tuple(f.describe() for f in state.flagged),
                 fix="pgferry preflight shows the REINDEX statements; pgferry collations --acknowledge once checked")


def first_failure(checks: list[Check]) -> Check | None:
    return next((c for c in checks if c.status == FAIL), None)
