"""A plan rendered for people: the whole SQL in run order, or Markdown for a ticket."""
from __future__ import annotations

from .impact import StepImpact
from .impactview import basis_note, lock_phrase, noticeable, seconds, stop_keys, table_phrase, total_phrase
from .planner import Plan
from ..sizes import human_size


def _badges(step) -> list[str]:
    if step.kind != "schema":
        return ["out-of-band" + (" (reverse)" if step.reverse else "")]
    m = step.step.migration
    return [b for b, on in (("privileged", m.privileged), ("concurrent index", m.create_index_concurrently),
                            ("non-idempotent", m.non_idempotent)) if on]


def to_sql(plan: Plan) -> str:
    out = [
        f"-- pgferry plan: {plan.from_label} -> {plan.to_version} ({plan.direction})",
        "-- Each migration runs in its own transaction with its bookkeeping row; a concurrent index",
        "-- build runs outside any transaction. Out-of-band migrations run their batch repeatedly.",
        "",
    ]
    if plan.reindex:
        out += [f"-- ===== first: rebuild {len(plan.reindex)} index(es) on changed collations "
                f"(~{sum(r.seconds for r in plan.reindex):g}s), each outside any transaction", ""]
        out += [f"-- {r.describe()}\n{r.sql};" for r in plan.reindex]
        out.append("")
    current_stop = None
    for s in plan.steps:
        if s.stop != current_stop:
            current_stop = s.stop
            out += [f"-- ===== towards {s.stop}: {s.reason}", ""]
        if s.kind == "schema":
            m = s.step.migration
            script = s.step.script
            badge = f" [{', '.join(_badges(s))}]" if _badges(s) else ""
            out.append(f"-- {m.schema} {m.id} {'up' if s.step.up else 'down'}: {m.name}{badge}")
            out.append(f"-- file: {script.path}")
            if s.step.backfill and s.step.up:
                out.append(f"-- also records {', '.join(map(str, s.step.backfill))} as applied (squashed)")
            transactional = not (s.step.up and m.create_index_concurrently)
            if transactional:
                out.append("BEGIN;")
            out += [st.text.rstrip() + ";" for st in script.statements]
            if transactional:
                out.append("COMMIT;")
            out.append("")
        else:
            o = s.oob
            script = o.down if s.reverse else o.up
            out.append(f"-- out-of-band {o.id} {'down' if s.reverse else 'up'}: {o.description}")
            out.append(f"-- repeat this batch until progress.sql returns {'0' if s.reverse else '1'}:")
            out += ["--   " + line for line in (script.text if script else "(no down.sql)").strip().splitlines()]
            out.append("-- progress:")
            out += ["--   " + line for line in o.progress.text.strip().splitlines()]
            out.append("")
    if plan.empty:
        out.append("-- nothing to do")
    return "\n".join(out) + "\n"


def to_markdown(plan: Plan) -> str:
    out = [f"# Upgrade plan: {plan.from_label} → {plan.to_version}", ""]
    schema_steps = plan.schema_steps()
    out.append(f"- direction: **{plan.direction}**")
    out.append(f"- schema migrations: {len(schema_steps)}"
               f" ({sum(1 for s in schema_steps if s.step.migration.privileged)} privileged,"
               f" {sum(1 for s in schema_steps if s.step.migration.create_index_concurrently)} concurrent index builds)")
    out.append(f"- out-of-band migrations: {len(plan.steps) - len(schema_steps)}")
    out.append(f"- stops: {', '.join(s.release.version for s in plan.stops) or 'none'}")
    for w in plan.warnings:
        out.append(f"- ⚠ {w}")
    out.append("")
    if plan.stops:
        out += ["## Stops", "", "| release | out-of-band | why |", "|---|---|---|"]
        out += [f"| {s.release.version} | {', '.join(map(str, s.out_of_band))} | {s.reason} |" for s in plan.stops]
        out.append("")
    if plan.reindex:
        out += ["## Reindex first (collation version changes)", "", "| index | table | size | estimate | collations |",
                "|---|---|---|---|---|"]
        out += [f"| {r.index} | {r.table} | {human_size(r.size)} | ~{r.seconds:g}s | {', '.join(r.collations)} |"
                for r in plan.reindex]
        out.append("")
    out += ["## Steps", "", "| # | towards | kind | schema | id | name | badges |", "|---|---|---|---|---|---|---|"]
    for n, s in enumerate(plan.steps, 1):
        if s.kind == "schema":
            m = s.step.migration
            out.append(f"| {n} | {s.stop} | {'up' if s.step.up else 'down'} | {m.schema} | {m.id} | {m.name} | {', '.join(_badges(s))} |")
        else:
            out.append(f"| {n} | {s.stop} | out-of-band | {s.oob.schema} | {s.oob.id} | {s.oob.description} | {', '.join(_badges(s))} |")
    if plan.impact is not None:
        out += [""] + _impact_markdown(plan)
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    """Definitions' and the server's text inside a table cell: one line, no column breaks."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _step_name(s) -> str:
    if s.kind == "schema":
        m = s.step.migration
        return f"{'↑' if s.step.up else '↓'} {m.schema} {m.id} {m.name}"
    return f"{'⟲' if s.reverse else '⟳'} out-of-band {s.oob.id} {s.oob.description}"


def _impact_cells(impact: StepImpact) -> list[str]:
    """estimate · locks and what they block · tables with rows and sizes · work · lint."""
    lint = [f"**{f.rule}** ({f.severity}): {f.message} — fix: {f.fix}" for f in impact.lint]
    lock_cell = "<br>".join(_cell(lock_phrase(x)) for x in impact.locks) or "none"
    return [seconds(impact.estimate_s), f"**{lock_cell}**" if noticeable(impact) else lock_cell,
            "<br>".join(_cell(table_phrase(t)) for t in impact.tables), ", ".join(impact.work),
            "<br>".join(map(_cell, lint))]


def _impact_markdown(plan: Plan) -> list[str]:
    """A table per stop for a change ticket: what each step costs and blocks, then the totals."""
    impact = plan.impact
    out = ["## Impact", "", _cell(f"{total_phrase(impact, then=' in all')}{basis_note(impact)}"), ""]
    stops = {s.release.version for s in plan.stops}
    numbered = {s.key: (n, s) for n, s in enumerate(plan.steps, 1)}
    for towards, keys in stop_keys(plan.steps).items():
        where = f"stop at {towards}" if towards in stops else f"{plan.direction} to {towards}"
        out += [f"### {where}: {_cell(total_phrase(impact, keys))}", "",
                "| # | step | estimate | locks (blocks) | tables | work | lint |", "|---|---|---|---|---|---|---|"]
        for key in keys:
            n, s = numbered[key]
            found = impact.of(key)
            cells = _impact_cells(found) if found else ["no estimate", "", "", "", ""]
            out.append(f"| {n} | {_cell(_step_name(s))} | " + " | ".join(cells) + " |")
        out += [f"| | **total** | **{seconds(impact.total_s(keys))}** | | | | |", ""]
    return out
