"""Preflight (docs/design.md §10): what to know about a database before an upgrade touches it.

Each check passes, warns or fails with a one-line reason; details and a fix (SQL or a command)
are optional. Only failures stop an upgrade. Every check runs per distinct database and only
reads, except the optional pg_dump checkpoint and amcheck (which only takes AccessShareLock).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Collection, Mapping

import psycopg
from psycopg import sql

from ..connection import application_name, connect
from ..definitions.catalog import Definitions
from ..errors import DumpFailed
from ..sessions import Session
from ..locks import lock_key_parts, lock_key
from ..plan.planner import Plan, Planner
from ..sizes import human_size
from .backup import take_dump
from .collation import CollationState, read_state, refresh_statement
from .planning import Connections, read_applied, read_oob_progress, resolve_target

PASS, WARN, FAIL = "pass", "warn", "fail"
ROLE = "preflight"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | warn | fail
    reason: str
    details: tuple[str, ...] = ()
    fix: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", " ".join(self.reason.split()))  # one line, always
        object.__setattr__(self, "details", tuple(self.details))

    def as_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "reason": self.reason,
                "details": list(self.details), "fix": self.fix}


@dataclass(frozen=True)
class Thresholds:
    long_query: float = 60.0
    idle_in_transaction: float = 10.0




def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- server version -----------------------------------------------------------------------------

def version_label(num: int) -> str:
    return f"{num // 10000}.{num % 10000}"


def check_server(conn: psycopg.Connection, release) -> Check:
    v = version_label(conn.info.server_version)
    if release.supports_server(v):
        return Check("server version", PASS, f"PostgreSQL {v} is supported by {release.version}"
                     f" ({release.postgres or 'any version'})")
    return Check("server version", FAIL,
                 f"release {release.version} supports PostgreSQL {release.postgres}; the server runs {v}",
                 fix="upgrade the PostgreSQL server first, or pick a release that supports it")


# -- collation versions -------------------------------------------------------------------------

def check_collations(state: CollationState, planned: Collection[str] = ()) -> Check:
    """The libc/ICU upgrade trap (collation.py): a collation whose version changed sorts text
    differently now, so every index built on it before may be silently corrupt."""
    if state.sound:
        n = sum(1 for v in state.versions if v.actual_version)
        return Check("collation versions", PASS, f"{n} versioned collation(s) in use, none changed"
                     if n else "no collation in use records a version (C locale)")
    details = [f.describe() for f in state.flagged]
    details += [f"index {a.index} on {a.table} ({human_size(a.size)}, {a.method}) uses {', '.join(a.collations)}"
                for a in state.affected]
    if state.affected and {a.index for a in state.affected} <= set(planned):
        return Check("collation versions", PASS, f"{len(state.flagged)} collation version change(s): the plan "
                     f"rebuilds the {len(state.affected)} index(es) on them first", details)
    steps = state.reindex()
    fix = ["-- `pgferry upgrade` rebuilds them before its schema steps (`pgferry plan` shows the steps), or:"]
    fix += [f"{r.sql};  -- ~{r.seconds:g}s" for r in steps]
    fix += [refresh_statement(f).as_string(None) + ";  -- after reindexing" for f in state.flagged]
    fix += ["-- or, having checked them (preflight --amcheck): pgferry collations --acknowledge"]
    what = f"{len(state.affected)} index(es) on them may be corrupt until reindexed" if state.affected else \
        "no index uses them, but pgferry cannot tell whether the data still sorts the same"
    return Check("collation versions", FAIL, f"{len(state.flagged)} collation version change(s): {what}",
                 details, "\n".join(fix))


# -- invalid indexes ----------------------------------------------------------------------------

INVALID_SQL = """
SELECT format('%I.%I', n.nspname, c.relname), format('%I.%I', tn.nspname, t.relname), p.pid
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
LEFT JOIN pg_stat_progress_create_index p ON p.index_relid = c.oid
WHERE NOT i.indisvalid AND c.relpersistence <> 't'
ORDER BY 1"""


def check_invalid_indexes(conn: psycopg.Connection) -> Check:
    rows = conn.execute(INVALID_SQL).fetchall()
    if not rows:
        return Check("invalid indexes", PASS, "no invalid index")
    details, fix = [], []
    for index, table, builder in rows:
        if builder:
            details.append(f"{index} on {table}: being built right now by pid {builder}")
        else:
            details.append(f"{index} on {table}: left by a failed or interrupted concurrent build")
            fix.append(f"DROP INDEX CONCURRENTLY {index};  -- or REINDEX INDEX CONCURRENTLY {index};")
    names = ", ".join(r[0] for r in rows)
    return Check("invalid indexes", WARN, f"{len(rows)} invalid index(es): {names}", details,
                 "\n".join(fix) or None)


# -- long-running and idle-in-transaction sessions ----------------------------------------------

SESSIONS_SQL = """
SELECT pid, coalesce(application_name, ''), coalesce(host(client_addr), 'local'), state, coalesce(query, ''),
       extract(epoch FROM now() - CASE WHEN state = 'active' THEN query_start ELSE state_change END)::float8,
       CASE WHEN state = 'active' THEN query_start ELSE state_change END
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND coalesce(application_name, '') <> ALL(%(own)s)
  AND ((state = 'active' AND query_start < now() - make_interval(secs => %(long)s))
    OR (state IN ('idle in transaction', 'idle in transaction (aborted)')
        AND state_change < now() - make_interval(secs => %(idle)s)))
