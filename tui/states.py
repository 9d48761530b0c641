"""State and banner text shared by the command line and the UI: a glyph and a word each (no Textual)."""
from __future__ import annotations

from engine.runs import UpgradeRun
from engine.status import DatabaseStatus, SchemaStatus


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
    if not flags:
        flags.append("· pending" if s.pending else "✓ up to date")
    return "; ".join(flags)


def run_line(run: UpgradeRun | None) -> str | None:
    """A line about the latest upgrade run when it needs attention, else None."""
    if run is None:
        return None
    status = run.effective_status
    move = f"{run.from_version or 'none'} → {run.to_version}"
    at = f"step {run.position}/{run.total}"
    if status == "running":
        return f"… upgrade run {run.id} in progress: {move}, {at} (by {run.operator or '?'} on {run.host or '?'})"
    if status == "interrupted":
        return f"! upgrade run {run.id} interrupted at {at}: {move}; upgrade to {run.to_version} again to continue"
    if status == "failed":
        return f"✗ upgrade run {run.id} failed at {at}: {move}: {run.error or 'no message'}"
    if status == "paused":
        return f"⏸ upgrade run {run.id} paused at {at}: {move}"
    return None


def banner_lines(status: DatabaseStatus, run: UpgradeRun | None) -> list[str]:
    lines = []
    if status.dirty:
        parts = []
        for s in status.schemas:
            if s.state.failed:
                parts.append(f"{s.name} {_ids(s.state.failed)} failed")
            if s.state.stale:
                parts.append(f"{s.name} {_ids(s.state.stale)} stale")
        lines.append(f"✗ dirty database: {'; '.join(parts)}. Run `pgferry recover` to diagnose.")
    line = run_line(run)
    if line:
        lines.append(line)
    return lines
