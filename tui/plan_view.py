"""A plan printed for a terminal: grouped by stop, with badges that do not rely on colour."""
from __future__ import annotations

from rich.console import Console
from rich.text import Text

from pgferry.engine.plan.planner import Plan
from pgferry.engine.safetext import printable
from pgferry.tui.render import label, rich_console

# A glyph column, explained by a legend line: meaning never by colour alone, and it fits 80 columns.
BADGES = (("privileged", "⚿"), ("create_index_concurrently", "⧗"), ("non_idempotent", "!"))
LEGEND = "⚿ privileged  ⧗ concurrent index  ! non-idempotent  ⟳ out-of-band  ⟲ undo  ↑ apply  ↓ revert"


def step_line(n: int, s) -> Text:
    if s.kind == "schema":
        m = s.step.migration
        glyphs = "".join(g if getattr(m, attr) else " " for attr, g in BADGES)
        arrow = "↑" if s.step.up else "↓"
        line = Text(f"{n:>4} {arrow} ")
        line.append(glyphs, style="yellow")
        line.append(f" {printable(m.schema, one_line=True):<12} {m.id:<11} ")
        line.append(printable(m.name, one_line=True))
        if s.step.backfill and s.step.up:
            line.append(f"  (squash of {len(s.step.backfill)})", style="dim")
        return line
    o = s.oob
    line = Text(f"{n:>4} {'⟲' if s.reverse else '⟳'}     {'out-of-band':<12} {o.id:<11} ", style="cyan")
    line.append(printable(o.description, one_line=True))
    return line


def print_plan(plan: Plan, console: Console | None = None) -> None:
    """On a terminal each line is cut to its width; into a pipe or a file nothing is cut."""
    console = console or rich_console()
    if plan.empty:
        console.print(f"Already at {label(plan.to_version)}: nothing to do.", highlight=False)
        return
    schema_steps = plan.schema_steps()
    priv = sum(1 for s in schema_steps if s.step.migration.privileged)
    cic = sum(1 for s in schema_steps if s.step.migration.create_index_concurrently)
    oob = len(plan.steps) - len(schema_steps)
    console.print(
        f"[bold]{plan.direction}[/] {label(plan.from_label)} → [bold]{label(plan.to_version)}[/]: "
        f"{len(schema_steps)} schema migration(s) ({priv} privileged, {cic} concurrent index), "
        f"{oob} out-of-band, {len(plan.stops)} stop(s)", highlight=False)
    console.print(Text(LEGEND, style="dim"), no_wrap=True, overflow="ellipsis")
    for w in plan.warnings:
        console.print(f"  [yellow]! {label(w)}[/]", highlight=False)
    if plan.reindex:
        total = sum(r.seconds for r in plan.reindex)
        console.print(Text(f"── first: rebuild {len(plan.reindex)} index(es) on changed collations (~{total:g}s)",
                           style="bold"), overflow="fold")
        console.print(Text("\n").join(Text(printable(f"   ↻ {r.describe()}", one_line=True)) for r in plan.reindex),
                      no_wrap=True, overflow="ellipsis")
    current = None
    # Step lines go out in one print per stop: a print per line cost 10,000 prints (most of the
    # time of `pgferry plan` on a long history); each line is still cut to the width on its own.
    batch: list[Text] = []

    def flush() -> None:
        if batch:
            console.print(Text("\n").join(batch), no_wrap=True, overflow="ellipsis")
            batch.clear()

    for n, s in enumerate(plan.steps, 1):
        if s.stop != current:
            flush()
            current = s.stop
            stop = next((x for x in plan.stops if x.release.version == s.stop), None)
            head = f"── stop at {s.stop}: {stop.reason}" if stop else f"── {plan.direction} to {s.stop}"
            console.print(Text(printable(head), style="bold"), overflow="fold")
        batch.append(step_line(n, s))
    flush()
