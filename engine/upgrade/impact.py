"""What a plan will cost on these databases (docs/design.md §6): each step's locks and work from
locking.py, the sizes of the tables it touches read from the live catalog, the server's calibrated
throughputs, and the estimate and data-aware lint of engine/plan/estimate.py.

The catalog read is one read-only query per database. `reltuples` and `relpages` come from
pg_class without any lock (`to_regclass` looks the name up without locking too).
pg_relation_size and pg_indexes_size open the relation with ACCESS SHARE (PostgreSQL's dbsize.c:
try_relation_open(relid, AccessShareLock)) and release it at once, so they conflict only with an
ACCESS EXCLUSIVE lock: an application never waits for them, but they would wait for a migration
holding one. The query therefore runs with a short lock_timeout, and on timeout the sizes come
from relpages instead (what the last VACUUM or ANALYZE saw).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Mapping

import psycopg

from ..bookkeeping.calibration import DEFAULTS, CalibrationLog, Throughputs
from ..connection import Sessions, sessions_or_own
from ..definitions.catalog import Definitions
from ..plan.estimate import RelSize, created_size, estimate_batches, estimate_step
from ..plan.graphrule import graph_findings
from ..plan.impact import Basis, PlanImpact, StepImpact
from ..plan.planner import Plan, PlanStep
from ..run.background import OutOfBandStore
from .planning import Connections

SIZE_LOCK_TIMEOUT = "100ms"

# Rows when the table was never analysed (reltuples = -1 from PostgreSQL 14, 0 before): its pages
# times how many rows of its declared width fit in one (a 24-byte header and a 4-byte pointer
# each; a variable-length column counted as 32 bytes).
_ROW_WIDTH = ("(SELECT 28 + coalesce(sum(CASE WHEN a.attlen > 0 THEN a.attlen ELSE 32 END), 0) "
              "FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)")
_SIZES = """
SELECT n.name, c.reltuples::float8, {heap}, {indexes}, {width}, current_setting('block_size')::int
FROM unnest(%s::text[]) AS n(name) JOIN pg_class c ON c.oid = to_regclass(n.name)
"""
LIVE_SIZES = _SIZES.format(heap="pg_total_relation_size(c.oid) - pg_indexes_size(c.oid)",
                           indexes="pg_indexes_size(c.oid)", width=_ROW_WIDTH)
CATALOG_SIZES = _SIZES.format(
    heap="(c.relpages + coalesce((SELECT t.relpages FROM pg_class t WHERE t.oid = c.reltoastrelid), 0))::bigint "
         "* current_setting('block_size')::int",
    indexes="coalesce((SELECT sum(i.relpages) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = c.oid), 0)::bigint * current_setting('block_size')::int",
    width=_ROW_WIDTH)


def read_sizes(conn: psycopg.Connection, relations: Iterable[str]) -> dict[str, RelSize]:
    """The live size of each relation that exists (those that do not are left out)."""
    names = sorted(set(relations))
    if not names:
        return {}
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(f"SET LOCAL lock_timeout = '{SIZE_LOCK_TIMEOUT}'")
            rows = conn.execute(LIVE_SIZES, [names]).fetchall()
    except psycopg.errors.LockNotAvailable:  # a migration holds ACCESS EXCLUSIVE on one of them
        rows = conn.execute(CATALOG_SIZES, [names]).fetchall()
    return {name: RelSize(name, _rows(tuples, heap, width, block), int(heap), int(indexes))
            for name, tuples, heap, indexes, width, block in rows}


def _rows(reltuples: float, heap_bytes: int, width: int, block_size: int) -> int:
    if reltuples >= 0 and not (reltuples == 0 and heap_bytes > 0):
        return int(reltuples)
    return int(heap_bytes // block_size * (block_size // max(1, width)))


def read_calibration(conn: psycopg.Connection, bookkeeping_schema: str) -> Throughputs:
    return CalibrationLog(conn, bookkeeping_schema).latest() or DEFAULTS


def _script(step: PlanStep):
    if step.kind == "schema":
        return step.step.script
    return step.oob.down if step.reverse else step.oob.up


def _schema_of(step: PlanStep) -> str:
    return step.step.schema if step.kind == "schema" else step.oob.schema


def _analyse_plan(plan: Plan, conns: Connections) -> list[tuple[PlanStep, str, list]]:
    """Each step with its database and its statements' effects (locking.py), knowing the tables
    earlier steps of the plan create: they do not exist yet when the plan is read, so they are empty."""
    from ..definitions.locking import analyse_script

    created: dict[str, set[str]] = {}
    out = []
    for step in plan.steps:
        dsn = conns.dsns.get(_schema_of(step), conns.primary)
        made = created.setdefault(dsn, set())
        script = _script(step)
        effects = analyse_script(script, created=made) if script is not None else []
        if step.kind == "schema" and step.step.up:
            made.update(r for e in effects for r in e.new_relations)
        out.append((step, dsn, effects))
    return out


def with_impact(plan: Plan, defs: Definitions, conns: Connections, *, calibration: Throughputs | None = None,
                sessions: Sessions | None = None) -> Plan:
    """The plan with every step's impact filled in, read from the live databases (read-only)."""
    if not plan.steps:
        return plan
    analysed = _analyse_plan(plan, conns)
    wanted: dict[str, set[str]] = {}
    for _, dsn, effects in analysed:
        wanted.setdefault(dsn, set()).update(t for e in effects for t in e.tables)
    with sessions_or_own(sessions) as session:
        rates = calibration or read_calibration(session(conns.primary), conns.bookkeeping_schema)
        sizes = {dsn: read_sizes(session(dsn), names) for dsn, names in wanted.items()}
        records = {dsn: {r["id"]: r for r in OutOfBandStore(session(dsn), conns.bookkeeping_schema).all()}
                   for dsn in wanted}
    impacts: dict[str, StepImpact] = {}
    for step, dsn, effects in analysed:
        live = sizes[dsn]
        step_sizes = {t: created_size(t) if t in e.created or t not in live else live[t]
                      for e in effects for t in e.tables if t in e.created or t in live}
        impacts[step.key] = _step_impact(step, effects, step_sizes, rates, records[dsn], defs)
    return replace(plan, impact=PlanImpact(impacts, Basis(rates.basis)))


def _step_impact(step: PlanStep, effects: list, sizes: Mapping[str, RelSize], rates: Throughputs,
                 records: Mapping[int, dict], defs: Definitions) -> StepImpact:
    if step.kind == "schema":
        m = step.step.migration
        texts = [st.text for st in step.step.script.statements]
        impact = estimate_step(effects, texts, sizes, rates, transactional=not m.create_index_concurrently)
        if step.step.up:
            extra = graph_findings(defs, m.schema, m, step.release)
            impact = replace(impact, lint=impact.lint + tuple(extra)) if extra else impact
        return impact
    o = step.oob
    record = records.get(o.id) or {}
    tables = [sizes[t] for e in effects for t in e.tables if t in sizes]
    size = max(tables, key=lambda s: s.total_bytes, default=None)
    done = float(record.get("progress") or 0.0)
    rows_to_do = int(size.rows * (done if step.reverse else 1 - done)) if size else 0
    locks = [take for e in effects for take in e.locks]
    return estimate_batches(rows_to_do, size, rates, locks=locks, rows_per_second=record.get("rows_per_second"),
                            batch_size=record.get("batch_size") or o.batch_size, batch_seconds=o.target_batch_seconds)
