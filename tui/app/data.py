"""What the overview shows, read from the database by the engine (no Textual here)."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import psycopg

from pgferry.engine.definitions.catalog import Definitions, bundled_migrations_dir, load
from pgferry.engine.connection import connect, known_secrets, schema_dsns, schema_env, scrub
from pgferry.engine.errors import PgferryError, server_message
from pgferry.engine.safetext import printable
from pgferry.engine.bookkeeping.runs import RunStore, UpgradeRun
from pgferry.engine.bookkeeping.status import DatabaseStatus, read_status
from pgferry.engine.repair.drift import first_unrecorded
from pgferry.engine.repair.unrecorded import Unrecorded
from pgferry.engine.upgrade.upgrade import Connections, make_plan, read_oob_progress


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
        """Loaded once per directory and process: every screen plans from the same definitions."""
        return _definitions_of(self.migrations or str(bundled_migrations_dir()))

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
def _definitions_of(path: str) -> Definitions:
    return load(path)


@dataclass(frozen=True)
class OobSummary:
    id: int
    description: str
    progress: float | None  # None: not live at this release (not started, or already retired)
    introduced: str = ""
    deprecated: str | None = None


@dataclass(frozen=True)
class Overview:
    status: DatabaseStatus
    run: UpgradeRun | None = None
    server: str | None = None  # "PostgreSQL 16.4"
    out_of_band: tuple[OobSummary, ...] = ()
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
    status = read_status(defs, conns.dsns, conns.bookkeeping_schema)
    with connect(conns.primary, role="status") as conn:
        v = conn.info.server_version
        run = RunStore(conn, conns.bookkeeping_schema).latest()
    progress = read_oob_progress(defs, conns, {s.name: s.state.applied for s in status.schemas})
    oob = tuple(OobSummary(oid, o.description, p, o.introduced, o.deprecated)
                for oid, p in sorted(progress.items()) for o in [defs.out_of_band[oid]])
    unrecorded = None
    if not any(s.state.applied for s in status.schemas):
        unrecorded = first_unrecorded(defs, conns.dsns, conns.bookkeeping_schema)
    return Overview(status, run, f"PostgreSQL {v // 10000}.{v % 10000}", oob, unrecorded)


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
