"""State and banner text shared by the command line and the UI: a glyph and a word each (no Textual)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `status` prints schema states without reading runs
    from pgferry.engine.bookkeeping.runs import UpgradeRun
    from pgferry.engine.bookkeeping.status import DatabaseStatus, SchemaStatus


def _ids(ids) -> str:
    return ", ".join(map(str, sorted(ids)))


def schema_state(s: SchemaStatus) -> str:
    st = s.state
    flags = []
    if st.failed:
        flags.append(f"✗ failed: {_ids(st.failed)}")
    if st.stale:
        flags.append(f"! stale: {_ids(st.stale)}")
    if st.in_progress:
        flags.append(f"… running: {_ids(st.in_progress)}")
    if s.unknown:
        flags.append(f"? unknown: {_ids(s.unknown)}")
    if any(c.blocks for c in s.changed):
        flags.append(f"✗ changed since applied: {_ids(c.id for c in s.changed if c.blocks)}")
    if not flags:
        flags.append("· pending" if s.pending else "✓ up to date")
    return "; ".join(flags)


def run_line(run: UpgradeRun | None, recovered: bool = False) -> str | None:
    """A line about the latest upgrade run when it needs attention, else None. `recovered`: the
    database needs no recovery now, so a failed run's error is old news; what is left is to go on."""
    if run is None:
        return None
    status = run.effective_status
    move = f"{run.from_version or 'none'} → {run.to_version}"
    at = f"step {run.position}/{run.total}"
    if status == "running":
        return f"… upgrade run {run.id} in progress: {move}, {at} (by {run.operator or '?'} on {run.host or '?'})"
    if status == "interrupted" or (status == "failed" and recovered):
        word = "interrupted" if status == "interrupted" else "stopped"
        return f"! upgrade run {run.id} {word} at {at}: {move}; upgrade to {run.to_version} again to continue"
    if status == "failed":
        return f"✗ upgrade run {run.id} failed at {at}: {move}: {run.error or 'no message'}"
    if status == "paused":
        return f"⏸ upgrade run {run.id} paused at {at}: {move}"
    return None


def changed_lines(status: DatabaseStatus, cosmetic: bool = True) -> list[str]:
    """A line for each applied migration whose up.sql changed since it ran (engine/bookkeeping/changed.py);
    `cosmetic`: also those changed in layout only, which stop nothing."""
    from pgferry.engine.bookkeeping.changed import reference

    every = status.changed
    return [f"✗ {c.describe()}. Upgrades refuse until the file is restored or its text accepted: "
            f"--accept-changed {reference(c, every)} --reason TEXT" if c.blocks else f"· {c.describe()}"
            for c in every if c.blocks or cosmetic]


def banner_lines(status: DatabaseStatus, run: UpgradeRun | None) -> list[str]:
    lines = []
    if status.needs_recovery:
        parts = []
        for s in status.schemas:
            if s.state.failed:
                parts.append(f"{s.name} {_ids(s.state.failed)} failed")
            stale = set(s.state.stale) - set(s.settling)
            if stale:
                parts.append(f"{s.name} {_ids(stale)} stale")
        lines.append(f"✗ dirty database: {'; '.join(parts)}. Run `pgferry recover` to diagnose.")
    for s in status.schemas:
        if s.settling:  # not dirty in any way that needs a person: the runner settles it (docs/design.md §7.2)
            lines.append(f"! {s.name} {_ids(s.settling)}: an index build was cut off; the next upgrade checks the "
                         "index and records, finishes or rebuilds it by itself")
    lines += changed_lines(status, cosmetic=False)
    line = run_line(run, recovered=not status.needs_recovery)
    if line:
        lines.append(line)
    return lines
