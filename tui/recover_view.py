"""Plain-text and Markdown rendering of `pgferry recover` (the JSON form is Diagnosis.as_dict)."""
from __future__ import annotations

from datetime import datetime, timezone

from pgferry import __version__
from pgferry.engine.connection import mask_dsn
from pgferry.engine.repair.kinds import ProblemKind

GLYPH = {ProblemKind.FAILED: "✗", ProblemKind.STALE: "!", ProblemKind.IN_PROGRESS: "…"}
LABEL = {ProblemKind.FAILED: "FAILED", ProblemKind.STALE: "STALE", ProblemKind.IN_PROGRESS: "RUNNING"}


def _when(t: datetime | None) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if t else "-"


def problem_lines(p) -> list[str]:
    a = p.attempt
    name = f" {p.name}" if p.name else " (not in the definitions)"
    cic = " concurrent index" if p.migration and p.migration.create_index_concurrently and a.up else ""
    out = [f"{GLYPH[p.kind]} {LABEL[p.kind]}  {p.schema} {a.version}{name} ({p.direction}{cic}) on {p.database}"]
    finished = _when(a.finished_at) if a.finished_at else "never recorded a result"
    out.append(f"  started {_when(a.started_at)}, finished {finished}")
    out.append(f"  by backend {a.backend_pid or '?'} on {a.host or '?'} (pgferry {a.pgferry_version or '?'}), "
               f"backend alive: {'yes' if p.alive else 'no'}; applied: {'yes' if p.applied else 'no'}")
    if a.error_message:
        state = f" (SQLSTATE {a.error_sqlstate})" if a.error_sqlstate else ""
        where = f" at {p.path}:{a.error_line}" if p.path and a.error_line else \
            f" at line {a.error_line}" if a.error_line else ""
        out.append(f"  error: {a.error_message.splitlines()[0]}{state}{where}")
        out += [f"    {x}" for x in a.error_message.splitlines()[1:]]
    if p.excerpt:
        if p.script_changed:
            out.append(f"  {p.path} changed since this attempt; the statement as it ran:")
        elif not a.error_message:
            out.append(f"  was running ({p.path}):")
        width = max(len(str(x.number or "")) for x in p.excerpt)
        out += [f"  {'>' if x.marked else ' '} {x.number or '':>{width}} | {x.text}".rstrip() for x in p.excerpt]
    if p.effects:
        out.append("  catalog (what up.sql creates):")
        for e in p.effects:
            detail = f", {e.detail}" if e.detail else ""
            out.append(f"    {'present' if e.present else 'absent ':<7}  {e.kind} {e.name} (line {e.line}{detail})")
    if p.recommended:
        r = p.recommended
        what = f"--{r.action} {a.version} --schema {p.schema}" if r.action else "none of the actions below yet"
        out.append(f"  ★ recommended: {what}: {r.evidence}")
    out += [f"  → {s}" for s in p.suggestions]
    return out


def index_lines(i) -> list[str]:
    why = f"recorded as applied by {i.owner} while invalid" if i.owner else "no migration owns it"
    out = [f"! INVALID INDEX  {i.name} on {i.table} in {i.database}: {why}; nobody is building it",
           f"  definition: {i.definition}"]
    if not i.repairable:
        return out + [f"  ✗ REINDEX would fail: {i.duplicates.explain(i.name)}",
                      f"  → then --repair-index {i.name}"]
    if i.duplicates:  # too big to check in time
        out.append(f"  ! {i.duplicates.explain(i.name)}")
    return out + [f"  → --repair-index {i.name}: REINDEX INDEX CONCURRENTLY {i.name} (rebuilds it in place)"]


def diagnosis_lines(d) -> list[str]:
    if not d.problems and not d.invalid_indexes:
        return ["nothing to recover: no failed, stale or running attempt, no invalid index"]
    out = []
    for p in d.problems:
        out += problem_lines(p) + [""]
    for i in d.invalid_indexes:
        out += index_lines(i) + [""]
    dirty = sum(p.actionable for p in d.problems)
    out.append(f"{dirty} attempt(s) need recovery, {len(d.problems) - dirty} running, "
               f"{len(d.invalid_indexes)} unowned invalid index(es)")
    return out


def result_lines(r) -> list[str]:
    ok = r.ok and r.verified
    out = [f"{'✓' if ok else '✗'} {r.action.title}: {'done' if r.ok else 'FAILED'}: {r.message.splitlines()[0] if r.message else ''}"]
    out += [f"    {x}" for x in r.message.splitlines()[1:]]
    out += [f"  verify: {x}" for x in r.verification]
    out.append(f"  verified: {'yes' if r.verified else 'NO'}")
    return out


def transcript(*, started: datetime, dsns: dict[str, str], definitions: str, operator: str, before, actions,
               after=None) -> str:
    """Markdown for a support ticket: findings, each action's SQL, results and verification."""
    by_dsn: dict[str, list[str]] = {}
    for schema, dsn in dsns.items():
        by_dsn.setdefault(dsn, []).append(schema)
    md = ["# pgferry recover transcript", "",
          f"- pgferry version: {__version__}",
          f"- started: {_when(started)}",
          f"- written: {_when(datetime.now(timezone.utc))}",
          f"- operator: {operator}",
          f"- definitions: `{definitions}`"]
    md += [f"- database for {', '.join(schemas)}: `{mask_dsn(dsn)}`" for dsn, schemas in by_dsn.items()]
    md += ["", "## Findings", "", "```text", *diagnosis_lines(before), "```"]
    for confirmed, r in actions:
        a = r.action
        md += ["", f"## Action: {a.title}", "",
               f"- database: {a.database}",
               f"- confirmed: {confirmed}",
               *([f"- forced, reason: {a.forced}"] if a.forced else []),
               f"- started: {_when(r.started_at)}",
               f"- finished: {_when(r.finished_at)}", "",
               "SQL:", "", "```sql", a.sql, "```", "",
               "Result:", "", "```text", *result_lines(r), "```"]
    if after is not None:
        md += ["", "## Findings after the action", "", "```text", *diagnosis_lines(after), "```"]
    return "\n".join(md) + "\n"
