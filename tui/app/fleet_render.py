"""What the fleet screen draws, from a FleetView: the title, the run's line with its totals, and the
cells of each table line (a ring with its counts; an instance with a glyph and the word of its
status, from → to, its upgrade's progress and the reason it stopped). Status is never told by colour
alone: every status has its glyph and its word. Text from the coordinator arrives neutralised.
"""
from __future__ import annotations

from rich.text import Text

from pgferry.tui.cli.fleet_views import GLYPHS

from .fleet_model import FleetView, InstanceLine, RingLine, status_counts
from .run_render import bar, duration, short

WIDE = 120  # columns from which a ring's counts are spelt out
COLUMNS = ("status", "instance", "from → to", "progress", "note")
# Weight, not colour, marks what needs a look (themes colour the table; NO_COLOR keeps the weight).
STYLES = {"failed": "bold", "interrupted": "bold", "paused": "bold", "skipped": "dim", "pending": "dim"}


def status_word(status: str) -> str:
    return f"{GLYPHS.get(status, '?')} {status}"


def counts(pairs) -> str:
    return " · ".join(f"{n} {status_word(status)}" for status, n in pairs)


def title(view: FleetView, fleet: str) -> Text:
    run = view.run
    if run is None:
        return Text(f"pgferry · fleet {fleet}")
    return Text(f"pgferry · fleet {fleet} · run {run.id} to {run.to_version}")


def run_line(view: FleetView) -> Text:
    """`open · 200 instance(s): 3 ✗ failed · 12 ▶ running · …` and why it halted or paused."""
    snapshot = view.snapshot
    if snapshot is None:
        return Text("reading the coordinator…")
    run = snapshot.run
    if run is None:
        return Text("no fleet run recorded yet: `pgferry fleet upgrade --to VERSION --yes` starts one")
    out = Text(f"{run.status} · {len(snapshot.states)} instance(s): {counts(status_counts(snapshot.states))}")
    if run.reason:
        out.append(f" · {run.reason}", style="bold")
    if view.filter.strip():
        shown = sum(1 for line in view.lines() if isinstance(line, InstanceLine))
        out.append(f" · filter {view.filter.strip()!r}: {shown} shown")
    return out


def ring_cells(line: RingLine, wide: bool = True) -> tuple[Text, ...]:
    """Narrower than WIDE, a ring's counts are glyphs and numbers (`✗1 ▶1 ✓5`): the run's line above
    spells each glyph's word."""
    of = f"{line.shown} of {line.total}" if line.shown != line.total else f"{line.total}"
    by_status = counts(line.counts) if wide else " ".join(f"{GLYPHS.get(s, '?')}{n}" for s, n in line.counts)
    return (Text(f"━ {line.ring}", style="bold"), Text(f"{of} instance(s)", style="bold"), Text(""), Text(""),
            Text(by_status))


def progress(line: InstanceLine) -> Text:
    """The instance's own upgrade: `████░░ 12/40` while it runs, else how long it took."""
    if line.progress is not None:
        position, total = line.progress
        out = bar(position / total if total else 0.0, 6)
        out.append(f" {position}/{total}")
        return out
    seconds = line.state.seconds
    return Text(duration(seconds) if seconds is not None else "")


def instance_cells(line: InstanceLine) -> tuple[Text, ...]:
    s = line.state
    status = line.status
    move = f"{s.from_version or '?'} → {s.reached_version or '…'}" if s.from_version or s.reached_version else ""
    note = s.reason or ""
    if s.control == "pause" and status in ("claimed", "running"):
        note = f"pause asked by {s.control_by or '?'}" + (f"; {note}" if note else "")
    return (Text(status_word(status), style=STYLES.get(status, "")), Text(s.name), Text(move), progress(line),
            Text(short(note, 200)))
