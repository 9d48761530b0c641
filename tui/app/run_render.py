"""Rich renderables of the run screen, drawn from a WatchedRun: the title and state lines, the failure
panel, what runs now, lock waits, out-of-band progress bars, and log lines. Lines that quote a
query are one line each, cut to the width. Text from the server or the journal arrives neutralised
(safe.neutralised, by the screen's message); text is never parsed as markup.
"""
from __future__ import annotations

from rich.text import Text

from pgferry.engine.safetext import printable
from pgferry.engine.upgrade.live import LiveRun

from .run_model import ENDED, LogEntry, RunEnded, StopAsked, WatchedRun, in_flight

# A glyph for each status, so the state is never told by colour alone.
GLYPH = {"running": "●", "succeeded": "✓", "failed": "✗", "paused": "⏸", "aborted": "■",
         "interrupted": "!", "resumed": "→"}
NOT_STARTED = "✗ not started: nothing was changed by this run"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0, int(seconds))
    m, s = divmod(seconds, 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def short(text: str, width: int = 120) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def bar(fraction: float, width: int = 20) -> Text:
    """A text bar: its length carries the meaning, colour only helps."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    out = Text("█" * filled, style="bold")
    out.append("░" * (width - filled), style="dim")
    return out


def title(watched: WatchedRun) -> Text:
    run = watched.run
    return Text(f"pgferry · {'watch · ' if watched.read_only else ''}run {run.id} · {run.direction} "
                f"{run.from_version or 'none'} → {run.to_version} · {run.operator or '?'}@{run.host or '?'}")


def state(watched: WatchedRun) -> Text:
    """`● running (pause asked …) · step 64/190 (34%) · elapsed 1m35s · ETA ~3m00s`."""
    run, status = watched.run, watched.status
    out = Text(f"{GLYPH.get(status, '?')} {status}")
    asked = watched.asked or run.control
    if asked and status == "running":
        out.append(f" ({asked} asked by {run.control_by or 'you'}: stops after the current step)")
    pct = f" ({run.position / run.total:.0%})" if run.total else ""
    out.append(f" · step {run.position}/{run.total}{pct} · elapsed {duration(watched.elapsed)}")
    if watched.eta is not None:
        out.append(f" · ETA ~{duration(watched.eta)}")
    return out


def failure(watched: WatchedRun) -> Text | None:
    """The run's error, once it has failed, been interrupted or aborted with one; else None."""
    run, status = watched.run, watched.status
    if status in ("failed", "interrupted", "aborted") and run.error:
        return Text(f"{GLYPH[status]} {status}: {run.error}")
    return None


def launch_failure(error: str) -> Text:
    return Text("✗ the upgrade did not start\n" + error)


def now(live: LiveRun) -> Text:
    """The step in flight, then the run's statements, index builds and idle sessions holding locks."""
    lines = Text(no_wrap=True, overflow="ellipsis")  # one line each: the width decides how much of a query
    step = in_flight(live.run)
    if step:
        lines.append(f"now: {step}", style="bold")
    for st in live.statements:
        lines.append(f"\n  {st.role} pid {st.pid} on {st.database}, {duration(st.seconds)}: ")
        lines.append(short(st.query, 200))
        if st.wait:
            lines.append(f"  (waiting: {st.wait})")
    for b in live.builds:
        frac = b.fraction  # the numbers first: the index name is long and the line is cut to the width
        lines.append(f"\n  ⧗ {frac:.0%} " if frac is not None else "\n  ⧗ ")
        lines.append(b.phase or "starting")
        if b.blocks_total:
            lines.append(f", blocks {b.blocks_done:,}/{b.blocks_total:,}")
        if b.tuples_total:
            lines.append(f", tuples {b.tuples_done:,}/{b.tuples_total:,}")
        lines.append(f" · index {b.index} on {b.table}")
    for h in live.idle_holders:  # a stopped migrator: nothing runs, yet its locks are held
        lines.append(f"\n  ! {printable(h.describe(), one_line=True)}", style="bold yellow")
    return lines


def waits(live: LiveRun) -> Text | None:
    """Who blocks the run's sessions, and what ending that session does; None when nobody waits."""
    if not live.waits:
        return None
    text = Text(no_wrap=True, overflow="ellipsis")
    for w in live.waits:
        text.append(f"! lock wait on {w.database}: pid {w.waiter_pid} {short(w.waiter_query, 200)}\n")
        for b in w.blockers:
            app = b.application or "no application name"
            text.append(f"  held by pid {b.pid} ({app}), {b.state or '?'} for {duration(b.age_seconds)}: "
                        f"{short(b.query, 200)}\n")
    text.append("  pgferry retries after its lock timeout; ending that session lets it through")
    return text


def out_of_band(watched: WatchedRun) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for n, o in enumerate(watched.live.out_of_band):
        eta = watched.oob_eta.get(o.id)
        progress = "✓ done" if o.finished else "⏸ paused" if o.paused else \
            f"{o.rows_per_second or 0:,.0f} rows/s" + (f", ETA ~{duration(eta)}" if eta else "")
        errors = f", {o.errors} failed batch(es)" if o.errors else ""
        if n:
            text.append("\n")
        text.append(f"{'⟲' if o.reverse else '⟳'} {o.id} ")
        text.append_text(bar(o.progress))
        text.append(f" {o.progress:6.1%}  {progress}{errors}  {o.description}")
    return text


def log_entry(entry: LogEntry) -> Text:
    if isinstance(entry, RunEnded):
        return Text(f"run {entry.run_id} {entry.status}" + (": press Enter for the report" if entry.status in ENDED else ""))
    if isinstance(entry, StopAsked):
        return Text(f"{entry.control} asked: the run stops after its current step")
    if isinstance(entry, str):
        return Text(entry)
    mark = "✓" if entry.success else "✗"
    return Text(f"  {mark} {entry.schema} {entry.version} in {duration(entry.seconds)}")
