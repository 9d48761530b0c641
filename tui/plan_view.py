"""A plan printed for a terminal: grouped by stop, with badges that do not rely on colour."""
from __future__ import annotations

import textwrap

from rich.console import Console
from rich.text import Text

from pgferry.engine.plan.impact import StepImpact
from pgferry.engine.plan.impactview import basis_note, blocks_phrase, noticeable, seconds, stop_keys, total_phrase
from pgferry.engine.plan.planner import Plan
from pgferry.engine.safetext import printable
from pgferry.tui.terminal import label, rich_console

# A glyph column, explained by a legend line: meaning never by colour alone, and it fits 80 columns.
BADGES = (("privileged", "⚿"), ("create_index_concurrently", "⧗"), ("non_idempotent", "!"))
LEGEND = "⚿ privileged  ⧗ concurrent index  ! non-idempotent  ⟳ out-of-band  ⟲ undo  ↑ apply  ↓ revert"


ESTIMATE_WIDTH = 8  # "~4.5 min"
INDENT = " " * 7  # impact lines sit under the step's arrow


def step_line(n: int, s, impact: StepImpact | None = None, *, estimates: bool = False) -> Text:
    """One step; with `estimates` (the plan has an impact) a column with the step's estimate."""
    column = f"{seconds(impact.estimate_s) if impact else '?':>{ESTIMATE_WIDTH}} " if estimates else ""
    if s.kind == "schema":
        m = s.step.migration
        glyphs = "".join(g if getattr(m, attr) else " " for attr, g in BADGES)
        arrow = "↑" if s.step.up else "↓"
        line = Text(f"{n:>4} {arrow} ")
        line.append(glyphs, style="yellow")
        line.append(f" {column}{printable(m.schema, one_line=True):<12} {m.id:<11} ")
        line.append(printable(m.name, one_line=True))
        if s.step.backfill and s.step.up:
            line.append(f"  (squash of {len(s.step.backfill)})", style="dim")
        return line
    o = s.oob
    line = Text(f"{n:>4} {'⟲' if s.reverse else '⟳'}     {column}{'out-of-band':<12} {o.id:<11} ", style="cyan")
    line.append(printable(o.description, one_line=True))
    return line


def wrapped(text: str, width: int, *, first: str = INDENT, rest: str = INDENT + "  ") -> list[str]:
    """Impact lines wrap at the terminal's width instead of being cut: no information lost."""
    return textwrap.wrap(printable(text, one_line=True), width=max(width, 40), initial_indent=first,
                         subsequent_indent=rest, break_on_hyphens=False) or [first]


def impact_lines(impact: StepImpact | None, width: int) -> list[Text]:
    """Under a step: what it blocks when that is noticeable (glyph and word, bold), then each lint
    finding with its rule id and fix."""
    if impact is None:
        return []
    out = []
    if noticeable(impact):
        out += [Text(line, style="bold") for line in wrapped(blocks_phrase(impact), width)]
    for f in impact.lint:
        out += [Text(line) for line in wrapped(f"lint {f.rule} ({f.severity}): {f.message}", width)]
        out += [Text(line, style="dim") for line in wrapped(f"fix: {f.fix}", width, first=INDENT + "  ",
                                                               rest=INDENT + "    ")]
    return out


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
    impact = plan.impact
    if impact is not None:
        text = f"impact: {total_phrase(impact, then=' in all')}{basis_note(impact)}"
        console.print(Text("\n".join(wrapped(text, console.width, first="", rest="  ")), style="bold"))
        by_stop = stop_keys(plan.steps)
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
            if impact is not None:
                where = f"stop {s.stop}" if stop else f"to {s.stop}"
                text = f"{where}: {total_phrase(impact, by_stop[s.stop])}"
                console.print(Text("\n".join(wrapped(text, console.width, first="   ", rest="     "))))
        found = impact.of(s.key) if impact is not None else None
        batch.append(step_line(n, s, found, estimates=impact is not None))
        batch += impact_lines(found, console.width)
    flush()
