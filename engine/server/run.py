"""The server upgrade run (issue 17 §3-§4): initdb the new cluster like the old, `pg_upgrade
--check`, an optional backup, stop the old server, pg_upgrade, carry the connection settings and
authentication over, start the new server, update extensions, analyze, and prove with pgferry's
own status, drift and readiness that the product is intact at the same release.

Every step is recorded in the state file as it starts and completes; `resume` continues an
interrupted run and `rollback` starts the old cluster again where that is still possible.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg import conninfo, sql

from ..connection import connect
from ..errors import PgferryError, UsageError
from ..events import EventSink, ServerOutput, ServerStep
from ..userdirs import open_private, private_dir
from .checks import database_dsn, stale_extensions
from .cluster import Binaries, ProgramFailed, give_to, is_running, owner_of, run, stream
from .plan import Inspection, ServerUpgrade
from .state import STEPS, State, load, work_dir
from .verify import first_failure, product_checks


class ChecksFailed(PgferryError):
    """A check before the upgrade failed: nothing changed (exit 1)."""

    def __init__(self, inspection: Inspection):
        failed = [c for c in inspection.checks if c.status == "fail"]
        super().__init__(f"{len(failed)} check(s) failed: {'; '.join(c.name for c in failed)}; nothing changed",
                         hint=failed[0].fix if failed else None)
        self.inspection = inspection


class Interrupted(PgferryError):
    """A previous server upgrade of this new data directory did not finish (exit 1)."""

    def __init__(self, state: State):
        super().__init__(f"a server upgrade to {state.new_datadir} was {state.position()}",
                         hint="; ".join(state.safe_actions()))
        self.state = state


class VerifyFailed(PgferryError):
    """The new server runs, but the product is not intact at its release (exit 1)."""


@dataclass(frozen=True)
class Outcome:
    state: State
    seconds: float
    downtime: float  # old server stopped → new server accepting connections

    def as_dict(self) -> dict:
        return {"ok": True, "seconds": round(self.seconds, 2), "downtime_seconds": round(self.downtime, 2),
                "state": self.state.as_dict()}


class Run:
    def __init__(self, job: ServerUpgrade, state: State, on_event: EventSink):
        self.job, self.state, self.on_event = job, state, on_event
        self.user = owner_of(job.old.datadir)
        self.work = work_dir(job.new.datadir)
        self.stopped_at: float | None = None
        self.downtime = 0.0

    # -- the steps, each safe to run again after an interruption --------------------------------

    def initdb(self) -> None:
        new = self.job.new.datadir
        if new.exists():
            # Empty (checked before the run began), or half-made by this upgrade: start it afresh.
            shutil.rmtree(new)
        new.mkdir(mode=0o700)
        give_to(new, self.user)
        # Trust for now: only pg_upgrade's own servers run on it, on a private socket; the old
        # cluster's pg_hba.conf replaces it before the new server first starts.
        run(self.job.new.bindir.program("initdb"), "-D", str(new), "--auth=trust", "--no-sync",
            *self.state.initdb_args, user=self.user, cwd=self.work)

    def check(self) -> None:
        self._pg_upgrade("check", "--check")

    def backup(self) -> None:
        if self.job.backup_dir is None:
            return
        directory = private_dir(self.job.backup_dir)
        path = directory / f"pgferry-cluster-{time.strftime('%Y%m%dT%H%M%S')}.sql"
        with open(open_private(path, exclusive=True), "wb", closefd=True):
            pass
        run(self.job.old.bindir.program("pg_dumpall"), "-f", str(path), user=None, cwd=self.work,
            env=client_env(self.job.dsn))

    def stop_old(self) -> None:
        self.stopped_at = time.monotonic()
        if is_running(self.job.old.datadir):
            run(self.job.old.bindir.program("pg_ctl"), "stop", "-D", str(self.job.old.datadir), "-m", "fast", "-w",
                user=self.user, cwd=self.work)

    def pg_upgrade(self) -> None:
        if self.state.current == "pg_upgrade":  # interrupted: start pg_upgrade over from scratch
            stop_leftovers(self.state, self.user)
            self._restore_pg_control()  # a link-mode run interrupted after it renamed pg_control
            self.initdb()  # pg_upgrade starts only from a fresh new cluster
        self._pg_upgrade("pg_upgrade", self.job.mode.flag, "--jobs", str(self.state.jobs))

    def configure(self) -> None:
        """The old cluster's authentication, and how it listened, so the product's DSN reaches the new one."""
        for name in ("pg_hba.conf", "pg_ident.conf"):
            source = self.job.old.datadir / name
            if source.is_file():
                shutil.copy2(source, self.job.new.datadir / name)
                give_to(self.job.new.datadir / name, self.user)
        lines = ["", "# carried over from the old cluster by pgferry server-upgrade"]
        lines += [f"{k} = '{v.replace(chr(39), chr(39) * 2)}'" for k, v in sorted(self.state.settings.items()) if v]
        with open(self.job.new.datadir / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    def start_new(self) -> None:
        if not is_running(self.job.new.datadir):
            run(self.job.new.bindir.program("pg_ctl"), "start", "-D", str(self.job.new.datadir), "-w", "-t", "120",
                "-l", str(self.work / "server.log"), user=self.user, cwd=self.work)
        if self.stopped_at is not None:
            self.downtime = time.monotonic() - self.stopped_at

    def extensions(self) -> None:
        for database, ext, old, new in stale_extensions(self.job.dsn):
            with connect(database_dsn(self.job.dsn, database), role="server-upgrade") as conn:
                conn.execute(sql.SQL("ALTER EXTENSION {} UPDATE").format(sql.Identifier(ext)))
            self.on_event(ServerOutput("extensions", f"{database}: {ext} {old} → {new}"))

    def analyze(self) -> None:
        args = ["--all", "--analyze-in-stages"] + (["--jobs", str(self.state.jobs)] if self.state.jobs > 1 else [])
        if self.job.new.bindir.major() >= 18:
            args.append("--missing-stats-only")  # pg_upgrade carries the planner statistics over from 18 on
        stream(self.job.new.bindir.program("vacuumdb"), *args, user=None, cwd=self.work,
               env=client_env(self.job.dsn), on_line=lambda line: self.on_event(ServerOutput("analyze", line)))

    def verify(self) -> None:
        """pgferry's own status, drift, collation versions and readiness: the product intact at the same release."""
        failed = first_failure(product_checks(self.job.defs, self.job.conns, self.state.release))
        if failed is not None:
            shown = "".join(f"; {line}" for line in failed.details[:5])
            raise VerifyFailed(f"on the new server, {failed.name}: {failed.reason}{shown}", hint=failed.fix)

    # -- plumbing -----------------------------------------------------------------------------

    def _pg_upgrade(self, step: str, *args: str) -> None:
        # Socket paths have ~100 bytes: in the work folder (left there if killed) when that is short enough.
        sockets = self.work / "sockets" if len(str(self.work)) < 80 else Path(tempfile.mkdtemp(prefix="pgferry-sock-"))
        sockets.mkdir(mode=0o700, exist_ok=True)
        give_to(sockets, self.user)
        job = self.job
        try:
            stream(job.new.bindir.program("pg_upgrade"), "-b", str(job.old.bindir.bindir),
                   "-B", str(job.new.bindir.bindir), "-d", str(job.old.datadir), "-D", str(job.new.datadir),
                   "-U", self.state.bootstrap_user, "-s", str(sockets), *args, user=self.user, cwd=self.work,
                   on_line=lambda line: self.on_event(ServerOutput(step, line)))
        finally:
            shutil.rmtree(sockets, ignore_errors=True)

    def _restore_pg_control(self) -> None:
        old = self.job.old.datadir / "global" / "pg_control.old"
        if old.exists():
            old.rename(old.with_name("pg_control"))

    def step(self, name: str) -> None:
        if self.state.reached(name):
            return
        self.on_event(ServerStep(name, "started"))
        self.state.begin(name)
        getattr(self, name.replace("-", "_"))()
        self.state.complete(name)
        self.on_event(ServerStep(name, "done"))


