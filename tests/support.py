"""Helpers shared by test files (fixtures live in conftest.py): paths, running pgferry, reading and
changing a test database, waiting for a condition, and the migration-writing steps of runner tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

from pgferry.engine.bookkeeping.bookkeeping import MigrationLog
from pgferry.engine.events import Collector
from pgferry.engine.run.runner import Migrator, RunOptions

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SMALL = FIXTURES / "small"


def run_cli(*args: str, env: dict | None = None, timeout: float = 120, input: str | None = None):
    """Run `pgferry` in a subprocess, as a user would; return CompletedProcess (text)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("PGFERRY_DSN", None) if env is None or "PGFERRY_DSN" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "pgferry", *args],
        capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT, input=input,
    )


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """`pgferry ARGS` in this process: (exit code, stdout, stderr), only this call's output."""
    from pgferry.tui.cli import main

    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def query(dsn: str, q, params=None) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(q, params)
        return cur.fetchall() if cur.description else []


def execute(dsn: str, *statements: str) -> None:
    """Each statement in its own autocommit transaction (CONCURRENTLY needs it)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def applied_ids(dsn: str, schema: str) -> set[int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return set(MigrationLog(conn).state(schema).applied)


def wait_for(what: str, check, timeout: float = 60.0, interval: float = 0.02):
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)



def say(request, line: str) -> None:
    """A line in pytest's terminal output even when output is captured (seeds, figures). A pytest-xdist
    worker's terminal reporter writes nowhere; its stderr is the terminal's, so the line goes there."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        return
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    with capture.global_and_fixture_disabled():
        if reporter and not hasattr(request.config, "workerinput"):
            reporter.write_line(line)
        else:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()


@cache
def bundled():
    """The bundled product's definitions (loaded once per session)."""
    from pgferry.engine.definitions.catalog import bundled_migrations_dir, load

    return load(bundled_migrations_dir())


