"""What the plan screen shows about a step's or a group's cost: the impact panel, the totals in the
stop headers and the mark on steps that block an application noticeably (glyph and word, never
colour alone). Text only; the words come from engine/plan/impactview.py, shared with `plan`. The
screen escapes what it draws (relation names and lint messages are the server's and the definitions')."""
from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from pgferry.engine.plan.impact import Basis, PlanImpact
from pgferry.engine.plan.impactview import (DEFAULT_NOTE, NOTICEABLE_S, OFFLINE, blocks_phrase, lint_phrase,
                                            lock_phrase, noticeable, seconds, stop_keys, table_phrase, total_phrase)
from pgferry.engine.plan.outline import Item, ReleaseGroup, SchemaGroup, Segment
from pgferry.engine.plan.planner import Plan


def step_mark(plan: Plan, it: Item) -> str:
    """ "✗ blocks reads+writes ~3.1 s " before a step's name when it blocks for NOTICEABLE_S or more."""
    found = plan.impact.of(it.step.key) if plan.impact else None
    return f"{blocks_phrase(found, relations=False)} " if noticeable(found) else ""


def segment_cost(plan: Plan, seg: Segment) -> str:
    """ " · ~12 s" for a stop header: the whole segment's estimate, filtered steps included."""
    if plan.impact is None:
        return ""
    return f" · {seconds(plan.impact.total_s(stop_keys(plan.steps).get(seg.towards, ())))}"


def plan_cost(impact: PlanImpact, *, wide: bool) -> str:
    """The summary's line: the total, what is blocked (when there is room) and the estimates' basis."""
    total = total_phrase(impact, then=" in all") if wide else f"{seconds(impact.total_s())} in all"
    return f"impact: {total}" + (f" · {DEFAULT_NOTE}" if impact.basis is Basis.DEFAULT else "")


def _group_keys(plan: Plan, data: object) -> list[str] | None:
    if isinstance(data, Segment):
        return stop_keys(plan.steps).get(data.towards, [])
    if isinstance(data, ReleaseGroup):
        return [it.step.key for sg in data.schemas for it in sg.items]
    if isinstance(data, SchemaGroup):
        return [it.step.key for it in data.items]
    return None


def impact_text(plan: Plan, data: object, missing: str = OFFLINE) -> RenderableType:
    """The impact panel for the highlighted step or group; wrapped lines keep their indent. `missing`:
    what it says while the plan has no impact (offline, being read, or why it could not be)."""
    impact = plan.impact
    if impact is None:
        return Text(missing, style="italic")
    basis = f" · {DEFAULT_NOTE}" if impact.basis is Basis.DEFAULT else " · calibrated on this server"
    if not isinstance(data, Item):
        keys = _group_keys(plan, data)
        if keys is None:
            return Text("")
        head = Text(f"impact of this group: {seconds(impact.total_s(keys))}", style="bold")
        head.append(basis, style="not bold")
        return Group(head, *(_indented(p) for p in total_phrase(impact, keys).split("; ")[1:]))
    found = impact.of(data.step.key)
    if found is None:
        return Text(f"no estimate for #{data.n}", style="italic")
    head = Text(f"impact of #{data.n}: {seconds(found.estimate_s)}", style="bold")
    head.append(f" · {', '.join(found.work) or 'no work named'}" + (basis if found.basis == impact.basis else
                                                                    f" · {found.basis} estimate"), style="not bold")
    lines: list[RenderableType] = [head]
    if noticeable(found):
        lines.append(Text(f"{blocks_phrase(found)} (≥ {NOTICEABLE_S:g} s: noticeable)", style="bold"))
    lines += _section("locks", [lock_phrase(x) for x in found.locks])
    lines += _section("tables", [table_phrase(x) for x in found.tables])
    if found.lint:
        lines.append(Text("lint", style="italic"))
        for f in found.lint:
            lines += [_indented(lint_phrase(f)), _indented(f"fix: {f.fix}", 4, "italic")]
    return Group(*lines)


def _indented(line: str, by: int = 2, style: str = "") -> Padding:
    return Padding(Text(line, style=style), (0, 0, 0, by))


def _section(title: str, lines: list[str]) -> list[RenderableType]:
    if not lines:
        return [Text(f"{title}: none", style="italic")]
    return [Text(title, style="italic"), *(_indented(line) for line in lines)]
