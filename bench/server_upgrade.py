"""server-upgrade: the bundled product with the demo's data on Debian's PostgreSQL 15, moved to the
embedded wheel's 18 by `pgferry server-upgrade` (engine/server/) in each mode; wall time (checks
through verification) and downtime (old server stopped → new server accepting connections).

One 15 cluster is built (product at its oldest release, demo data; `--size full` adds a 1 GB
database of filler rows, which pg_upgrade moves like any other) and stopped; every run starts a
copy of it. Also the fixtures of tests/faults/test_server_upgrade.py.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

OLD_BIN = Path("/usr/lib/postgresql/15/bin")
RELEASE = "3.20.0"  # the oldest, as the demo installs it: its data fits it
FILLER_BYTES = {"tiny": 0, "full": 1 << 30}
MODES = ("copy", "link", "clone")


def new_bin() -> Path | None:
    from pgferry.engine.upgrade.backup import wheel_bin_dir

    return wheel_bin_dir()


def build_template(base: Path, filler_bytes: int = 0) -> Path:
    """A stopped 15 data directory in `base` holding the bundled product at RELEASE with the demo's
    data, every schema in one database `product` (fsync off: a scratch cluster)."""
    import psycopg

    from pgferry.engine.definitions.catalog import bundled_migrations_dir, load
    from pgferry.engine.embedded import start
    from pgferry.engine.upgrade.upgrade import Connections, Upgrade

    server = start(base / "pg15", bindir=OLD_BIN)
    dsn = server.create_database("product")
    defs = load(bundled_migrations_dir())
    Upgrade(defs, Connections({s: dsn for s in defs.schemas})).run(RELEASE)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for seed in sorted((Path(defs.root) / "demo" / "seed").glob("*.sql")):
            conn.execute(seed.read_text())
    if filler_bytes:
        with psycopg.connect(server.create_database("filler"), autocommit=True) as conn:
            conn.execute("CREATE TABLE filler AS SELECT i, repeat('x', 900) AS pad "
                         "FROM generate_series(1, %s) i", [filler_bytes // 1000])
    server._server.cleanup_mode = "stop"  # keep the data directory
    server.stop()
    return base / "pg15"


class OldCluster:
    """A copy of a template 15 data directory, started on a unix socket of its own."""

    def __init__(self, template: Path):
        self.base = Path(tempfile.mkdtemp(prefix="pgferry-su-"))
        os.chmod(self.base, 0o755)  # the cluster's owner (another user when run as root) reaches it
        self.datadir = self.base / "pg15"
        self.new_datadir = self.base / "pg18"
        subprocess.run(["cp", "-a", str(template), str(self.datadir)], check=True)
        (self.datadir / "postmaster.pid").unlink(missing_ok=True)
        self.sockdir = Path(tempfile.mkdtemp(prefix="pgferry-sock-"))
        os.chmod(self.sockdir, 0o777)  # the cluster's owner writes its socket here
        self.dsn = f"host={self.sockdir} user=postgres dbname=product"
        self._pg_ctl(OLD_BIN, self.datadir, "start", "-l", str(self.datadir / "log"),
                     "-o", f"-c listen_addresses='' -k {self.sockdir}")

    def _pg_ctl(self, bindir: Path, datadir: Path, *args: str) -> None:
        from pgferry.engine.server.cluster import owner_of, run

        run(bindir / "pg_ctl", *args, "-D", str(datadir), "-w", user=owner_of(self.datadir), cwd=Path("/"))

    def destroy(self) -> None:
        for bindir, d in ((OLD_BIN, self.datadir), (new_bin(), self.new_datadir)):
            if (d / "postmaster.pid").exists():
                self._pg_ctl(bindir, d, "stop", "-m", "immediate")
        shutil.rmtree(self.sockdir, ignore_errors=True)
        shutil.rmtree(self.base, ignore_errors=True)

    def job(self, mode: str, defs=None, **kw):
        from pgferry.engine.definitions.catalog import bundled_migrations_dir, load
        from pgferry.engine.server.cluster import Binaries
        from pgferry.engine.server.modes import MODES as BY_NAME
        from pgferry.engine.server.plan import Cluster, ServerUpgrade
        from pgferry.engine.upgrade.planning import Connections

        defs = defs or load(bundled_migrations_dir())
        return ServerUpgrade(defs, Connections({s: self.dsn for s in defs.schemas}),
                             Cluster(Binaries(OLD_BIN), self.datadir), Cluster(Binaries(new_bin()), self.new_datadir),
                             BY_NAME[mode], **kw)


def run(*, size: str = "full", runs: int = 3, log=print, **_):
    from pgferry.engine.embedded import server_major
    from pgferry.engine.server.cluster import ProgramFailed
    from pgferry.engine.server.run import upgrade

    from .common import Result

    res = Result("server-upgrade", {"size": size, "runs": runs, "release": RELEASE, "from": 15, "to": 18})
    if server_major(OLD_BIN) != 15 or new_bin() is None:
        res.info["skipped"] = "needs Debian's PostgreSQL 15 in /usr/lib/postgresql/15/bin and the embedded wheel"
        return res
    for mode in MODES:
        res.metric(f"{mode}_wall", f"{mode}: checks → verified", "s")
        res.metric(f"{mode}_down", f"{mode}: downtime (stopped → accepting)", "s")
    base = Path(tempfile.mkdtemp(prefix="pgferry-bench-su-"))
    os.chmod(base, 0o755)
    try:
        log("building the PostgreSQL 15 cluster …")
        template = build_template(base, FILLER_BYTES[size])
        for mode in MODES:
            for _ in range(runs):
                old = OldCluster(template)
                try:
                    job = old.job(mode, no_backup="a benchmark's scratch cluster" if mode == "link" else None)
                    res.info.setdefault("data_bytes", job.inspect().data_bytes)
                    outcome = upgrade(job, lambda e: None)
                    res.add(f"{mode}_wall", outcome.seconds)
                    res.add(f"{mode}_down", outcome.downtime)
                except ProgramFailed as exc:  # clone on a filesystem without copy-on-write
                    lines = str(exc).splitlines()
                    res.info[f"{mode}_unavailable"] = next((x for x in lines if mode in x.lower()), lines[-1])[:200]
                    break
                finally:
                    old.destroy()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return res
