"""A run's events in words: one plain line per event worth telling a person. Shared by the plain
renderer (render.py), the live display (live.py), the journal and the recovery screen."""
from __future__ import annotations

from pgferry.engine import events as ev
from pgferry.tui.terminal import run_finished_line, run_started_line


def _first_line(text: str, width: int = 70) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def describe(e) -> str | None:
    """One plain line per event worth telling a person; None for chatty ones."""
    if isinstance(e, ev.RunStarted):
        return run_started_line(e.schema, e.steps, e.database)
    if isinstance(e, ev.WaitingForLock):
        who = e.holder.describe() if e.holder else "another session"
        return f"{e.schema}: waiting {e.waited_seconds:.0f}s for the migration lock held by {who}"
    if isinstance(e, ev.MigrationStarted):
        arrow = "applying" if e.up else "reverting"
        extra = " (concurrent index)" if e.concurrent_index else ""
        again = f", attempt {e.attempt}" if e.attempt > 1 else ""
        return f"[{e.index}/{e.total}] {e.schema}: {arrow} {e.migration_id} {e.name}{extra}{again}"
    if isinstance(e, ev.MigrationFinished):
        note = f" ({e.note})" if e.note else ""
        back = f", recorded {len(e.backfilled)} squashed id(s)" if e.backfilled and e.up else ""
        return f"  ✓ {e.schema} {e.migration_id} in {e.seconds:.2f}s{back}{note}"
    if isinstance(e, ev.MigrationFailedEvent):
        return f"  ✗ {e.schema} {e.migration_id} failed: {e.message}"
    if isinstance(e, ev.LockWait):
        who = "; ".join(b.describe() for b in e.blockers)
        return f"  ! {e.schema} {e.migration_id} line {e.line} waiting {e.waited_seconds:.1f}s for a lock held by {who}"
    if isinstance(e, ev.LockRetry):
        who = f" (blocked by {'; '.join(b.describe() for b in e.blockers)})" if e.blockers else ""
        return f"  ! lock timeout{who}; rolled back, retry {e.attempt + 1}/{e.attempts} in {e.delay_seconds:.1f}s"
    if isinstance(e, ev.IndexRepaired):
        return f"  ! dropping invalid index {e.index} left by an interrupted build: {e.sql}"
    if isinstance(e, ev.IndexRebuilt):
        return f"  ✓ rebuilt {e.index} on {e.table} (collation version change) in {e.seconds:.1f}s"
    if isinstance(e, ev.CollationRefreshSkipped):
        return f"  ! {e.statement}: needs the owner; the rebuild is recorded, so preflight passes"
    if isinstance(e, ev.WaitingForBuild):
        return f"  … {e.schema} {e.migration_id}: pid {e.builder_pid} is building {e.index}; waiting"
    if isinstance(e, ev.StaleAttempt):
        who = f"backend {e.backend_pid}" if e.backend_pid else "a backend"
        return f"  ! {e.schema} {e.migration_id}: stale attempt of {who} (gone): {e.resolution}"
    if isinstance(e, ev.Retrying):
        return f"  ! {e.schema} {e.migration_id} failed last time ({_first_line(e.previous_error)}); retrying"
    if isinstance(e, ev.BackupTaken):
        return f"backed up {e.database} to {e.path} ({e.bytes:,} bytes in {e.seconds:.1f}s)"
    if isinstance(e, ev.RunFinished):
        return run_finished_line(e.schema, e.applied, e.reverted, e.seconds)
    if isinstance(e, ev.UpgradeStarted):
        stops = f", stops at {', '.join(e.stops)}" if e.stops else ""
        resumed = f" (continues run {e.resumed_from})" if e.resumed_from else ""
        return f"run {e.run_id}: {e.direction} {e.from_label} → {e.to_version}, {e.steps} step(s){stops}{resumed}"
    if isinstance(e, ev.Replanned):
        return (f"another migrator moved the database since the plan was confirmed ({e.confirmed_from} → "
                f"{e.now_from}): planned again from there, {e.steps} step(s) to {e.to_version}")
    if isinstance(e, ev.StaleRunSettled):
        then = f"; a move to {e.to_version} continues it" if e.status == "interrupted" else ""
        return f"note: run {e.run_id} to {e.to_version} settled as {e.status}: {e.note}{then}"
    if isinstance(e, ev.StopReached):
        return f"stop at {e.release}: finishing out-of-band {', '.join(map(str, e.out_of_band))} ({e.reason})"
    if isinstance(e, ev.UpgradeFinished):
        return f"run {e.run_id}: {e.status} in {e.seconds:.1f}s, now at {e.to_version}" if e.status == "succeeded" \
            else f"run {e.run_id}: {e.status} after {e.seconds:.1f}s"
    if isinstance(e, ev.OobStarted):
        way = "undoing" if e.reverse else "running"
        return f"out-of-band {e.migration_id}: {way} '{e.description}' from {e.progress:.1%} (batch {e.batch_size})"
    if isinstance(e, ev.OobFinished):
        return f"  ✓ out-of-band {e.migration_id} at {e.progress:.0%} in {e.seconds:.1f}s ({e.rows_done} rows)"
    if isinstance(e, ev.OobPaused):
        return f"  ⏸ out-of-band {e.migration_id} paused at {e.progress:.1%}"
    if isinstance(e, ev.OobBatchFailed):
        return f"  ! out-of-band {e.migration_id} batch failed ({e.consecutive} in a row): {e.message}"
    return None


def index_line(e) -> str:
    frac = e.fraction
    return f"  … {e.index}: {e.phase}" + (f" {frac:.0%}" if frac is not None else "")


def oob_line(e) -> str:
    eta = f", ETA {e.eta_seconds:.0f}s" if e.eta_seconds is not None else ""
    return (f"  … out-of-band {e.migration_id}: {e.progress:.1%}, {e.rows_per_second:,.0f} rows/s, "
            f"batch {e.batch_size}{eta}")
