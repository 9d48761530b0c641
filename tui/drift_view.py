"""Plain-text rendering of drift reports for `pgferry drift` (the JSON form is DatabaseDrift.as_dict)."""
from __future__ import annotations

import json

from pgferry.engine.repair.fixes import Fixer
from pgferry.engine.repair.kinds import DriftProblem
from pgferry.engine.safetext import printable


def _text(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, dict) and "columns" in value:
        n = len(value["columns"])
        return f"a table with {n} column{'s' if n != 1 else ''}"
    if isinstance(value, dict) and set(value) == {"type", "not_null", "default", "comment"}:
        return Fixer.column_def("", value).strip()
    return " ".join((value if isinstance(value, str) else json.dumps(value, sort_keys=True)).split())


def _pair(expected, actual, width: int = 110) -> tuple[str, str]:
    """Both values, cut to `width` around where they start to differ (long definitions)."""
    e, a = _text(expected), _text(actual)
    start = 0
    if len(e) > width and len(a) > width:
        common = next((i for i, (x, y) in enumerate(zip(e, a)) if x != y), min(len(e), len(a)))
        start = max(0, common - 30)

    def cut(t: str) -> str:
        t = ("…" + t[start:]) if start else t
        return t if len(t) <= width else t[: width - 1] + "…"

    return cut(e), cut(a)


def render_differences(differences, ignored, out=print) -> None:
    """Each difference with its expected and actual value and its fix; then what the ignore rules hid."""
    for d in differences:
        out(f"  {d.kind} {d.object}: {d.problem}")
        e, a = _pair(d.expected, d.actual)
        if d.problem in (DriftProblem.DIFFERENT, DriftProblem.MISSING):
            out(f"    expected: {e}")
        if d.problem != DriftProblem.MISSING:
            out(f"    actual:   {a}")
        if d.duplicates and not d.duplicates.checked:
            out(printable(f"    duplicate keys: not checked ({d.duplicates.table} is too large to check quickly)"))
        elif d.duplicates and d.duplicates.found:
            out(printable(f"    duplicate keys: {', '.join(d.duplicates.examples)} in {d.duplicates.table}"))
        out("    fix:")
        for statement in d.fix:
            for line in statement.splitlines():
                out(f"      {line}")
    for d, rule in ignored:
        out(f"  ignored: {d.kind} {d.object} ({d.problem}): {rule.reason} [{rule.source}]")


def render(reports, out=print) -> None:
    for r in reports:
        if not r.schemas:
            why = "nothing recorded" if r.unrecorded else "nothing applied" if r.exempt else "no schema to compare"
            out(f"{r.database}: skipped ({why})")
        else:
            out(f"{r.database}: {', '.join(r.schemas)} at {r.version}")
        for w in r.warnings:
            out(f"  warning: {w}")
        if r.unrecorded:
            out(f"  error: {r.unrecorded.message}")
            out(f"  hint: {r.unrecorded.hint}")
        render_differences(r.differences, r.ignored, out)
    found = sum(len(r.differences) for r in reports)
    ignored = sum(len(r.ignored) for r in reports)
    unrecorded = sum(1 for r in reports if r.unrecorded)
    tail = f"; {ignored} ignored" if ignored else ""
    if unrecorded:
        out(f"drift: {unrecorded} of {len(reports)} database(s) hold the product with no migration recorded")
    if found:
        dbs = sum(1 for r in reports if r.differences)
        out(f"drift: {found} difference{'s' if found != 1 else ''} in {dbs} of {len(reports)} database(s){tail}")
        out("each fix is a suggestion: review it; statements with CONCURRENTLY must run outside a transaction")
    elif not unrecorded:
        out(f"no drift: {len(reports)} database(s) match their release{tail}")