ORDER BY 6 DESC"""
SEES_ALL_SQL = """
SELECT rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') FROM pg_roles WHERE rolname = current_user"""


def check_sessions(conn: psycopg.Connection, thresholds: Thresholds, own: list[str]) -> Check:
    rows = conn.execute(SESSIONS_SQL, {"own": own, "long": thresholds.long_query,
                                       "idle": thresholds.idle_in_transaction}).fetchall()
    # Without pg_read_all_stats, other roles' sessions show no state: say the check is partial.
    partial = not conn.execute(SEES_ALL_SQL).fetchone()[0]
    note = ["only this role's sessions are visible; grant pg_read_all_stats to see all"] if partial else []
    limits = f"queries over {thresholds.long_query:g}s, idle in transaction over {thresholds.idle_in_transaction:g}s"
    if not rows:
        return Check("sessions", PASS, f"no session would block DDL ({limits})", note)
    sessions = [Session(*r) for r in rows]
    fix = ["-- let them finish, or end them:"] + [
        f"SELECT {'pg_cancel_backend' if s.state == 'active' else 'pg_terminate_backend'}({s.pid});" for s in sessions]
    return Check("sessions", WARN, f"{len(sessions)} session(s) could block DDL and CREATE INDEX CONCURRENTLY "
                 f"({limits})", [s.describe() for s in sessions] + note, "\n".join(fix))


# -- other migrators ----------------------------------------------------------------------------

MIGRATORS_SQL = r"""
WITH keys(name, classid, objid) AS (SELECT * FROM unnest(%(names)s::text[], %(classids)s::bigint[], %(objids)s::bigint[])),
held AS (
  SELECT l.pid, k.name FROM pg_locks l JOIN keys k ON l.classid::bigint = k.classid AND l.objid::bigint = k.objid
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), a.backend_start,
       coalesce((SELECT array_agg(h.name ORDER BY h.name) FROM held h WHERE h.pid = a.pid), '{}')
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid() AND coalesce(a.application_name, '') <> ALL(%(own)s)
  AND (a.pid IN (SELECT pid FROM held)
       OR (a.datname = current_database() AND a.application_name ~ '^pgferry \S+ (migrator|upgrade|oob) '))
ORDER BY a.backend_start, a.pid"""


def migrator_locks(defs: Definitions, bookkeeping_schema: str) -> dict[str, int]:
    """Every advisory lock a pgferry migrator holds while it works: per schema, upgrade, out-of-band."""
    keys = {name: lock_key(bookkeeping_schema, name) for name in defs.schemas}
    keys["upgrade"] = lock_key(bookkeeping_schema, "upgrade")
    for oid in getattr(defs, "out_of_band", {}) or {}:
        keys[f"out-of-band {oid}"] = lock_key(bookkeeping_schema, "oob", str(oid))
    return keys


