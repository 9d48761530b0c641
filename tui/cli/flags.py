"""Flags several commands share (definitions, connection, running) and what they resolve to."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Sequence

from pgferry.engine.connection import known_secrets, schema_dsns
from pgferry.engine.definitions.catalog import Definitions, bundled_migrations_dir, load
from pgferry.engine.errors import UsageError

if TYPE_CHECKING:
    from pgferry.engine.run.session import RunOptions

EPILOG = """\
exit codes: 0 success, 1 failure, 2 usage error or invalid definitions, 3 a privileged
step needs someone else, 4 dirty database, 5 drift found, 6 cannot connect, 7 another migrator
holds the lock (restore).
connection: --schema-dsn NAME=DSN, else --dsn, else PGFERRY_DSN_<NAME> (e.g. PGFERRY_DSN_CODEINTEL),
else PGFERRY_DSN, else libpq's PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE.
"""

# Flags that mean the same before the command (`pgferry --dsn X status`, like `git -C`) and after it.
PLACED = ("migrations", "dsn", "schema_dsn", "bookkeeping_schema")
BEFORE = "before_"  # dest prefix of their top-level copies, merged into the command's by `merge_placements`


def definition_flag(g, prefix: str = "") -> None:
    g.add_argument("--migrations", dest=prefix + "migrations", metavar="DIR",
                   help="migration definitions (default: the bundled migrations/)")


def connection_flags(g, prefix: str = "") -> None:
    g.add_argument("--dsn", dest=prefix + "dsn", metavar="DSN", help="connection string (else PGFERRY_DSN, else libpq PG* variables)")
    g.add_argument("--schema-dsn", dest=prefix + "schema_dsn", action="append", default=[], metavar="NAME=DSN",
                   help="connection for one schema (repeatable), e.g. codeintel=postgresql://.../codeintel")
    # No default here: "public" is filled in after both placements are merged.
    g.add_argument("--bookkeeping-schema", dest=prefix + "bookkeeping_schema", metavar="NAME",
                   help="PostgreSQL schema holding migration_logs (default: public)")


def common(p: argparse.ArgumentParser, *, db: bool = True, json_flag: bool = True) -> None:
    definition_flag(p.add_argument_group("definitions"))
    if db:
        connection_flags(p.add_argument_group("connection"))
    if json_flag:
        p.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def run_flags(p: argparse.ArgumentParser) -> None:
    r = p.add_argument_group("running")
    r.add_argument("--dry-run", action="store_true", help="print the steps, change nothing")
    r.add_argument("--lock-timeout", type=float, default=3.0, metavar="SEC",
                   help="how long one DDL statement may wait for a table lock before rolling back and retrying (default 3)")
    r.add_argument("--lock-retries", type=int, default=5, metavar="N", help="retries after a lock timeout (default 5)")
    r.add_argument("--cic-lock-timeout", type=float, default=300.0, metavar="SEC",
                   help="lock timeout for CREATE INDEX CONCURRENTLY (default 300)")
    r.add_argument("--idle-in-transaction-timeout", type=float, default=10.0, metavar="SEC",
                   help="the server ends a migration session idle inside a transaction this long, freeing its locks "
                        "(a process stopped with Ctrl-Z); 0 never (default 10)")
    r.add_argument("--lock-wait", type=float, default=None, metavar="SEC",
                   help="give up waiting for another migrator after SEC seconds (default: wait)")
    r.add_argument("--no-progress", action="store_true", help="plain lines instead of the live display")
    r.add_argument("--superuser-dsn", metavar="DSN",
                   help="a superuser connection used only for the privileged steps (never shown)")


def definitions(args) -> Definitions:
    return load(args.migrations or bundled_migrations_dir())


def dsns_of(args, defs: Definitions) -> dict[str, str]:
    """Each schema's connection from --schema-dsn, --dsn and the environment (engine.connection.schema_dsns)."""
    return schema_dsns(defs.schemas, args.dsn, args.schema_dsn)


def conns_of(args, defs: Definitions):
    from pgferry.engine.connection import Connections

    return Connections(dsns_of(args, defs), args.bookkeeping_schema)


def target_ids(values: Sequence[str]) -> list[int]:
    out = []
    for v in values:
        for part in v.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.append(int(part))
            except ValueError:
                raise UsageError(f"--target expects migration ids, got {part!r}") from None
    return out


def run_options(args) -> RunOptions:
    from pgferry.engine.run.session import RunOptions

    return RunOptions(
        bookkeeping_schema=args.bookkeeping_schema,
        lock_timeout=args.lock_timeout,
        lock_retries=args.lock_retries,
        cic_lock_timeout=args.cic_lock_timeout,
        lock_wait=args.lock_wait,
        idle_in_transaction_timeout=args.idle_in_transaction_timeout,
        privileged_dsn=getattr(args, "superuser_dsn", None),
    )


def secrets_of(args) -> list[str]:
    """Every DSN this invocation may know, for scrubbing what it prints or writes."""
    flags = [getattr(args, n, None) for n in ("dsn", BEFORE + "dsn", "superuser_dsn", "admin_dsn")]
    per_schema = [*(getattr(args, "schema_dsn", None) or []), *(getattr(args, BEFORE + "schema_dsn", None) or [])]
    return known_secrets(*flags, schema_dsn=per_schema)
