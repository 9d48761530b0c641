"""What an upgrade run did: steps and durations, manual steps and who confirmed them, warnings.

Built from the database alone (upgrade_runs, migration_logs, the out-of-band tables), so the
report of a run is the same wherever it is asked for. A run resumed after a crash or a pause is
reported with the runs it continues.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping

from psycopg import sql

from ..bookkeeping.runs import RunStore, UpgradeRun
from ..connection import connect
from ..errors import UsageError
from ..run.background import OutOfBandStore
from ..safetext import printable
from ..sizes import human_size
from .runbackups import listed

# Manual steps (privileged verify) are recorded before the run starts: look back this far for them.
_MANUAL_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class StepRecord:
    schema: str
    id: int
    up: bool
    seconds: float | None
    success: bool | None
    manual: bool
    confirmed_by: str | None
    error: str | None
    run_id: int | None


@dataclass(frozen=True)
class Report:
    runs: tuple[UpgradeRun, ...]  # oldest first; the last is the one asked for
    steps: tuple[StepRecord, ...]
    manual: tuple[StepRecord, ...]
    out_of_band: tuple[dict, ...]
    warnings: tuple[str, ...]
    names: Mapping[tuple[str, int], str] = field(default_factory=dict)

    @property
    def run(self) -> UpgradeRun:
        return self.runs[-1]

    @property
    def seconds(self) -> float | None:
        first, last = self.runs[0], self.runs[-1]
        end = last.finished_at or last.heartbeat
        return (end - first.started_at).total_seconds() if end else None

    @property
    def from_version(self) -> str | None:
        """Where the whole move started: a resumed run starts where the one it continues stopped."""
        return self.runs[0].from_version

    def as_dict(self) -> dict:
        r = self.run
        return {
            "run_id": r.id, "status": r.effective_status, "direction": r.direction, "from": self.from_version,
            "to": r.to_version, "operator": r.operator, "host": r.host, "started_at": self.runs[0].started_at,
            "finished_at": r.finished_at, "seconds": self.seconds, "runs": [x.id for x in self.runs],
            "steps": [s.__dict__ for s in self.steps], "manual": [s.__dict__ for s in self.manual],
            "out_of_band": list(self.out_of_band), "warnings": list(self.warnings), "error": r.error,
            "backups": self.backups,
        }

    @property
    def backups(self) -> list[dict]:
        """The dumps `upgrade --backup` took before each run of the move changed anything."""
        return [b for x in self.runs for b in listed(x.id, x.backups)]


def _chain(store: RunStore, run: UpgradeRun) -> list[UpgradeRun]:
    chain = [run]
    while chain[0].resumed_from and len(chain) < 100:
        prev = store.get(chain[0].resumed_from)
        if prev is None:
            break
        chain.insert(0, prev)
    return chain


def moved_between(defs, a: str | None, b: str) -> set[tuple[str, int]]:
    """The (schema, id) of every migration that differs between releases a and b, either way."""
    out: set[tuple[str, int]] = set()
    ra = defs.releases.find(a) if a else None
    rb = defs.releases.find(b)
    for schema in defs.schemas:
        have = defs.required(ra, schema) if ra else frozenset()
        want = defs.required(rb, schema) if rb else frozenset()
        out |= {(schema, i) for i in have ^ want}
    return out


def migration_names(defs) -> dict[tuple[str, int], str]:
    """(schema, id) -> migration name, for the report's rows."""
    return {(name, m.id): m.name for name, g in defs.schemas.items() for m in g.migrations.values()}


def build_report(dsns: Mapping[str, str], bookkeeping_schema: str = "public", run_id: int | None = None,
                 names: Mapping[tuple[str, int], str] | None = None, defs=None) -> Report:
    """defs, when given, finds the manual steps of the move (they are recorded before the run
    starts, so the run's own plan no longer lists them)."""
    primary = next(iter(dsns.values()))
    with connect(primary, role="status") as conn:
        store = RunStore(conn, bookkeeping_schema)
        run = store.get(run_id) if run_id is not None else store.latest()
        if run is None:
            raise UsageError(f"no upgrade run {run_id}" if run_id is not None else "no upgrade run recorded yet",
                             hint="`pgferry status` shows what is applied; runs are recorded by `pgferry upgrade`")
        runs = _chain(store, run)
    ids = [r.id for r in runs]
    planned = {(s["schema"], s["id"]) for r in runs for s in (r.plan or {}).get("steps", []) if s.get("kind") == "schema"}
    if defs is not None:
        for r in runs:
            planned |= moved_between(defs, r.from_version, r.to_version)
    # In plan order, the first run's first: the order they ran in (each database is read on its own).
    planned_oob = list(dict.fromkeys(s["id"] for r in runs for s in (r.plan or {}).get("steps", [])
                                     if s.get("kind") == "out_of_band"))
    steps: list[StepRecord] = []
    manual: list[StepRecord] = []
    oob: list[dict] = []
    table = sql.Identifier(bookkeeping_schema, "migration_logs")
    for dsn in dict.fromkeys(dsns.values()):
        with connect(dsn, role="status") as conn:
            if conn.execute("SELECT to_regclass(%s) IS NOT NULL", [table.as_string(conn)]).fetchone()[0]:
                rows = conn.execute(sql.SQL(
                    "SELECT schema, version, up, extract(epoch FROM finished_at - started_at)::float8, success, manual, "
                    "confirmed_by, error_message, run_id FROM {} WHERE run_id = ANY(%s) OR (manual AND started_at >= %s) "
                    "ORDER BY started_at, id").format(table), [ids, runs[0].started_at - _MANUAL_WINDOW]).fetchall()
                for row in rows:
                    rec = StepRecord(*row)
                    if rec.manual:
                        if (rec.schema, rec.id) in planned:
                            manual.append(rec)
                    else:
                        steps.append(rec)
            oob += [o for o in OutOfBandStore(conn, bookkeeping_schema).all() if o["id"] in planned_oob]
    oob.sort(key=lambda o: planned_oob.index(o["id"]))
    warnings = [w for r in runs for w in (r.plan or {}).get("warnings", [])]
    for r, later in zip(runs, runs[1:]):
        warnings.append(_stopped(r, later))
    failed = [s for s in steps if s.success is False]
    for s in failed:
        warnings.append(f"{s.schema} {s.id} failed once: {s.error or 'no message'} (retried or recovered later)")
    for o in oob:
        if o.get("error_count"):
            warnings.append(f"out-of-band {o['id']} had {o['error_count']} failed batch(es); last: {o.get('last_error')}")
    return Report(tuple(runs), tuple(steps), tuple(manual), tuple(oob), tuple(dict.fromkeys(warnings)), dict(names or {}))