def client_env(dsn: str) -> dict:
    """libpq's environment for a client program (pg_dumpall, vacuumdb): the password never on argv."""
    import os

    names = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD",
             "dbname": "PGDATABASE", "sslmode": "PGSSLMODE"}
    params = conninfo.conninfo_to_dict(dsn)
    return {**os.environ, **{names[k]: str(v) for k, v in params.items() if k in names and v is not None}}


def upgrade(job: ServerUpgrade, on_event: EventSink, *, resume: bool = False) -> Outcome:
    """Run the upgrade (after `job.inspect()` passed), or resume an interrupted one."""
    started = time.monotonic()
    state = load(job.new.datadir)
    if state is not None and state.finished:
        raise UsageError(f"{job.new.datadir} was upgraded already", hint="pgferry status shows the product on it")
    if state is not None and not resume:
        raise Interrupted(state)
    if state is None:
        if resume:
            raise UsageError(f"nothing to resume: no server upgrade recorded beside {job.new.datadir}")
        state = _begin(job)
    runner = Run(job, state, on_event)
    private_dir(runner.work)
    give_to(runner.work, runner.user)
    for name in STEPS:
        runner.step(name)
    return Outcome(state, time.monotonic() - started, runner.downtime)


def _begin(job: ServerUpgrade) -> State:
    inspection = job.inspect()
    if not inspection.ok:
        raise ChecksFailed(inspection)
    old = inspection.old
    return State(job.mode.name, str(job.old.datadir), str(job.new.datadir), str(job.old.bindir.bindir),
                 str(job.new.bindir.bindir), inspection.release.version if inspection.release else None,
                 old.listen_options(), old.initdb_args(inspection.new_major), dict(old.settings), job.jobs)


