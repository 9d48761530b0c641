"""A PostgreSQL major upgrade of the product's own cluster, before anything changes (issue 17 §1-§2):
what the old server runs and holds, the checks, and the chosen mode explained.

The old server must be running: the checks read it over the product's connection.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..connection import connect, describe_target
from ..definitions.catalog import Definitions
from ..definitions.releases import Release
from ..errors import UsageError
from ..upgrade.planning import Connections
from ..upgrade.preflight import FAIL, Check
from ..upgrade.standing import read_standing
from . import checks
from .cluster import Binaries, is_running
from .modes import MODES, Mode

# Carried over to the new cluster's postgresql.conf so the product's connection reaches it as before.
CARRIED_SETTINGS = ("port", "listen_addresses", "unix_socket_directories", "shared_preload_libraries")
TEMPLATE_SQL = """
SELECT pg_encoding_to_char(encoding), datcollate, datctype,
       CASE datlocprovider WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'libc' END,
       coalesce(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale')
FROM pg_database d WHERE datname = 'template0'"""


@dataclass(frozen=True)
class OldServer:
    """What the running old server says about itself, for the checks and to build the new cluster alike."""

    version: int  # server_version_num
    bootstrap_user: str  # pg_upgrade needs the same install user in both clusters
    encoding: str
    collate: str
    ctype: str
    provider: str
    locale: str | None
    checksums: bool
    settings: dict[str, str]

    def initdb_args(self, new_major: int) -> list[str]:
        args = ["-U", self.bootstrap_user, "--encoding", self.encoding, "--lc-collate", self.collate,
                "--lc-ctype", self.ctype, "--locale-provider", self.provider]
        if self.provider == "icu" and self.locale:
            args += ["--icu-locale", self.locale]
        if self.checksums:
            args.append("--data-checksums")
        elif new_major >= 18:  # checksums are on by default from 18: pg_upgrade needs both alike
            args.append("--no-data-checksums")
        return args

    def listen_options(self) -> str:
        """pg_ctl -o for starting the old server the way it listened (a rollback)."""
        s = self.settings
        return f"-p {s['port']} -k '{s['unix_socket_directories']}' -c listen_addresses='{s['listen_addresses']}'"


def read_old_server(dsn: str) -> OldServer:
    with connect(dsn, role="server-upgrade") as conn:
        user = conn.execute("SELECT rolname FROM pg_roles WHERE oid = 10").fetchone()[0]
        encoding, collate, ctype, provider, locale = conn.execute(TEMPLATE_SQL).fetchone()
        settings = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                                     [list(CARRIED_SETTINGS)]).fetchall())
        checksums = conn.execute("SHOW data_checksums").fetchone()[0] == "on"
        return OldServer(conn.info.server_version, user, encoding, collate, ctype, provider, locale, checksums,
                         settings)


@dataclass(frozen=True)
class Cluster:
    bindir: Binaries
    datadir: Path


@dataclass(frozen=True)
class Inspection:
    """The checks' results and what they read: the answer to `server-upgrade --dry-run`."""

    old_major: int
    new_major: int
    release: Release | None
    data_bytes: int
    mode: Mode
    jobs: int
    checks: tuple[Check, ...]
    old: OldServer
    databases: tuple[checks.Database, ...]
    backup_note: str = ""

    @property
    def ok(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    def modes(self) -> list[dict]:
        return [m.as_dict(self.data_bytes, self.jobs) for m in MODES.values()]

    def as_dict(self) -> dict:
        return {"ok": self.ok, "old_major": self.old_major, "new_major": self.new_major,
                "release": self.release.version if self.release else None, "data_bytes": self.data_bytes,
                "mode": self.mode.as_dict(self.data_bytes, self.jobs), "modes": self.modes(),
                "backup": self.backup_note, "checks": [c.as_dict() for c in self.checks]}


@dataclass(frozen=True)
class ServerUpgrade:
    defs: Definitions
    conns: Connections  # the product's databases, all in the old cluster
    old: Cluster
    new: Cluster
    mode: Mode
    jobs: int = 1
    backup_dir: Path | None = None
    no_backup: str | None = None  # the operator's reason for going without one (link mode)

    @property
    def dsn(self) -> str:
        return next(iter(self.conns.distinct()))

    def validate(self) -> None:
        """Usage errors (exit 2): what no check can repair."""
        if self.old.datadir.resolve() == self.new.datadir.resolve():
            raise UsageError("--old-datadir and --new-datadir are the same directory")
        if not (self.old.datadir / "PG_VERSION").is_file():
            raise UsageError(f"{self.old.datadir} is not a PostgreSQL data directory (no PG_VERSION)",
                             hint="--old-datadir is the running cluster's data directory (SHOW data_directory)")
        if self.new.datadir.exists() and any(self.new.datadir.iterdir()):
            raise UsageError(f"{self.new.datadir} exists and is not empty", hint="--new-datadir must be new or empty")
        if self.mode.needs_backup and self.backup_dir is None and not (self.no_backup or "").strip():
            raise UsageError("link mode needs a backup: the old cluster is unusable once the new server starts",
                             hint='pass --backup DIR, or --no-backup "why not" to go without one')

    def inspect(self) -> Inspection:
        """Read-only: every check before anything changes."""
        self.validate()
        old_major, new_major = self.old.bindir.major(), self.new.bindir.major()
        if new_major <= old_major:
            raise UsageError(f"the new binaries are PostgreSQL {new_major}, not newer than the old {old_major}")
        if not is_running(self.old.datadir):
            raise UsageError(f"the old server ({self.old.datadir}) is not running: the checks read it",
                             hint=f"pg_ctl start -D {self.old.datadir}, then run server-upgrade again")
        old = read_old_server(self.dsn)
        if old.version // 10000 != old_major:
            raise UsageError(f"{describe_target(self.dsn)} runs PostgreSQL {old.version // 10000}; "
                             f"--old-bindir is {old_major}")
        databases = checks.read_databases(self.dsn)
        release = read_standing(self.defs, self.conns).status.version.release
        with connect(self.dsn, role="server-upgrade") as conn:
            # What pg_upgrade moves: the databases' files (not pg_wal, which the new cluster starts afresh).
            size = int(conn.execute("SELECT sum(pg_database_size(oid)) FROM pg_database").fetchone()[0])
            found = (checks.check_releases(self.defs, release, new_major),
                     checks.check_extensions(databases, self.new.bindir.available_extensions()),
                     checks.check_collation_providers(databases, self.new.bindir.has_icu()),
                     checks.check_reg_columns(databases),
                     checks.check_tablespaces(conn),
                     checks.check_disk(self.mode, size, checks.free_bytes(_existing(self.new.datadir))),
                     checks.check_activity(conn))
        note = (f"pg_dumpall into {self.backup_dir} before the old server stops" if self.backup_dir
                else f"none: {self.no_backup}" if self.no_backup else "none (offered: --backup DIR)")
        return Inspection(old_major, new_major, release, size, self.mode, self.jobs, found, old,
                          tuple(databases), note)


def _existing(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path
