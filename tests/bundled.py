"""The bundled product (migrations/): its releases, and a database moved between them in this process."""
from __future__ import annotations

import psycopg

from pgferry.engine.repair.describe import describe
from pgferry.engine.upgrade.upgrade import Connections, Upgrade, read_applied
from tests.support import bundled

DEFS = bundled()
RELEASES = [r.version for r in DEFS.releases.releases]
OLDEST = RELEASES[0]
NEWEST = DEFS.releases.latest().version
TARGETS = [r.version for r in DEFS.releases.releases if not r.pulled and r.channel == "stable"]


def upgrade(dsn: str, to: str, downgrade=None):
    conns = Connections({s: dsn for s in DEFS.schemas})
    return Upgrade(DEFS, conns).run(to, downgrade=downgrade)


def expected(version: str) -> dict[str, set[int]]:
    r = DEFS.release(version)
    return {s: set(DEFS.schemas[s].normalize(DEFS.required(r, s))) for s in DEFS.schemas}


def applied(dsn: str) -> dict[str, set[int]]:
    got = read_applied(DEFS, Connections({s: dsn for s in DEFS.schemas}))
    return {s: set(DEFS.schemas[s].normalize(ids)) for s, ids in got.items()}


def shape(dsn: str) -> dict:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return describe(conn)