def _stopped(run: UpgradeRun, later: UpgradeRun) -> str:
    """'run 2 stopped: <why>; continued by run 3'. The stored error of a continued run already ends
    with 'continued by run N' (RunStore.supersede): said once here."""
    why = (run.error or "").strip()
    why = why.removesuffix(f"continued by run {later.id}").rstrip("; ").strip()
    return f"run {run.id} stopped: {why or f'at step {run.position}/{run.total}'}; continued by run {later.id}"


def markdown_cell(text: object) -> str:
    """Server or definition text in one Markdown line or table cell: control characters escaped,
    a pipe kept from ending the cell."""
    return printable(text if text is not None else "", one_line=True).replace("|", "\\|")


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def time_text(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if t else "-"


def _section(title: str, columns: tuple[str, ...], rows: list[str], *, none: str = "- none",
             after: list[str] = ()) -> list[str]:
    """A report section: its table (and what follows it), or one line saying there is nothing."""
    if not rows:
        return ["", f"## {title}", "", none]
    return ["", f"## {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns), *rows, *after]


def to_markdown(report: Report, slowest: int = 10) -> str:
    r = report.run
    first = report.runs[0]
    ok = [s for s in report.steps if s.success]
    continues = f" (continuing {', '.join(str(x.id) for x in report.runs[:-1])})" if len(report.runs) > 1 else ""
    lines = [  # the whole move, from where its first run started
        f"# pgferry report: run {r.id}{continues}, {r.direction} {report.from_version or 'none'} → {r.to_version}",
        "",
        f"- status: **{r.effective_status}**" + (f" ({markdown_cell(r.error)})" if r.error and r.effective_status != "succeeded" else ""),
        f"- operator: {markdown_cell(r.operator or '?')} on {markdown_cell(r.host or '?')}",
        f"- started: {time_text(first.started_at)}; finished: {time_text(r.finished_at)}; took {duration_text(report.seconds)}",
        f"- steps: {len(ok)} schema migration(s) applied or reverted"
        f", {len(report.manual)} manual, {len(report.out_of_band)} out-of-band",
    ]
    if len(report.runs) > 1:
        lines.append(f"- runs: {' → '.join(str(x.id) for x in report.runs)} (resumed after an interruption or a pause)")
    lines += ["", "## Warnings", ""]
    lines += [f"- {markdown_cell(w)}" for w in report.warnings] or ["- none"]
    lines += _section("Manual steps", ("schema", "id", "name", "confirmed by"),
                      [f"| {markdown_cell(s.schema)} | {s.id} | {markdown_cell(report.names.get((s.schema, s.id)))} | "
                       f"{markdown_cell(s.confirmed_by or '?')} |" for s in report.manual])
    lines += _section("Out-of-band migrations", ("id", "description", "progress", "finished"),
                      [f"| {o['id']} | {markdown_cell(o.get('description'))} | {float(o.get('progress') or 0):.0%} | "
                       f"{time_text(o.get('finished_at'))} |" for o in report.out_of_band])
    lines += _section("Backups", ("run", "database", "file", "size", "sha256", "taken"),
                      [f"| {b['run_id']} | {markdown_cell(b['database'])} | {markdown_cell(b['path'])} | "
                       f"{human_size(b['bytes'])} | {b['sha256']} | {markdown_cell(b['taken_at'])} |" for b in report.backups],
                      none="- none (`pgferry upgrade --backup DIR` takes them)",
                      after=["", "`pgferry restore --run N` puts these databases back as they were before run N."])
    slow = sorted(ok, key=lambda s: s.seconds or 0, reverse=True)[:slowest]
    lines += _section(f"Slowest steps (of {len(ok)})", ("schema", "id", "name", "direction", "took"),
                      [f"| {markdown_cell(s.schema)} | {s.id} | {markdown_cell(report.names.get((s.schema, s.id)))} | "
                       f"{'up' if s.up else 'down'} | {duration_text(s.seconds)} |" for s in slow])
    by_schema: dict[str, list[StepRecord]] = {}
    for s in ok:
        by_schema.setdefault(s.schema, []).append(s)
    lines += ["", "## Per schema", ""]
    for schema, items in by_schema.items():
        total = sum(s.seconds or 0 for s in items)
        lines.append(f"- {schema}: {len(items)} step(s) in {duration_text(total)}")
    if not by_schema:
        lines.append("- none")
    return "\n".join(lines) + "\n"