def stop_leftovers(state: State, user: str | None) -> None:
    """Stop whatever runs on either cluster: the new server, or one pg_upgrade started and left behind
    when it was killed (it must find both stopped, and so must a rollback)."""
    for bindir, datadir in ((state.new_bindir, state.new_datadir), (state.old_bindir, state.old_datadir)):
        if is_running(Path(datadir)):
            run(Binaries(Path(bindir)).program("pg_ctl"), "stop", "-D", datadir, "-m", "fast", "-w",
                user=user, cwd=work_dir(Path(state.new_datadir)))


def rollback(new_datadir: Path, on_event: EventSink) -> State:
    """Start the old cluster again after an interrupted or failed upgrade, where that is safe."""
    state = load(new_datadir)
    if state is None:
        raise UsageError(f"nothing to roll back: no server upgrade recorded beside {new_datadir}")
    if not state.rollback_possible():
        raise UsageError(f"cannot roll back: {state.position()}", hint="; ".join(state.safe_actions()))
    old, new = Path(state.old_datadir), Path(state.new_datadir)
    if not state.old_changed:  # stopped before the old server was: it never stopped serving
        state.path.rename(state.path.with_name("state.rolled-back.json"))
        on_event(ServerStep("rollback", "done", f"the old cluster was never stopped; {new} can be removed"))
        return state
    user = owner_of(old)
    stop_leftovers(state, user)
    control = old / "global" / "pg_control.old"
    if control.exists():
        control.rename(control.with_name("pg_control"))
    on_event(ServerStep("rollback", "started", "starting the old server"))
    run(Binaries(Path(state.old_bindir)).program("pg_ctl"), "start", "-D", str(old), "-w", "-t", "120",
        "-l", str(work_dir(new) / "old-server.log"), "-o", state.old_options, user=user, cwd=work_dir(new))
    state.path.rename(state.path.with_name("state.rolled-back.json"))
    on_event(ServerStep("rollback", "done", f"the old cluster serves again; {new} can be removed"))
    return state


__all__ = ["ChecksFailed", "Interrupted", "Outcome", "ProgramFailed", "VerifyFailed", "rollback", "upgrade"]
