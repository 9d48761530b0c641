"""What commands print or write: JSON on stdout, owner-only files, steps, out-of-band rows, lock holders."""
from __future__ import annotations

import json
import sys

from typing import TYPE_CHECKING

from pgferry.engine.userdirs import write_private

if TYPE_CHECKING:
    from pgferry.engine.definitions.graph import Step


def emit_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")  # ensure_ascii: controls, C1 too, as \uXXXX


def print_steps(title: str, steps: list[Step]) -> None:
    print(title)
    if not steps:
        print("  nothing to do")
    for s in steps:
        m = s.migration
        badges = [b for b, on in (("privileged", m.privileged), ("concurrent index", m.create_index_concurrently),
                                   ("non-idempotent", m.non_idempotent)) if on]
        back = f" (records {', '.join(map(str, s.backfill))} as applied)" if s.backfill and s.up else ""
        tag = f" [{', '.join(badges)}]" if badges else ""
        print(f"  {'up  ' if s.up else 'down'} {m.schema} {m.id} {m.name}{tag}{back}")

def oob_line(r) -> str:
    """One engine.run.oobstate.OobRow on one line."""
    from pgferry.engine.safetext import printable

    prog = "not reached" if not r.reached else f"{r.progress:.1%}"
    flags = " ⏸ paused" if r.paused else ""
    why = "" if r.reason == "measured by progress.sql" or not r.reached else f" ({r.reason})"
    errs = f", {r.errors} error(s): {r.last_error}" if r.errors else ""
    return printable(f"{r.id:>4}  {prog:>11}{flags}  {r.description} [{r.schema}, "
                     f"{r.introduced} → {r.deprecated or '∞'}]{why}{errs}", one_line=True)


def print_checks(checks) -> dict[str, int]:
    """Preflight-style checks (engine.upgrade.preflight.Check), one a line with details and fix; the counts by status."""
    glyph = {"pass": "✓", "warn": "!", "fail": "✗"}
    for c in checks:
        print(f"{glyph[c.status]} {c.status:<4} {c.name}: {c.reason}")
        for line in c.details:
            print(f"      {line}")
        if c.fix:
            print("      fix: " + c.fix.replace("\n", "\n           "))
    return {s: sum(c.status == s for c in checks) for s in glyph}


def print_idle_lock_holders(holders, file=None) -> None:
    from pgferry.engine.safetext import printable
    from pgferry.engine.bookkeeping.status import IDLE_HOLDER_HINT

    for h in holders:
        print(f"! {printable(h.describe(), one_line=True)}\n  {IDLE_HOLDER_HINT}", file=file or sys.stdout)

def output(args, text: str, wrote: str = "") -> None:
    """To --out FILE (owner-only) with a note on stderr, or to stdout."""
    if getattr(args, "out", None):
        write_private(args.out, text)
        print(f"wrote {args.out}{wrote}", file=sys.stderr)
    else:
        sys.stdout.write(text)
