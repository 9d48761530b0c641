"""apply-1k: apply 1,000 small generated migrations, pgferry against the floor and the peers.

Two workloads, each of n migrations (full: 1,000, tiny: 20), the same statements for every tool.
ddl: four statements per migration, the server's work dominates (metric names as they always were):

    CREATE TABLE t0001 (id bigserial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
    ALTER TABLE t0001 ADD COLUMN note text;       -- every third migration adds it to the previous table instead
    CREATE INDEX t0001_name ON t0001 (name);
    COMMENT ON TABLE t0001 IS 'bench table 1';

light (metrics prefixed light_): one small table and one row per migration, so each tool's start-up
and per-migration overhead weigh most, as in issue 19's measurement:

    CREATE TABLE t0001 (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO t0001 VALUES (1, 'row 1');

Both run in the same scenario, one round of each per run, so one command reproduces both tables
under the same load.

Contenders, each on a fresh database of the same server, each timed as the whole client process
(start-up, reading the definitions, connecting, bookkeeping: what a user waits for):

  floor    the embedded server's psql, one session, `-f` of one file: per migration BEGIN; the four
           statements; one INSERT into a bookkeeping table; COMMIT (the bookkeeping table is created
           first, as each tool creates its own). The floor runs right before every contender, and
           each contender's ratio is to that floor run (the host's load drifts; ratios should not).
  pgferry  `pgferry up --migrations DIR --dsn DSN --no-progress` (the console script of this venv,
           byte-compiled first as an installed package is). Each statement is its own query, but
           pipelined: the server runs migration k+1 while pgferry reads k's results, and k+1's
           COMMIT leaves once k is done (engine/run/pipeline.py); psql's floor waits for each of its
           statements in turn. Its definitions cache (engine/definitions/defcache.py) is
           filled by one untimed `pgferry status` first, as when any earlier command ran on the
           same files.
  pgferry-cold  the same with an empty cache every run: the first command on these files.
  alembic  `alembic upgrade head`, one revision file per migration doing `op.execute()` of each
           statement; env.py with transaction_per_migration=True so each migration commits on its
           own like everyone else's; bookkeeping: alembic_version, updated per migration.
  dbmate   `dbmate --no-dump-schema up`, one file per migration (transaction per migration is
           dbmate's default); bookkeeping: schema_migrations.
  sqitch   `sqitch deploy`, one change per migration whose deploy script is BEGIN; ...; COMMIT;
           (the form `sqitch add` writes); Sqitch runs each through psql and keeps its registry.

The databases of the timed runs are dropped only at the end: dropping a database of a thousand
tables slowed the run right after it 2-3x on this host (see BenchServer.new_database).

Afterwards every database is checked: all tables exist and the bookkeeping holds every migration.
A peer that cannot be installed gets a row "not installed: why" and no number.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import yaml

from . import peers as peers_mod
from .common import Result, run_measured

SIZES = {"tiny": 20, "full": 1000}
RATIO_TARGET = 1.2
# workload -> prefix of its metrics and info keys (ddl keeps the names it always had)
WORKLOADS = {"ddl": "", "light": "light_"}
# Peers left out of a workload, and why (a row with the reason instead of a number).
SKIPPED = {"light": {"sqitch": "not run on the light workload: it runs psql once per change (5x the floor on ddl)"}}
TOOLS = ("floor", "pgferry", "pgferry-cold", "alembic", "dbmate", "sqitch")
OURS = ("pgferry", "pgferry-cold")
VIA = {"pgferry": "pgferry up", "pgferry-cold": "pgferry up, definitions not cached yet",
       "alembic": "alembic upgrade head", "dbmate": "dbmate up", "sqitch": "sqitch deploy"}


def statements(i: int, workload: str = "ddl") -> list[str]:
    t = f"t{i:04d}"
    if workload == "light":
        return [f"CREATE TABLE {t} (id int PRIMARY KEY, name text NOT NULL)", f"INSERT INTO {t} VALUES (1, 'row {i}')"]
    alter = f"t{i - 1:04d}" if i % 3 == 0 and i > 1 else t
    col = f"note_{i}" if alter != t else "note"
    return [
        f"CREATE TABLE {t} (id bigserial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
        f"ALTER TABLE {alter} ADD COLUMN {col} text",
        f"CREATE INDEX {t}_name ON {t} (name)",
        f"COMMENT ON TABLE {t} IS 'bench table {i}'",
    ]


def up_sql(i: int, workload: str = "ddl") -> str:
    return ";\n".join(statements(i, workload)) + ";\n"


def down_sql(i: int, workload: str = "ddl") -> str:
    extra = f"ALTER TABLE t{i - 1:04d} DROP COLUMN IF EXISTS note_{i};\n" if workload == "ddl" and i % 3 == 0 and i > 1 else ""
    return extra + f"DROP TABLE IF EXISTS t{i:04d};\n"


# -- one tree per tool --------------------------------------------------------------------


def write_pgferry(root: Path, n: int, workload: str = "ddl") -> Path:
    for i in range(1, n + 1):
        d = root / "app" / f"{i}_m{i:04d}"
        d.mkdir(parents=True)
        (d / "metadata.yaml").write_text(yaml.safe_dump({"name": f"migration {i}", "parents": [i - 1] if i > 1 else []}))
        (d / "up.sql").write_text(up_sql(i, workload))
        (d / "down.sql").write_text(down_sql(i, workload))
    (root / "releases.yaml").write_text(yaml.safe_dump({"releases": [{"version": "1.0.0", "leaves": {"app": [n]}}]}))
    return root


def write_floor(path: Path, n: int, workload: str = "ddl") -> Path:
    with path.open("w") as f:
        f.write("CREATE TABLE floor_log (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());\n")
        for i in range(1, n + 1):
            f.write(f"BEGIN;\n{up_sql(i, workload)}INSERT INTO floor_log (version) VALUES ({i});\nCOMMIT;\n")
    return path


ALEMBIC_ENV = '''\
import os

import psycopg
from alembic import context
from sqlalchemy import create_engine

engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(os.environ["BENCH_DSN"]))
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
'''


def write_alembic(root: Path, n: int, workload: str = "ddl") -> Path:
    (root / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s\n")
    (root / "env.py").write_text(ALEMBIC_ENV)
    for i in range(1, n + 1):
        down = f'"r{i - 1:04d}"' if i > 1 else "None"
        ups = "\n".join(f"    op.execute({s!r})" for s in statements(i, workload))
        downs = "\n".join(f"    op.execute({s!r})" for s in down_sql(i, workload).strip().split(";\n") if s.strip().rstrip(";"))
        (root / "versions" / f"r{i:04d}.py").write_text(
            f'"""migration {i}"""\nfrom alembic import op\n\nrevision = "r{i:04d}"\ndown_revision = {down}\n'
            f"branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n{ups}\n\n\ndef downgrade():\n{downs}\n")
    return root


def write_dbmate(root: Path, n: int, workload: str = "ddl") -> Path:
    d = root / "migrations"
    d.mkdir(parents=True)
    for i in range(1, n + 1):
        (d / f"{20260000000000 + i}_m{i:04d}.sql").write_text(
            f"-- migrate:up\n{up_sql(i, workload)}\n-- migrate:down\n{down_sql(i, workload)}")
    return root


def write_sqitch(root: Path, n: int, workload: str = "ddl") -> Path:
    for sub in ("deploy", "revert", "verify"):
        (root / sub).mkdir(parents=True)
    (root / "sqitch.conf").write_text(
        f'[core]\n\tengine = pg\n\tplan_file = sqitch.plan\n\ttop_dir = .\n[engine "pg"]\n\tclient = {peers_mod.pg_bin("psql")}\n')
    lines = ["%syntax-version=1.0.0", "%project=bench", ""]
    for i in range(1, n + 1):
        name = f"m{i:04d}"
        lines.append(f"{name} 2026-11-22T00:00:00Z Bench <bench@example.com> # migration {i}")
        (root / "deploy" / f"{name}.sql").write_text(f"BEGIN;\n\n{up_sql(i, workload)}\nCOMMIT;\n")
        (root / "revert" / f"{name}.sql").write_text(f"BEGIN;\n\n{down_sql(i, workload)}\nCOMMIT;\n")
        (root / "verify" / f"{name}.sql").write_text(f"SELECT 1 FROM t{i:04d} WHERE false;\n")
    (root / "sqitch.plan").write_text("\n".join(lines) + "\n")
    return root


# -- running ------------------------------------------------------------------------------


def pgferry_argv() -> list[str]:
    compile_pgferry()
    script = Path(sys.executable).with_name("pgferry")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pgferry"]


_compiled = False


def compile_pgferry() -> None:
    """Byte-compile pgferry's own modules once, as `pip install` does for an installed package.

    An editable install (this checkout) leaves that to the first import, and a host with
    PYTHONDONTWRITEBYTECODE set (CI images often do) never writes it: every run would then
    compile ~10,000 lines first (0.15-0.2 s here), which no installed copy pays. The peers are
    installed packages, compiled at install time."""
    global _compiled
    if not _compiled:
        import pgferry
        import pgferry.engine
        import pgferry.tui

        for pkg in (pgferry, pgferry.engine, pgferry.tui):
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(pkg.__file__).parent)],
                           check=True, stdout=subprocess.DEVNULL)
        _compiled = True


def libpq_env(dsn: str) -> dict:
    """PG* variables for tools that take no libpq DSN (Sqitch's DBD::Pg and psql read them)."""
    from psycopg import conninfo

    p = conninfo.conninfo_to_dict(dsn)
    env = {"PGHOST": p.get("host", ""), "PGPORT": str(p.get("port") or 5432), "PGUSER": p.get("user", ""),
           "PGDATABASE": p["dbname"]}
    if p.get("password"):
        env["PGPASSWORD"] = p["password"]
    return {k: v for k, v in env.items() if v}


def dbmate_url(dsn: str) -> str:
    from urllib.parse import quote

    e = libpq_env(dsn)
    auth = quote(e.get("PGUSER", "postgres")) + (":" + quote(e["PGPASSWORD"]) if e.get("PGPASSWORD") else "")
    host = e.get("PGHOST", "localhost")
    if host.startswith("/"):
        return f"postgres://{auth}@/{e['PGDATABASE']}?socket={quote(host)}&sslmode=disable"
    return f"postgres://{auth}@{host}:{e['PGPORT']}/{e['PGDATABASE']}?sslmode=disable"


def command(tool: str, trees: dict, dsn: str, found: dict) -> tuple[list[str], dict, Path | None]:
    env = {**os.environ}
    env.pop("PGFERRY_DSN", None)
    if tool == "floor":
        return [str(peers_mod.pg_bin("psql")), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(trees["floor"]), dsn], env, None
    if tool in OURS:
        # pgferry: the definitions cache filled by an earlier command on the same files (warmed
        # before the timed runs), as when `plan` or `status` came first; pgferry-cold: an empty
        # cache every run, as for the first command in a fresh container (it loads, then writes it).
        env["PGFERRY_CACHE_DIR"] = str(trees["cache"]) if tool == "pgferry" else tempfile.mkdtemp(dir=trees["cold"])
        return [*pgferry_argv(), "up", "--migrations", str(trees["pgferry"]), "--dsn", dsn, "--no-progress"], env, None
    if tool == "alembic":
        env["BENCH_DSN"] = dsn
        return [str(found["alembic"].paths["alembic"]), "-c", str(trees["alembic"] / "alembic.ini"), "upgrade", "head"], env, None
    if tool == "dbmate":
        d = trees["dbmate"]
        return [str(found["dbmate"].paths["dbmate"]), "--url", dbmate_url(dsn), "--migrations-dir", str(d / "migrations"),
                "--no-dump-schema", "up"], env, d
    if tool == "sqitch":
        env.update(libpq_env(dsn), SQITCH_FULLNAME="Bench", SQITCH_EMAIL="bench@example.com")
        return ["sqitch", "deploy", "--target", f"db:pg:{libpq_env(dsn)['PGDATABASE']}"], env, trees["sqitch"]
    raise ValueError(tool)


BOOKKEEPING = {
    "floor": "SELECT count(*) FROM floor_log",
    "pgferry": "SELECT count(DISTINCT version) FROM migration_logs WHERE success AND up",
    "pgferry-cold": "SELECT count(DISTINCT version) FROM migration_logs WHERE success AND up",
    "alembic": "SELECT CASE WHEN version_num = %(last)s THEN %(n)s ELSE 0 END FROM alembic_version",
    "dbmate": "SELECT count(*) FROM schema_migrations",
    "sqitch": "SELECT count(*) FROM sqitch.changes",
}


# The third check of each workload, as (query, expected): every table's comment (ddl), the last table's row (light).
CHECK = {
    "ddl": lambda n: ("SELECT count(*) FROM pg_description d JOIN pg_class c ON c.oid = d.objoid "
                      "WHERE c.relname ~ '^t[0-9]{4}$' AND d.objsubid = 0", n),
    "light": lambda n: (f"SELECT count(*) FROM t{n:04d}", 1),
}


def verify(tool: str, dsn: str, n: int, workload: str = "ddl") -> None:
    check, expected = CHECK[workload](n)
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]{4}$'").fetchone()[0]
        booked = conn.execute(BOOKKEEPING[tool], {"last": f"r{n:04d}", "n": n}).fetchone()[0]
        checked = conn.execute(check).fetchone()[0]
    assert (tables, booked, checked) == (n, n, expected), \
        f"{tool} ({workload}): {tables} tables, {booked} booked of {n}, check {checked} (want {expected})"