def clone_database(server, template: str) -> str:
    """A new database on `server` (tests/conftest.py Server) copied from the database `template`."""
    dsn = server.create_database("clone")
    name = conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(server.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    return dsn


# -- the runner in this process, on the small product's aux schema extended by `chain` ----------------

FAST = RunOptions(poll=0.05)
LOCKY = RunOptions(lock_timeout=0.5, lock_retries=2, retry_backoff=0.1, poll=0.05)


def migrate(dsn: str, graph, compute, options: RunOptions = FAST, on_event=None):
    """Run one Migrator in this process; return (RunResult, Collector of its events)."""
    seen = Collector()

    def sink(e):
        seen(e)
        if on_event:
            on_event(e)

    with Migrator(dsn, graph, options, on_event=sink) as m:
        return m.run(compute), seen


def up_to(graph, targets):
    return lambda applied: graph.up(applied, targets)


def log_rows(dsn: str, schema: str, *cols: str) -> list[tuple]:
    cols = cols or ("version", "up", "success", "backfilled")
    return query(dsn, f"SELECT {', '.join(cols)} FROM migration_logs WHERE schema = %s ORDER BY id", [schema])


def state(dsn: str, schema: str):
    with psycopg.connect(dsn, autocommit=True) as conn:
        return MigrationLog(conn).state(schema)


def columns(dsn: str, table: str) -> set[str]:
    rows = query(dsn, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                      "AND table_name = %s", [table])
    return {r[0] for r in rows}


def exists(dsn: str, relation: str) -> bool:
    return query(dsn, "SELECT to_regclass(%s) IS NOT NULL", [relation])[0][0]


def index_valid(dsn: str, index: str) -> bool | None:
    rows = query(dsn, "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [index])
    return rows[0][0] if rows else None


def backend_alive(dsn: str, pid: int) -> bool:
    return bool(query(dsn, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]))


def add_migration(root: Path, schema: str, ident: int, slug: str, up: str, down: str = "SELECT 1;\n",
                  parents=(), extra: str = "") -> Path:
    d = root / schema / f"{ident}_{slug}"
    d.mkdir()
    (d / "metadata.yaml").write_text(f"name: {slug}\nparents: [{', '.join(map(str, parents))}]\n{extra}")
    (d / "up.sql").write_text(up)
    (d / "down.sql").write_text(down)
    return d


def cli_args(command: str, dsn: str, migrations: Path, *more: str) -> list[str]:
    return [command, "--dsn", dsn, "--migrations", str(migrations), "--no-progress", *more]


def chain(small_copy, *ups: str) -> None:
    """aux migrations 4, 5, ... after 3, each the given up.sql."""
    for i, up in enumerate(ups, 4):
        add_migration(small_copy, "aux", i, f"step{i}", up, parents=[i - 1])



# a migration failing on its third statement, at line 4
FAILING_UP = """\
CREATE TABLE fail_a (id int);
CREATE TABLE fail_b (id int);

SELECT id,
       no_such_column
FROM fail_a;
CREATE TABLE fail_c (id int);
"""

INDEX = "events_kind_created_at"


def old_snapshot(open_session) -> psycopg.Connection:
    """A transaction holding a snapshot: a CIC started after it waits in 'waiting for old snapshots'."""
    conn = open_session()
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.execute("SELECT count(*) FROM events").fetchone()
    return conn


def cic_waiting(dsn: str):
    rows = query(dsn, "SELECT pid, phase FROM pg_stat_progress_create_index "
                      "WHERE relid = to_regclass('events') AND phase LIKE 'waiting for old snapshots%%'")
    return rows[0] if rows else None


def drift_json(capsys, dsn: str, *extra: str) -> tuple[int, dict]:
    """`pgferry drift --json` in this process: (exit code, the report)."""
    import json

    code, out, _ = cli(capsys, "drift", "--dsn", dsn, "--json", *extra)
    return code, json.loads(out)


async def until(pilot, predicate, what: str = "condition", timeout: float = 60.0):
    """Let a Textual app run until `predicate()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.2)
        if predicate():
            return
    raise AssertionError(f"timed out waiting for {what}")



async def loaded(app, pilot) -> None:
    """Until the app's workers are done (a failed one included: the app shows it)."""
    from textual.worker import WorkerFailed

    try:
        await app.workers.wait_for_complete()
    except WorkerFailed:  # the app shows it; the tests check the panel
        pass
    await pilot.pause()


def fail_main_16(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO migration_logs (schema, version, up, success, finished_at, error_message) "
                     "VALUES ('main', 16, true, false, now(), 'boom')")


def empty_status():
    """The small product's status on an empty database, without a server."""
    from pgferry.engine.definitions.catalog import load
    from pgferry.engine.bookkeeping.status import DatabaseStatus

    defs = load(SMALL)
    return DatabaseStatus((), defs.version_of({}))

LONG_NAME = "a migration name long enough that a line holding it is far wider than eighty columns"


def as_role(dsn: str, role: str) -> str:
    """`dsn` logging in as `role` instead."""
    params = conninfo.conninfo_to_dict(dsn)
    params["user"] = role
    return conninfo.make_conninfo(**params)


def allow_create_in_public(dsn: str, role: str) -> None:
    """What a managed PostgreSQL gives the app's role: CREATE in schema public, not on the database."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT CREATE, USAGE ON SCHEMA public TO {}").format(sql.Identifier(role)))


def kill_mid_index_build(dsn: str, defs, session, spawn, *command: str) -> int:
    """Main up to 15, then `pgferry COMMAND` (on the small product) SIGKILLed while it builds main 16's index
    CONCURRENTLY: the build is aborted and leaves the index invalid. The pid of the build's backend."""
    g = defs.schemas["main"]
    migrate(dsn, g, up_to(g, [15]))
    blocker = old_snapshot(session)  # holds the build in 'waiting for old snapshots' until we kill it
    proc, _ = spawn(command[0], *cli_args(*command[:1], dsn, SMALL, *command[1:]))
    builder, _ = wait_for("the index build to wait for the old snapshot", lambda: cic_waiting(dsn))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    wait_for("the orphaned build to be aborted", lambda: not backend_alive(dsn, builder), timeout=10)
    blocker.commit()
    assert index_valid(dsn, INDEX) is False
    return builder


# Backups tied to runs (issue 15 §5): a failed upgrade that took a backup, and what "equal" means.
def database_image(dsn: str) -> tuple[str, dict[str, tuple]]:
    """A database as a restore must bring it back: its schema (pg_dump --schema-only, without the
    dump's random \\restrict key) and each table's row count and checksum, each sequence's value."""
    from pgferry.engine.upgrade.backup import dump_command, find_tool

    with psycopg.connect(dsn, autocommit=True) as conn:
        argv, env = dump_command(find_tool("pg_dump", conn.info.server_version // 10000), dsn, "--schema-only")
        rows = {}
        for name, kind in conn.execute(
                "SELECT format('%I.%I', n.nspname, c.relname), c.relkind FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'S') AND n.nspname <> 'information_schema' "
                "AND n.nspname !~ '^pg_' ORDER BY 1").fetchall():
            q = ("SELECT last_value, is_called FROM {}" if kind == "S" else
                 "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} t")
            rows[name] = conn.execute(sql.SQL(q).format(sql.SQL(name))).fetchone()
    text = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    schema = "\n".join(line for line in text.splitlines() if not line.startswith(("\\restrict", "\\unrestrict", "--")))
    return schema, rows


def failed_upgrade_with_backup(dsn: str, migrations: Path, backup_dir: Path, *more: str) -> int:
    """The small product at 1.0.0 with rows, then `upgrade --backup` to 1.1.0 failing at main 13
    after main 11 and 12 were applied (12 made a new table, and a view on an old one); returns the
    failed run's id. `more`: further flags for both upgrades (e.g. --schema-dsn aux=...)."""
    from pgferry.tui.cli import main

    assert main(cli_args("upgrade", dsn, migrations, "--to", "1.0.0", "--yes", *more)) == 0
    execute(dsn, "INSERT INTO users (username) SELECT 'user' || i FROM generate_series(1, 50) i")
    with open(migrations / "main" / "12_orgs_slug" / "up.sql", "a") as f:
        f.write("\nCREATE TABLE org_badges (org_id bigint);\nCREATE VIEW org_slugs AS SELECT slug FROM orgs;\n")
    with open(migrations / "main" / "13_merge_profile" / "up.sql", "a") as f:
        f.write("\nSELECT 1 / 0;\n")
    assert main(cli_args("upgrade", dsn, migrations, "--to", "1.1.0", "--yes", "--backup", str(backup_dir), *more)) == 1
    return query(dsn, "SELECT max(id) FROM upgrade_runs")[0][0]


# -- a database holding the small product with no bookkeeping (adoption, issue 15 §2) ----------------

ADOPTED = "1.1.0"  # the release such a database is at


def drop_bookkeeping(dsn: str) -> None:
    from pgferry.engine.repair.describe import BOOKKEEPING

    execute(dsn, "DROP TABLE IF EXISTS " + ", ".join(BOOKKEEPING))


def install_unrecorded(capsys, dsn: str, migrations: Path, shapes: dict) -> None:
    """`migrations` at ADOPTED in `dsn`, its bookkeeping dropped; `shapes` shipped as its expected shape."""
    from pgferry.engine.repair.expected import render

    path = migrations / "expected" / f"{ADOPTED}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(render(shapes))
    code, _, err = cli(capsys, "upgrade", "--to", ADOPTED, "--yes", "--no-progress", "--dsn", dsn,
                       "--migrations", str(migrations))
    assert code == 0, err
    drop_bookkeeping(dsn)
