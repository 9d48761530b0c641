"""A plan printed for a terminal: grouped by stop, with badges that do not rely on colour."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.planner import Plan

BADGES = (("privileged", "⚿ privileged"), ("create_index_concurrently", "⧗ concurrent index"),
          ("non_idempotent", "! non-idempotent"))


def print_plan(plan: Plan, console: Console | None = None) -> None:
    console = console or Console()
    if plan.empty:
        console.print(f"Already at {escape(plan.to_version)}: nothing to do.", highlight=False)
        return
    schema_steps = plan.schema_steps()
    priv = sum(1 for s in schema_steps if s.step.migration.privileged)
    cic = sum(1 for s in schema_steps if s.step.migration.create_index_concurrently)
    oob = len(plan.steps) - len(schema_steps)
    console.print(
        f"[bold]{plan.direction}[/] {escape(plan.from_label)} → [bold]{escape(plan.to_version)}[/]: "
        f"{len(schema_steps)} schema migration(s) ({priv} privileged, {cic} concurrent index), "
        f"{oob} out-of-band, {len(plan.stops)} stop(s)", highlight=False)
    for stop in plan.stops:
        console.print(f"  stop at {escape(stop.release.version)}: {escape(stop.reason)}", highlight=False)
    for w in plan.warnings:
        console.print(f"  [yellow]! {escape(w)}[/]", highlight=False)
    table = Table(show_edge=False, pad_edge=False, expand=False)
    for col in ("#", "towards", "step", "schema", "id", "name", "notes"):
        table.add_column(col, overflow="fold")
    current = None
    for n, s in enumerate(plan.steps, 1):
        if s.stop != current:
            if current is not None:
                table.add_section()
            current = s.stop
        if s.kind == "schema":
            m = s.step.migration
            notes = [label for attr, label in BADGES if getattr(m, attr)]
            if s.step.backfill and s.step.up:
                notes.append(f"squash of {len(s.step.backfill)}")
            table.add_row(str(n), s.stop, "up" if s.step.up else "down", m.schema, str(m.id), escape(m.name),
                          ", ".join(notes))
        else:
            o = s.oob
            table.add_row(str(n), s.stop, "⟳ oob" + (" undo" if s.reverse else ""), o.schema, str(o.id),
                          escape(o.description), escape(s.reason))
    console.print(table)
