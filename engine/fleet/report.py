"""The fleet's tracking report (`fleet report`): per ring, per instance, from where to where, when,
how long, the result, the manual steps and who confirmed them, failures with their first line.
The document a tracking issue holds, made from the coordinator's rows and each instance's own
upgrade report (engine/upgrade/report.py), which says who confirmed its privileged steps."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..definitions.catalog import Definitions
from ..upgrade.report import markdown_cell, duration_text, time_text, build_report, migration_names
from .instance import connections, first_line
from .inventory import Inventory
from .state import FleetRun, InstanceState
from .survey import each_instance


@dataclass(frozen=True)
class InstanceLine:
    state: InstanceState
    manual: tuple[str, ...]  # "main 14 confirmed by dba@host"

    def as_dict(self) -> dict:
        return {**self.state.as_dict(), "manual": list(self.manual)}


@dataclass(frozen=True)
class FleetReport:
    run: FleetRun
    rings: tuple[str, ...]
    lines: tuple[InstanceLine, ...]

    def as_dict(self) -> dict:
        r = self.run
        return {"run_id": r.id, "fleet": r.fleet, "to": r.to_version, "status": r.status, "reason": r.reason,
                "started_at": r.started_at, "finished_at": r.finished_at, "started_by": r.started_by,
                "counts": dict(Counter(line.state.effective_status for line in self.lines)),
                "instances": [line.as_dict() for line in self.lines]}


def manual_steps(defs: Definitions, inventory: Inventory, state: InstanceState, bookkeeping_schema: str) -> tuple[str, ...]:
    if state.upgrade_run_id is None:
        return ()
    instance = next((i for i in inventory.instances if i.name == state.name), None)
    if instance is None:
        return ()
    try:
        report = build_report(connections(defs, instance, bookkeeping_schema).dsns, bookkeeping_schema,
                              state.upgrade_run_id, migration_names(defs), defs)
    except Exception as exc:  # noqa: BLE001 - the tracking report still lists the instance
        return (f"(its report cannot be read: {first_line(exc, instance)})",)
    return tuple(f"{s.schema} {s.id} confirmed by {s.confirmed_by or '?'}" for s in report.manual)


def build_fleet_report(defs: Definitions, inventory: Inventory, run: FleetRun, states: list[InstanceState],
                       bookkeeping_schema: str = "public", workers: int = 4) -> FleetReport:
    manual = each_instance(states, lambda s: manual_steps(defs, inventory, s, bookkeeping_schema), workers)
    return FleetReport(run, inventory.rings, tuple(InstanceLine(s, m) for s, m in zip(states, manual)))


def to_markdown(report: FleetReport) -> str:
    r = report.run
    counts = Counter(line.state.effective_status for line in report.lines)
    lines = [
        f"# Fleet {markdown_cell(r.fleet)}: run {r.id} to {r.to_version}",
        "",
        f"- status: **{r.status}**" + (f" ({markdown_cell(r.reason)})" if r.reason else ""),
        f"- started by {markdown_cell(r.started_by or '?')} at {time_text(r.started_at)}; finished: {time_text(r.finished_at)}",
        f"- instances: {len(report.lines)} (" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")",
    ]
    for ring in report.rings:
        ring_lines = [line for line in report.lines if line.state.ring == ring]
        if not ring_lines:
            continue
        lines += ["", f"## Ring {markdown_cell(ring)}", "",
                  "| instance | from → to | started | took | result | manual steps |", "|---|---|---|---|---|---|"]
        for line in ring_lines:
            s = line.state
            move = f"{s.from_version or '?'} → {s.reached_version or '-'}" if s.started_at else "-"
            lines.append(f"| {markdown_cell(s.name)} | {markdown_cell(move)} | {time_text(s.started_at)} | {duration_text(s.seconds)} | "
                         f"{s.effective_status} | {markdown_cell('; '.join(line.manual) or '-')} |")
        notes = [line.state for line in ring_lines if line.state.reason]
        if notes:
            lines += [""] + [f"- {markdown_cell(s.name)} ({s.effective_status}): {markdown_cell(s.reason)}" for s in notes]
    return "\n".join(lines) + "\n"
