"""What the overview shows, read from the database by the engine (no Textual here)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pgferry.engine.definitions.catalog import Definitions, bundled_migrations_dir, load
from pgferry.engine.definitions.defcache import fingerprint
from pgferry.engine.connection import Sessions, known_secrets, schema_dsns, schema_env, scrub
from pgferry.engine.errors import PgferryError, server_message
from pgferry.engine.safetext import printable
from pgferry.engine.bookkeeping.runs import RunStore, UpgradeRun
from pgferry.engine.bookkeeping.status import DatabaseStatus
from pgferry.engine.run.oobstate import OobRow
from pgferry.engine.upgrade.planning import Connections, make_plan
from pgferry.engine.upgrade.standing import read_standing
from pgferry.engine.repair.unrecorded import Unrecorded


@dataclass(frozen=True)
class Source:
    """Where the app reads from: the definitions and the connection settings."""

    migrations: str | None = None
    dsn: str | None = None
    schema_dsn: tuple[str, ...] = ()
    bookkeeping_schema: str = "public"
    # Offered (never shown) for running privileged steps; the demo sets the embedded superuser.
    superuser_dsn: str | None = None
    read_only: bool = False  # `pgferry watch`: every action that writes is dimmed
    # The exact command that opens this view again (`pgferry demo` for the demo's databases, which
    # a plain `pgferry` cannot find); None: pgferry with the same connection settings.
    reopen: str | None = None

    def come_back(self) -> str:
        """How to come back to a run after leaving the app, in words that work for this source."""
        if self.reopen:
            return f"run `{self.reopen}` again"
        return "run pgferry again with the same connection settings, or pgferry watch,"

    def secrets(self) -> list[str]:
        """Every DSN that may carry a password, for scrubbing messages."""
        return known_secrets(self.dsn, self.superuser_dsn, schema_dsn=self.schema_dsn)

    def definitions(self) -> Definitions:
        """Loaded once per directory and content: every screen plans from the same definitions until
        a file changes (a migration fixed during a recovery is the fixed text everywhere after)."""
        path = self.migrations or str(bundled_migrations_dir())
        stamp = fingerprint(Path(path))
        return _definitions_of(path, stamp[0] if stamp else None)

    def connections(self) -> Connections:
        return Connections(schema_dsns(self.definitions().schemas, self.dsn, self.schema_dsn), self.bookkeeping_schema)

    def cli_args(self) -> list[str]:
        """The connection flags a child `pgferry` process needs, DSNs excluded (they go by environment)."""
        args = ["--bookkeeping-schema", self.bookkeeping_schema]
        if self.migrations:
            args += ["--migrations", self.migrations]
        return args

    def child_env(self) -> dict[str, str]:
        """DSNs for a child process, by environment: a command line is visible to every local user."""
        return {schema_env(name): dsn for name, dsn in self.connections().dsns.items()}


@functools.lru_cache(maxsize=4)
def _definitions_of(path: str, stamp: str | None) -> Definitions:
    return load(path)


@dataclass(frozen=True)
class Overview:
    status: DatabaseStatus
    run: UpgradeRun | None = None
    server: str | None = None  # "PostgreSQL 16.4"
    out_of_band: tuple[OobRow, ...] = ()  # progress None: not live at this release
    # The product's tables with nothing recorded (a restored dump, another tool's work): adoption is offered.
    unrecorded: Unrecorded | None = None


@dataclass(frozen=True)
class PreflightSummary:
    target: str
    checks: tuple  # engine.upgrade.preflight.Check
    problem: str | None = None  # why there is no plan to check (an unsupported source, say)


def load_overview(source: Source) -> Overview:
    defs = source.definitions()
    conns = source.connections()
    with Sessions() as sessions:  # one per database for the whole overview
        standing = read_standing(defs, conns, sessions=sessions)
        primary = sessions(conns.primary)
        v = primary.info.server_version
        run = RunStore(primary, conns.bookkeeping_schema).latest()
    return Overview(standing.status, run, f"PostgreSQL {v // 10000}.{v % 10000}", standing.out_of_band,
                    standing.unrecorded)


def load_preflight(source: Source) -> PreflightSummary | None:
    """The preflight checks for the newest stable release, when there is somewhere to go."""
    from pgferry.engine.upgrade.preflight import run_preflight

    defs = source.definitions()
    conns = source.connections()
    try:
        plan = make_plan(defs, conns, "latest", downgrade=False)
    except PgferryError as exc:  # the overview still shows; the reason goes where the checks would
        return PreflightSummary("latest", (), error_text(exc, source.secrets()))
    if plan.empty:
        return None
    return PreflightSummary(plan.to_version, tuple(run_preflight(defs, conns, plan)))


def error_text(exc: BaseException, secrets: list[str]) -> str:
    """One readable paragraph for any failure: never a traceback, never a password."""
    if isinstance(exc, PgferryError):
        text = exc.message + (f"\nhint: {exc.hint}" if exc.hint else "")
    elif isinstance(exc, psycopg.Error):
        text = "the database refused: " + server_message(exc).text
    else:
        text = f"internal error: {type(exc).__name__}: {exc}"
    text = "\n".join(" ".join(line.split()) for line in text.splitlines())  # drivers indent with tabs
    return printable(scrub(text, *secrets))  # a RAISE message or DETAIL is the server's (or its data's) text