def check_migrators(conn: psycopg.Connection, locks: Mapping[str, int], own: list[str]) -> Check:
    split = [lock_key_parts(k) for k in locks.values()]
    rows = conn.execute(MIGRATORS_SQL, {"names": list(locks), "classids": [c for c, _ in split],
                                        "objids": [o for _, o in split], "own": own}).fetchall()
    if not rows:
        return Check("other migrators", PASS, "no other pgferry migrator is connected")
    details = []
    for pid, app, host, since, held in rows:
        when = since.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if since else "unknown time"
        what = f"holds the {', '.join(held)} lock" if held else "connected as a migrator"
        details.append(f"pid {pid} from {host} since {when}: {what}" + (f" ({app})" if app else ""))
    fix = "-- wait for it to finish (pgferry watch); if its process is gone:\n" + "\n".join(
        f"SELECT pg_terminate_backend({r[0]});" for r in rows)
    pids = ", ".join(str(r[0]) for r in rows)
    # A warning, not a failure: pgferry's locks make a second run wait safely, then find its work done.
    return Check("other migrators", WARN, f"{len(rows)} other migrator(s) alive (pid {pids}); this run will wait "
                 "for their locks", details, fix)


# -- extensions the plan creates ----------------------------------------------------------------

def needed_extensions(plan: Plan, conns: Connections) -> dict[str, dict[str, str]]:
    """{dsn: {extension: the migration that creates it}}. All steps are scanned, not only those
    marked privileged: validation already insists CREATE EXTENSION is in a privileged one."""
    from pglast import ast  # the statements' trees are read here: `up` loads this module (gate) and reads none

    out: dict[str, dict[str, str]] = {}
    for ps in plan.schema_steps():
        m = ps.step.migration
        for st in ps.step.script.statements:
            if isinstance(st.node, ast.CreateExtensionStmt):
                out.setdefault(conns.dsns[m.schema], {}).setdefault(st.node.extname, f"{m.schema} {m.id} {m.name}")
    return out


def check_extensions(conn: psycopg.Connection, needed: Mapping[str, str]) -> Check:
    if not needed:
        return Check("extensions", PASS, "the plan creates no extension")
    offered = {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions WHERE name = ANY(%s)",
                                          [sorted(needed)]).fetchall()}
    missing = sorted(set(needed) - offered)
    if not missing:
        return Check("extensions", PASS, f"the server offers every extension the plan creates: {', '.join(sorted(needed))}")
    return Check("extensions", FAIL, f"the plan needs extension(s) the server does not offer: {', '.join(missing)}",
                 [f"{e}: created by {needed[e]}" for e in missing],
                 "install the server package that ships them (contrib modules: postgresql-contrib), then run again")


# -- optional: amcheck and a pg_dump checkpoint -------------------------------------------------

AMCHECK_MISSING_FIX = """-- a privileged step: a superuser (or a role allowed to create extensions) runs, in {database}:
CREATE EXTENSION amcheck;
-- then run preflight --amcheck again"""


def check_amcheck(conn: psycopg.Connection, state: CollationState) -> Check:
    """bt_index_check with heapallindexed on exactly the indexes a collation change affects: it
    proves the order of each btree and that every heap row is in it."""
    if not state.affected:
        return Check("amcheck", PASS, "no index uses a changed collation: nothing to check")
    row = conn.execute("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'amcheck'").fetchone()
    if row is None:
        return Check("amcheck", WARN, "not run: the amcheck extension is not installed in this database",
                     fix=AMCHECK_MISSING_FIX.format(database=state.database))
    call = sql.SQL("SELECT {}.bt_index_check(%s::regclass, true)").format(sql.Identifier(row[0]))
    btrees = [a for a in state.affected if a.method == "btree"]
    skipped = [f"{a.index}: a {a.method} index, which amcheck cannot check (reindex it)"
               for a in state.affected if a.method != "btree"]
    start, broken = time.monotonic(), []
    for a in btrees:
        try:
            conn.execute(call, [a.index])
        except psycopg.errors.InsufficientPrivilege as exc:
            return Check("amcheck", WARN, f"not run: {_first_line(exc)}",
                         fix="run preflight --amcheck as a superuser, "
                             "or GRANT EXECUTE ON FUNCTION bt_index_check(regclass, boolean) TO this role")
        except psycopg.Error as exc:
            broken.append(f"{a.index}: {_first_line(exc)}" + (f" (SQLSTATE {exc.sqlstate})" if exc.sqlstate else ""))
    took = time.monotonic() - start
    if broken:
        return Check("amcheck", FAIL, f"{len(broken)} of {len(btrees)} btree index(es) on changed collations failed "
                     "bt_index_check", broken + skipped,
                     "\n".join(f"REINDEX INDEX CONCURRENTLY {b.split(':', 1)[0]};" for b in broken))
    return Check("amcheck", PASS, f"{len(btrees)} btree index(es) on changed collations passed bt_index_check "
                 f"(heapallindexed) in {took:.1f}s", skipped)


