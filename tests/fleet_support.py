"""A fleet of the small product for the fleet tests: instances are databases cloned from one at
1.0.0, on the session server and, when one is installed, a server of another major as well."""
from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import conninfo

from tests.support import SMALL, clone_database, query


def install_template(server, migrations: Path = SMALL) -> str:
    """A database on `server` with the product at 1.0.0; its name (a template for clones)."""
    from pgferry.engine.definitions.catalog import load
    from pgferry.engine.upgrade.planning import Connections
    from pgferry.engine.upgrade.upgrade import Upgrade

    defs = load(migrations)
    dsn = server.create_database("fleettpl")
    Upgrade(defs, Connections({s: dsn for s in defs.schemas})).run("1.0.0")
    return conninfo.conninfo_to_dict(dsn)["dbname"]


def write_inventory(path: Path, coordinator: str, instances: list[dict], *, max_parallel: int = 4,
                    halt_after_failures: int = 1, rings=("canary", "early", "general")) -> Path:
    """instances: {name, ring, dsn, paused?, superuser_dsn_env?}; YAML written by hand, as an operator would."""
    lines = [f"name: {path.stem}", f"coordinator: '{coordinator}'", f"rings: [{', '.join(rings)}]",
             f"defaults: {{max_parallel: {max_parallel}, halt_after_failures: {halt_after_failures}, bake_minutes: 0}}",
             "instances:"]
    for i in instances:
        lines.append(f"  - name: {i['name']}")
        lines.append(f"    ring: {i['ring']}")
        lines.append(f"    dsn: '{i['dsn']}'")
        lines.append(f"    labels: {{region: {i.get('region', 'eu')}}}")
        for key in ("paused", "superuser_dsn_env"):
            if i.get(key):
                lines.append(f"    {key}: {i[key]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def clone_fleet(servers: list[tuple[object, str]], rings: dict[str, int], prefix: str = "i") -> list[dict]:
    """rings {ring: how many}: instances named <prefix><n>, spread over `servers` [(server, template)]."""
    out, n = [], 0
    for ring, count in rings.items():
        for _ in range(count):
            server, template = servers[n % len(servers)]
            out.append({"name": f"{prefix}{n:02d}", "ring": ring, "dsn": clone_database(server, template)})
            n += 1
    return out


def upgrade_runs(dsn: str) -> list[tuple]:
    """(from, to, status) of every upgrade_runs row of an instance, oldest first."""
    return query(dsn, "SELECT from_version, to_version, status FROM upgrade_runs ORDER BY id")


def applied_twice(dsn: str) -> list[tuple]:
    """Migrations applied more than once (success rows going up): must be none."""
    return query(dsn, "SELECT schema, version, count(*) FROM migration_logs WHERE up AND success AND NOT backfilled "
                      "GROUP BY 1, 2 HAVING count(*) > 1")


def break_migration(dsn: str) -> None:
    """An `events` table of another shape: main 15's INSERT fails on it (its CREATE is IF NOT EXISTS)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id int)")
