"""A plan's impact in words, for every view of it (docs/design.md §6): the `plan` text, the Markdown
export, the terminal UI and the JSON summary all say the same thing the same way.

Meaning is never carried by colour alone: what a step blocks is a glyph and a word ("✗ blocks
reads+writes", "! blocks writes"). Pure functions over impact.py's values; no planner import, so
planner.py can use the summary.
"""
from __future__ import annotations

from typing import Iterable

from ..sizes import human_size
from .impact import Basis, Blocks, LintFinding, LockHeld, PlanImpact, StepImpact, TableTouched

# A step that keeps an application from reading or writing a relation for at least this long is
# one an admin should see without looking for it: highlighted with a glyph and a word in every view.
NOTICEABLE_S = 1.0

GLYPH = {Blocks.READS_AND_WRITES: "✗", Blocks.WRITES: "!", Blocks.NOTHING: ""}
SHORT = {Blocks.READS_AND_WRITES: "reads+writes", Blocks.WRITES: "writes", Blocks.NOTHING: "nothing"}
DEFAULT_NOTE = "default estimates: run `pgferry calibrate`"
OFFLINE = "no estimate: the plan was made without reading the database's sizes"


def seconds(s: float) -> str:
    """A duration as an estimate reads: "<0.1 s", "~3.1 s", "~12 s", "~4.5 min", "~1.2 h"."""
    if s < 0.05:
        return "<0.1 s"
    if s < 10:
        return f"~{s:.1f} s"
    if s < 60:
        return f"~{s:.0f} s"
    if s < 3600:
        return f"~{s / 60:.1f} min"
    return f"~{s / 3600:.1f} h"


def worst(impact: StepImpact) -> tuple[Blocks, float, list[str]]:
    """What the step blocks at worst, for how long, and on which relations (those held longest)."""
    blocked = impact.blocked()
    if not blocked:
        return Blocks.NOTHING, 0.0, []
    order = list(Blocks)
    top = max(order.index(b) for b, _ in blocked.values())
    held = max(h for b, h in blocked.values() if order.index(b) == top)
    return order[top], held, sorted(r for r, (b, h) in blocked.items() if order.index(b) == top and h == held)


def noticeable(impact: StepImpact | None) -> bool:
    """Blocks reads or writes of some relation for NOTICEABLE_S or longer."""
    return impact is not None and any(h >= NOTICEABLE_S for _, h in impact.blocked().values())


def blocks_phrase(impact: StepImpact, *, relations: bool = True) -> str:
    """ "✗ blocks reads+writes on public.projects ~3.1 s"; "" when it blocks nothing."""
    what, held, where = worst(impact)
    if what is Blocks.NOTHING:
        return ""
    on = f" on {', '.join(where)}" if relations and where else ""
    return f"{GLYPH[what]} blocks {SHORT[what]}{on} {seconds(held)}"


def lock_phrase(lock: LockHeld) -> str:
    """ "✗ ACCESS EXCLUSIVE on public.repo: blocks reads and writes ~3.1 s"."""
    if lock.blocks is Blocks.NOTHING:
        return f"{lock.mode} on {lock.relation}: blocks nothing"
    return f"{GLYPH[lock.blocks]} {lock.mode} on {lock.relation}: blocks {lock.blocks} {seconds(lock.held_s)}"


def table_phrase(table: TableTouched) -> str:
    if table.created_by_plan:
        return f"{table.relation}: created by this plan (empty)"
    return f"{table.relation}: {table.rows:,} rows, {human_size(table.bytes)}"


def lint_phrase(finding: LintFinding) -> str:
    return f"{finding.rule} ({finding.severity}): {finding.message}"


def blocked_phrases(impact: PlanImpact, keys: Iterable[str] | None = None) -> list[str]:
    """Per relation blocked NOTICEABLE_S or longer, longest first: "writes to public.projects blocked
    ~3.1 s"; the relations blocked more briefly are counted, not named."""
    rows = sorted(impact.blocked(keys).items(), key=lambda kv: (-kv[1][1], kv[0]))
    out = [f"{what} to {relation} blocked {seconds(held)}" for relation, (what, held) in rows if held >= NOTICEABLE_S]
    brief = len(rows) - len(out)
    if brief:
        out.append(f"{brief} more relation(s) locked briefly (each under {NOTICEABLE_S:g}\u00a0s)")
    return out


def total_phrase(impact: PlanImpact, keys: Iterable[str] | None = None, *, then: str = "") -> str:
    """ "~12 s; writes to public.projects blocked ~3.1 s" for the given steps (all by default);
    `then` follows the duration ("~40 s in all; ...")."""
    keys = list(impact.steps) if keys is None else list(keys)
    return "; ".join([seconds(impact.total_s(keys)) + then] + blocked_phrases(impact, keys))


def basis_note(impact: PlanImpact) -> str:
    return f" ({DEFAULT_NOTE})" if impact.basis is Basis.DEFAULT else ""


def stop_keys(steps) -> dict[str, list[str]]:
    """Step keys by the release each moves towards (a stop or the target), in run order."""
    out: dict[str, list[str]] = {}
    for s in steps:
        out.setdefault(s.stop, []).append(s.key)
    return out


def summary(impact: PlanImpact, steps) -> dict:
    """The plan-level "impact_summary" of `plan --json` (docs/json.md)."""
    def blocked(keys=None) -> list[dict]:
        rows = sorted(impact.blocked(keys).items(), key=lambda kv: (-kv[1][1], kv[0]))
        return [{"relation": r, "blocks": str(b), "seconds": h} for r, (b, h) in rows]

    return {"total_s": impact.total_s(), "basis": str(impact.basis), "blocked": blocked(),
            "stops": [{"towards": towards, "total_s": impact.total_s(keys), "blocked": blocked(keys)}
                      for towards, keys in stop_keys(steps).items()]}
