"""A managed service's major upgrade (issue 17, `--managed`): no data directory and no pg_upgrade of
ours, so the checks that need only the connection, the provider's steps as a checklist, and after
the provider's upgrade (`--verify`) the same proof as a self-managed run's last step.
"""
from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from ..connection import connect
from ..definitions.catalog import Definitions
from ..errors import UsageError
from ..upgrade.planning import Connections
from ..upgrade.preflight import FAIL, PASS, WARN, Check
from ..upgrade.standing import read_standing
from . import checks
from .verify import product_checks

PROVIDER_STEPS = (
    "take a manual snapshot of the instance (the provider's console or CLI) and note its name",
    "stop the product's application (or put it in maintenance): the upgrade restarts the server",
    "create a parameter group for PostgreSQL {major} with the current group's custom settings",
    "start the major version upgrade to PostgreSQL {major} with that parameter group (RDS: "
    "modify-db-instance --engine-version {major}... --allow-major-version-upgrade; Cloud SQL: "
    "instances patch --database-version=POSTGRES_{major}; Azure: server upgrade --version {major})",
    "wait until the instance is available again",
    "pgferry server-upgrade --managed --verify   # status, drift, collations, check --release",
    "ALTER EXTENSION ... UPDATE where --verify lists one, then start the application",
)


@dataclass(frozen=True)
class ManagedCheck:
    to_major: int
    checks: tuple[Check, ...]
    steps: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "to_major": self.to_major, "checks": [c.as_dict() for c in self.checks],
                "steps": list(self.steps)}


def inspect_managed(defs: Definitions, conns: Connections, to_major: int) -> ManagedCheck:
    dsn = next(iter(conns.distinct()))
    with connect(dsn, role="server-upgrade") as conn:
        now = conn.info.server_version // 10000
        if to_major <= now:
            raise UsageError(f"the server runs PostgreSQL {now}; --to-version {to_major} is not newer")
        activity = checks.check_activity(conn)
    databases = checks.read_databases(dsn)
    release = read_standing(defs, conns).status.version.release
    installed = [f"{d.name}: {name} {version}" for d in databases for name, version in d.extensions
                 if name != "plpgsql"]
    found = (checks.check_releases(defs, release, to_major), checks.check_reg_columns(databases),
             Check("extensions", WARN if installed else PASS,
                   f"{len(installed)} extension(s) besides plpgsql: confirm the provider offers each on "
                   f"PostgreSQL {to_major}" if installed else "only plpgsql installed", tuple(installed)),
             activity)
    return ManagedCheck(to_major, found, tuple(s.format(major=to_major) for s in PROVIDER_STEPS))


def verify_managed(defs: Definitions, conns: Connections) -> list[Check]:
    """After the provider's upgrade: the product's proof, and the extensions left to update."""
    out = product_checks(defs, conns, None)
    stale = [f"{db}: {sql.SQL('ALTER EXTENSION {} UPDATE').format(sql.Identifier(ext)).as_string(None)};  -- {old} → {new}"
             for db, ext, old, new in checks.stale_extensions(next(iter(conns.distinct())))]
    out.append(Check("extensions", WARN if stale else PASS, f"{len(stale)} extension(s) older than the server's "
                     "default" if stale else "every extension at the server's default version", tuple(stale)))
    return out
