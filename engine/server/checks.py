"""What must hold before a PostgreSQL major upgrade changes anything (issue 17 §1).

Each check reads the running old server (over the connection) or the binaries on disk and gives a
preflight `Check`: pass, warn or fail with its reason and fix. Only failures stop the upgrade.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Mapping

import psycopg
from psycopg import conninfo

from ..connection import connect
from ..definitions.catalog import Definitions
from ..definitions.releases import Release
from ..sizes import human_size
from ..upgrade.preflight import FAIL, PASS, WARN, Check
from .modes import Mode

# pg_upgrade refuses these in user tables: their values are OIDs that the new cluster renumbers
# (regclass, regrole and regtype are kept: pg_upgrade preserves those OIDs).
REG_TYPES = ("regcollation", "regconfig", "regdictionary", "regnamespace", "regoper", "regoperator",
             "regproc", "regprocedure")
REG_SQL = """
SELECT format('%%I.%%I.%%I', n.nspname, c.relname, a.attname), a.atttypid::regtype::text
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT a.attisdropped AND c.relkind IN ('r', 'm', 'p') AND a.atttypid::regtype::text = ANY(%s)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"""
EXTENSIONS_SQL = "SELECT extname, extversion FROM pg_extension ORDER BY 1"
STALE_SQL = """
SELECT e.extname, e.extversion, a.default_version FROM pg_extension e
JOIN pg_available_extensions a ON a.name = e.extname WHERE e.extversion IS DISTINCT FROM a.default_version
ORDER BY 1"""
PROVIDER_SQL = """
SELECT datname, CASE datlocprovider WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'libc' END,
       datcollate, coalesce(datcollversion, '') FROM pg_database WHERE datname = current_database()"""
ICU_COLLATIONS_SQL = """
SELECT count(*) FROM pg_collation c
WHERE c.collprovider = 'i' AND EXISTS (SELECT 1 FROM pg_index i WHERE c.oid = ANY(i.indcollation::oid[]))"""
ACTIVITY_SQL = """
SELECT pid, coalesce(application_name, ''), coalesce(client_addr::text, 'local'), coalesce(state, ''),
       coalesce(datname, '') FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY pid"""


@dataclass(frozen=True)
class Database:
    """One database of the old cluster, as the checks read it."""

    name: str
    extensions: tuple[tuple[str, str], ...]  # (name, installed version)
    provider: str
    collate: str
    collversion: str
    icu_collations: int
    reg_columns: tuple[tuple[str, str], ...]  # (schema.table.column, type)


def database_dsn(dsn: str, name: str) -> str:
    params = conninfo.conninfo_to_dict(dsn)
    params["dbname"] = name
    return conninfo.make_conninfo(**params)


def database_names(dsn: str) -> list[str]:
    """Every database of the cluster that accepts connections (template0 does not)."""
    with connect(dsn, role="server-upgrade") as conn:
        return [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1")]


def read_databases(dsn: str) -> list[Database]:
    return [_read_database(database_dsn(dsn, name)) for name in database_names(dsn)]


def stale_extensions(dsn: str) -> list[tuple[str, str, str, str]]:
    """(database, extension, installed version, the server's default) where the two differ."""
    out = []
    for name in database_names(dsn):
        with connect(database_dsn(dsn, name), role="server-upgrade") as conn:
            out += [(name, *row) for row in conn.execute(STALE_SQL).fetchall()]
    return out


def _read_database(dsn: str) -> Database:
    with connect(dsn, role="server-upgrade") as conn:
        name, provider, collate, collversion = conn.execute(PROVIDER_SQL).fetchone()
        return Database(name, tuple(conn.execute(EXTENSIONS_SQL).fetchall()), provider, collate, collversion,
                        conn.execute(ICU_COLLATIONS_SQL).fetchone()[0],
                        tuple(conn.execute(REG_SQL, [list(REG_TYPES)]).fetchall()))


# -- the product's releases -------------------------------------------------------------------

def check_releases(defs: Definitions, current: Release | None, new_major: int) -> Check:
    """The release the product stands at must support the new server; else name the first later one
    that does, to reach with `pgferry upgrade` (on the old server) before moving the server."""
    new = f"{new_major}.0"
    supporting = [r.version for r in defs.releases.releases if r.supports_server(new)]
    if current is None:
        return Check("product releases", WARN, "no release of the product is recorded in this database",
                     (f"releases supporting PostgreSQL {new_major}: {', '.join(supporting) or 'none'}",))
    details = (f"releases supporting PostgreSQL {new_major}: {', '.join(supporting) or 'none'}",)
    if current.supports_server(new):
        return Check("product releases", PASS, f"release {current.version} supports PostgreSQL {new_major}"
                     f" ({current.postgres or 'any version'})", details)
    later = [r for r in defs.releases.releases if r.key > current.key and r.supports_server(new)]
    if not later:
        return Check("product releases", FAIL, f"release {current.version} supports PostgreSQL {current.postgres}"
                     f" and no later release supports {new_major}", details,
                     fix=f"stay on the current server major; no release of the product runs on PostgreSQL {new_major}")
    first = later[0]
    return Check("product releases", FAIL, f"release {current.version} supports PostgreSQL {current.postgres}, "
                 f"not {new_major}: reach release {first.version} first", details,
                 fix=f"pgferry upgrade --to {first.version}   # on the old server, then run server-upgrade again")


# -- what the new binaries must have ------------------------------------------------------------

def check_extensions(databases: list[Database], available: Mapping[str, str | None]) -> Check:
    missing, updates = [], []
    for db in databases:
        for name, version in db.extensions:
            if name not in available:
                missing.append(f"{db.name}: {name} {version} has no {name}.control in the new binaries")
            elif available[name] != version:
                updates.append(f"{db.name}: {name} {version} → {available[name]} (ALTER EXTENSION ... UPDATE)")
            else:
                updates.append(f"{db.name}: {name} {version} (unchanged)")
    if missing:
        return Check("extensions", FAIL, f"{len(missing)} installed extension(s) missing from the new binaries",
                     tuple(missing), fix="install the extensions' packages for the new PostgreSQL (their "
                     "control and library files), or DROP EXTENSION them in the old cluster if unused")
    return Check("extensions", PASS, f"{sum(len(d.extensions) for d in databases)} installed extension(s), "
                 "all available in the new binaries", tuple(updates))


def check_collation_providers(databases: list[Database], new_has_icu: bool) -> Check:
    """ICU databases or ICU collations in indexes need ICU in the new binaries; a libc or ICU version
    change is checked again on the new server (its indexes may need a rebuild)."""
    details = tuple(f"{d.name}: {d.provider} {d.collate} version {d.collversion or 'unrecorded'}"
                    + (f", {d.icu_collations} ICU collation(s) in indexes" if d.icu_collations else "")
                    for d in databases)
    needs_icu = [d.name for d in databases if d.provider == "icu" or d.icu_collations]
    if needs_icu and not new_has_icu:
        return Check("collation providers", FAIL, f"{', '.join(needs_icu)} use(s) ICU; the new binaries are built "
                     "without ICU", details, fix="use binaries of the new major built with ICU (the distribution's)")
    return Check("collation providers", PASS, "the new binaries have every collation provider in use "
                 "(versions are compared again on the new server)", details)


def check_reg_columns(databases: list[Database]) -> Check:
    found = [f"{d.name}: {col} ({typ})" for d in databases for col, typ in d.reg_columns]
    if found:
        return Check("reg* columns", FAIL, f"{len(found)} column(s) of a reg* type pg_upgrade cannot carry over",
                     tuple(found), fix="ALTER TABLE ... ALTER COLUMN ... TYPE text (or drop them) in the old cluster")
    return Check("reg* columns", PASS, "no column of a reg* type pg_upgrade refuses")


def check_tablespaces(conn: psycopg.Connection) -> Check:
    rows = conn.execute("SELECT spcname, pg_tablespace_location(oid) FROM pg_tablespace "
                        "WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY 1").fetchall()
    if rows:
        return Check("tablespaces", WARN, f"{len(rows)} tablespace(s) outside the data directory: pg_upgrade adds "
                     "the new major's folder in each; their disks need the room too",
                     tuple(f"{n}: {loc}" for n, loc in rows))
    return Check("tablespaces", PASS, "every relation is in the data directory")


def check_disk(mode: Mode, data_bytes: int, free_bytes: int) -> Check:
    need = mode.disk_needed(data_bytes)
    text = f"{mode.name} mode needs ~{human_size(need)}; {human_size(free_bytes)} free beside the new data directory"
    if need > free_bytes:
        return Check("free disk", FAIL, text, fix="free space, put --new-datadir on a larger disk, or use --mode link")
    return Check("free disk", PASS, text)


def free_bytes(near) -> int:
    return shutil.disk_usage(near).free


def check_activity(conn: psycopg.Connection) -> Check:
    rows = conn.execute(ACTIVITY_SQL).fetchall()
    if rows:
        return Check("server activity", WARN, f"{len(rows)} other session(s) connected: stopping the server "
                     "ends them", tuple(f"pid {p} {app or '-'} from {client}, {state} in {db}"
                                        for p, app, client, state, db in rows),
                     fix="stop the product's application (or put it in maintenance) before the upgrade")
    return Check("server activity", PASS, "no other session connected")