def check_backup(conn: psycopg.Connection, dsn: str, directory: str | Path) -> Check:
    try:
        d = take_dump(conn, dsn, directory)
    except (DumpFailed, OSError) as exc:
        return Check("backup", FAIL, f"pg_dump failed: {_first_line(exc)}")
    return Check("backup", PASS, f"wrote {d.path} ({human_size(d.size)}) in {d.seconds:.1f}s",
                 [f"restore: pg_restore --clean --if-exists --dbname=<database> {d.path}"])


# -- running them -------------------------------------------------------------------------------

def preflight_plan(defs: Definitions, conns: Connections, to: str, channel: str = "stable") -> Plan:
    """make_plan without its server-version refusal: preflight reports that as a check instead."""
    target = resolve_target(defs, to, channel)
    applied = read_applied(defs, conns)
    progress = read_oob_progress(defs, conns, applied)
    return Planner(defs).plan(applied, target.version, progress=progress, allow_downgrade=True)


def _guard(name: str, fn: Callable[[], Check]) -> Check:
    # One check that cannot run (a missing privilege, an old server) must not hide the others.
    try:
        return fn()
    except psycopg.Error as exc:
        return Check(name, WARN, f"could not check: {_first_line(exc)}")


def run_preflight(defs: Definitions, conns: Connections, plan: Plan, *, thresholds: Thresholds = Thresholds(),
                  amcheck: bool = False, backup_dir: str | Path | None = None) -> list[Check]:
    release = defs.release(plan.to_version)
    needed = needed_extensions(plan, conns)
    locks = migrator_locks(defs, conns.bookkeeping_schema)
    own = [application_name(ROLE)]
    planned = {r.index for r in plan.reindex}
    dsns = conns.distinct()
    checks: list[Check] = []
    for dsn in dsns:
        with connect(dsn, role=ROLE) as conn:
            state = lambda: read_state(conn, conns.bookkeeping_schema)  # noqa: E731 (read inside each guard)
            found = [
                _guard("server version", lambda: check_server(conn, release)),
                _guard("collation versions", lambda: check_collations(state(), planned)),
                _guard("invalid indexes", lambda: check_invalid_indexes(conn)),
                _guard("sessions", lambda: check_sessions(conn, thresholds, own)),
                _guard("other migrators", lambda: check_migrators(conn, locks, own)),
                _guard("extensions", lambda: check_extensions(conn, needed.get(dsn, {}))),
            ]
            if amcheck:
                found.append(_guard("amcheck", lambda: check_amcheck(conn, state())))
            if backup_dir is not None:
                found.append(_guard("backup", lambda: check_backup(conn, dsn, backup_dir)))
            if len(dsns) > 1:
                db = conn.execute("SELECT current_database()").fetchone()[0]
                found = [replace(c, name=f"{c.name} [{db}]") for c in found]
            checks += found
    return checks


def preflight_failures(defs: Definitions, conns: Connections, plan: Plan, **options) -> list[Check]:
    """The failed checks only: what `upgrade` must stop for (warnings are for the operator)."""
    return [c for c in run_preflight(defs, conns, plan, **options) if c.status == FAIL]