def run_one(tool: str, trees: dict, dsn: str, found: dict, n: int, logdir: Path) -> dict:
    argv, env, cwd = command(tool, trees, dsn, found)
    with (logdir / f"{tool}.log").open("w") as out:
        r = run_measured(argv, env=env, cwd=cwd, stdout=out)
    if r["exit"] != 0:
        tail = r["stderr"].strip().splitlines()[-5:]
        raise RuntimeError(f"{tool} exited {r['exit']}: " + " | ".join(tail))
    verify(tool, dsn, n, trees["workload"])
    return r


def write_trees(root: Path, n: int, workload: str) -> dict:
    trees = {"workload": workload, "pgferry": write_pgferry(root / "pgferry", n, workload),
             "floor": write_floor(root / "floor.sql", n, workload), "alembic": write_alembic(root / "alembic", n, workload),
             "dbmate": write_dbmate(root / "dbmate", n, workload), "sqitch": write_sqitch(root / "sqitch", n, workload),
             "cache": root / "cache", "cold": root / "cold"}
    trees["cold"].mkdir()
    return trees


def run(*, size: str = "full", runs: int = 5, new_database=None, log=print, work: Path | None = None,
        install: bool = True, n: int | None = None, **_) -> Result:
    assert new_database is not None, "apply-1k needs a server"
    n = n or SIZES[size]
    res = Result("apply-1k", {"size": size, "runs": runs, "migrations": n,
                              "workloads": {w: {"statements_per_migration": len(statements(3, w)), "example": up_sql(3, w)}
                                            for w in WORKLOADS}})
    work = work or Path(tempfile.gettempdir()) / "pgferry-bench-work"
    found = peers_mod.ensure_all(work, install, log)
    res.info["tools"] = {"floor": {"name": "floor", "version": _psql_version(), "installed": True},
                         "pgferry": {"name": "pgferry", "version": _pgferry_version(), "installed": True},
                         "pgferry-cold": {"name": "pgferry", "version": _pgferry_version(), "installed": True},
                         **{k: p.as_dict() for k, p in found.items()}}
    tools = [t for t in TOOLS if t in ("floor", *OURS) or found[t].ok]
    for w, prefix in WORKLOADS.items():
        for t in TOOLS:
            res.metric(prefix + t, (f"{w}: " if prefix else "") + (
                "floor: psql, 1 session, BEGIN/…/INSERT/COMMIT" if t == "floor" else f"{t}: {VIA[t]}"), "s",
                note=SKIPPED.get(w, {}).get(t) or ("" if t in tools else found[t].why))
            if t != "floor":
                res.metric(f"{prefix}{t}_ratio", f"  {t} / floor", "ratio", target=RATIO_TARGET if t in OURS else None)
    tmp = Path(tempfile.mkdtemp(prefix="pgferry-bench-apply-"))
    try:
        all_trees = {w: write_trees(tmp / w, n, w) for w in WORKLOADS}
        for trees in all_trees.values():
            warm_cache(trees, new_database(keep=True))
        ran = {w: [t for t in tools if t not in SKIPPED.get(w, {})] for w in WORKLOADS}
        for i in range(runs):
            for w, trees in all_trees.items():
                contenders = [t for t in ran[w] if t != "floor"]
                run_round(res, i, runs, WORKLOADS[w], contenders, trees, new_database, found, n, tmp, log)
        for w, prefix in WORKLOADS.items():
            summarize(res, prefix, ran[w], n)
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_round(res: Result, i: int, runs: int, prefix: str, contenders: list[str], trees: dict, new_database, found: dict,
              n: int, tmp: Path, log) -> None:
    """Run i of one workload: every contender once, each right after a floor run of its own."""
    # A floor run right before each contender: its ratio compares two runs seconds apart,
    # so a change in the host's load between contenders does not land in the ratio.
    rotated = contenders[i % len(contenders):] + contenders[: i % len(contenders)]
    times, rss = {}, {}
    for tool in rotated:
        log(f"  apply-1k {trees['workload']} run {i + 1}/{runs}: floor, then {tool} ({n} migrations)")
        floor = run_one("floor", trees, new_database(keep=True), found, n, tmp)
        r = run_one(tool, trees, new_database(keep=True), found, n, tmp)
        res.add(prefix + "floor", floor["wall_s"])
        res.add(prefix + tool, r["wall_s"])
        res.add(f"{prefix}{tool}_ratio", r["wall_s"] / floor["wall_s"])
        times[tool], times[f"floor_before_{tool}"] = r["wall_s"], floor["wall_s"]
        rss[tool], rss["floor"] = r["maxrss_kib"], floor["maxrss_kib"]
    res.info.setdefault(prefix + "runs", []).append({"order": rotated, **{k: round(v, 4) for k, v in times.items()},
                                                     "client_peak_rss_kib": rss})


