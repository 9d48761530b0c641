"""The run screen's model without Textual: WatchedRun fed the snapshots (engine.upgrade.live) and
journal lines a watch reads, and what it makes of them: the log entries, the stop asked for,
the ETAs and why each key is dimmed. The screen on a real run is tests/tui/test_tui_run.py."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from pgferry.engine.bookkeeping.runs import UpgradeRun
from pgferry.engine.upgrade.live import Finished, LiveRun, OobNow
from pgferry.tui.app import run_render as draw
from pgferry.tui.app.run_model import RunEnded, StopAsked, WatchedRun, in_flight

T0 = datetime(2026, 11, 22, 2, 0, 0, tzinfo=timezone.utc)
STEPS = [{"kind": "schema", "schema": "main", "id": n, "name": f"step {n}"} for n in range(1, 9)]


def run_row(**changes) -> UpgradeRun:
    """Run 7, 2 of 8 steps done, its process alive."""
    row = UpgradeRun(id=7, started_at=T0, finished_at=None, heartbeat=T0, operator="admin", host="db-admin-1",
                     os_pid=4242, backend_pid=311, direction="upgrade", from_version="1.0.0", to_version="1.2.0",
                     plan={"steps": STEPS}, status="running", position=2, total=8, current_step="main 2",
                     error=None, resumed_from=None, alive=True)
    return dataclasses.replace(row, **changes)


def snapshot(seconds: float = 60, recent=(), out_of_band=(), **changes) -> LiveRun:
    return LiveRun(run_row(**changes), recent=tuple(recent), out_of_band=tuple(out_of_band),
                   read_at=T0 + timedelta(seconds=seconds))


def finished(version: int, second: int, success: bool = True) -> Finished:
    return Finished("main", version, True, 0.5, T0 + timedelta(seconds=second), success, False)


def test_a_running_run_shows_its_pace_and_keeps_the_journal_lines():
    watched = WatchedRun()
    log = watched.update(snapshot(60), ["run 7: upgrade 1.0.0 → 1.2.0, 8 step(s)"])
    assert log == ["run 7: upgrade 1.0.0 → 1.2.0, 8 step(s)"]
    assert watched.status == "running" and watched.elapsed == 60
    assert watched.eta == 180, "6 steps left at 30 s a step"
    assert in_flight(watched.run) == "main 3 step 3", "the step after the 2 finished"
    assert watched.disabled_reason("pause") is None and watched.disabled_reason("abort") is None
    assert watched.disabled_reason("resume") == "the run is still running"
    assert watched.disabled_reason("report") == "the run has not ended"
    assert draw.state(watched).plain == "● running · step 2/8 (25%) · elapsed 1m00s · ETA ~3m00s"


def test_the_end_of_the_run_is_logged_once_and_clears_the_stop_asked_for():
    watched = WatchedRun()
    watched.update(snapshot(60), [])
    assert watched.stop_asked("pause") == StopAsked("pause")
    assert watched.disabled_reason("pause") == "pause asked: stops after this step"
    assert watched.update(snapshot(61, control="pause"), []) == []
    ended = snapshot(62, status="paused", position=3, finished_at=T0 + timedelta(seconds=62))
    assert watched.update(ended, ["[3/8] main: paused"]) == ["[3/8] main: paused", RunEnded(7, "paused")]
    assert watched.asked is None and watched.eta is None and watched.elapsed == 62
    assert watched.update(ended, []) == [], "logged on the change only"
    assert watched.disabled_reason("pause") == "the run has ended (paused)"
    assert watched.disabled_reason("resume") is None and watched.disabled_reason("report") is None
    assert draw.log_entry(RunEnded(7, "paused")).plain == "run 7 paused: press Enter for the report"


def test_a_run_whose_process_is_gone_is_interrupted_with_its_error():
    watched = WatchedRun()
    watched.update(snapshot(60), [])
    log = watched.update(snapshot(70, alive=False, error="server closed the connection"), [])
    assert log == [RunEnded(7, "interrupted")]
    assert watched.disabled_reason("resume") is None
    assert draw.failure(watched).plain == "! interrupted: server closed the connection"


def test_failed_runs_cannot_be_resumed_and_a_read_only_watch_asks_nothing():
    failed = snapshot(60, status="failed", error="boom")
    watched = WatchedRun()
    watched.update(failed, [])
    assert watched.disabled_reason("resume") == "the run failed: recover the database first (x on the overview)"
    watching = WatchedRun(read_only=True)
    watching.update(snapshot(60), [])
    for action in ("pause", "abort", "resume"):
        assert watching.disabled_reason(action) == "read-only view (pgferry watch)"
    assert watching.disabled_reason("report") == "the run has not ended"
    assert draw.title(watching).plain == "pgferry · watch · run 7 · upgrade 1.0.0 → 1.2.0 · admin@db-admin-1"


def test_without_a_journal_the_log_is_what_each_snapshot_adds_to_migration_logs():
    watched = WatchedRun()
    assert watched.update(snapshot(60, recent=[finished(2, 50), finished(1, 40)]), [], journaled=False) == [], \
        "the first snapshot is the starting point: what finished before is not news"
    newer = [finished(4, 58, success=False), finished(3, 55), finished(2, 50), finished(1, 40)]
    log = watched.update(snapshot(61, recent=newer), [], journaled=False)
    assert log == [newer[1], newer[0]], "oldest first"
    assert [draw.log_entry(e).plain for e in log] == ["  ✓ main 3 in 0s", "  ✗ main 4 in 0s"]
    assert watched.update(snapshot(62, recent=newer + [finished(5, 61)]), [], journaled=True) == [], \
        "a journal tells it instead"


def test_out_of_band_eta_is_the_rate_over_the_recent_snapshots():
    def oob(progress: float, done: bool = False) -> OobNow:
        return OobNow(1001, "backfill", progress, False, False, 100.0, done, 0, None)

    watched = WatchedRun()
    watched.update(snapshot(60, out_of_band=[oob(0.2)]), [], now=100.0)
    assert watched.oob_eta == {1001: None}, "one sample: no rate yet"
    watched.update(snapshot(70, out_of_band=[oob(0.3)]), [], now=110.0)
    assert watched.oob_eta[1001] == pytest.approx(70.0), "0.7 left at 0.01 a second"
    watched.update(snapshot(80, out_of_band=[oob(1.0, done=True)]), [], now=120.0)
    assert watched.oob_eta == {}
    assert "✓ done" in draw.out_of_band(watched).plain


def test_a_launch_that_fails_before_its_run_begins():
    watched = WatchedRun()
    assert watched.disabled_reason("report") == "not started yet"
    assert watched.update(None, [], launch_error="error: unknown release 9.9.9") == []
    assert watched.status is None and watched.launch_error == "error: unknown release 9.9.9"
    for action in ("pause", "resume", "report"):
        assert watched.disabled_reason(action) == "the upgrade did not start"
    assert watched.update(None, []) == [] and watched.launch_error, "kept once said"