def summarize(res: Result, prefix: str, tools: list[str], n: int) -> None:
    """Per-migration medians and whether pgferry (cache filled, and cold) beat every installed peer."""
    m = {t: res.metrics[prefix + t] for t in tools}
    res.info[prefix + "per_migration_ms"] = {t: round(1000 * m[t].median / n, 3) for t in tools}
    peers = [t for t in tools if t not in ("floor", *OURS)]
    for ours, key in (("pgferry", "pgferry_fastest"), ("pgferry-cold", "pgferry_cold_fastest")):
        res.info[prefix + key] = all(m[ours].median < m[t].median for t in peers)
    res.info[prefix + "floor_s"] = m["floor"].median


def warm_cache(trees: dict, dsn: str) -> None:
    """One untimed `pgferry status` on the files, which fills the definitions cache. The cache
    keeps no folder touched in the last two seconds (engine/definitions/defcache.py): wait that out first."""
    newest = max(p.stat().st_mtime for p in trees["pgferry"].rglob("*"))
    time.sleep(max(0.0, newest + 2.1 - time.time()))
    env = {**os.environ, "PGFERRY_CACHE_DIR": str(trees["cache"])}
    env.pop("PGFERRY_DSN", None)
    subprocess.run([*pgferry_argv(), "status", "--migrations", str(trees["pgferry"]), "--dsn", dsn], env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert list(trees["cache"].glob("*.pickle")), "pgferry status did not fill the definitions cache"


def _psql_version() -> str:
    p = subprocess.run([str(peers_mod.pg_bin("psql")), "--version"], capture_output=True, text=True)
    return p.stdout.strip()


def _pgferry_version() -> str:
    from pgferry import __version__

    return f"pgferry {__version__}"
