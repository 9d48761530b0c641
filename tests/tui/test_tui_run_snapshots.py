"""SVG snapshots of the run and report screens: 80×24 and 160×48, dark, high-contrast, NO_COLOR.

The screens are given fixed data (a run in flight with an index build, a lock wait and two
out-of-band migrations; a finished run's report), so the pictures depend on nothing live.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pgferry.engine.sessions import Session
from pgferry.engine.upgrade.live import IndexBuild, LiveRun, LockWaitNow, OobNow, Statement
from pgferry.engine.bookkeeping.runs import UpgradeRun
from pgferry.tui.app import PgferryApp, Source
from pgferry.tui.app.report import ReportScreen
from pgferry.tui.app.run import RunScreen

T0 = datetime(2026, 11, 22, 2, 0, 0, tzinfo=timezone.utc)
SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
THEMES = {"dark": "pgferry-dark", "high-contrast": "pgferry-high-contrast", "no-color": None}


# 64 steps done; the 65th, in flight, is the index build the session below runs.
PLAN_STEPS = [{"kind": "out_of_band", "id": 1001}, {"kind": "out_of_band", "id": 1002}] + \
    [{"kind": "schema", "schema": "frontend", "id": 1618500000 + n, "name": "step"} for n in range(62)] + \
    [{"kind": "schema", "schema": "codeintel", "id": 1618500031, "name": "lsif uploads repository commit index",
      "direction": "up"}]


def live_run() -> LiveRun:
    run = UpgradeRun(
        id=7, started_at=T0, finished_at=None, heartbeat=T0 + timedelta(seconds=95), operator="admin",
        host="db-admin-1", os_pid=4242, backend_pid=311, direction="upgrade", from_version="3.20.0",
        to_version="4.2.0", plan={"steps": PLAN_STEPS},
        status="running", position=64, total=190, current_step="codeintel 1618500031", error=None,
        resumed_from=None, control=None, control_by=None, alive=True)
    return LiveRun(
        run=run,
        statements=(Statement("pgferry_codeintel", 5120, "migrator",
                              "CREATE INDEX CONCURRENTLY IF NOT EXISTS lsif_uploads_repository_id_commit "
                              "ON lsif_uploads (repository_id, commit)", 41.0, None),),
        builds=(IndexBuild("pgferry_codeintel", 5120, "lsif_uploads_repository_id_commit", "lsif_uploads",
                           "building index: scanning table", 6120, 14800, 0, 0),),
        waits=(LockWaitNow("pgferry_frontend", 5133, "ALTER TABLE repo ADD COLUMN blocked boolean", (
            Session(5001, "psql", "local", "idle in transaction", "UPDATE repo SET name = name WHERE id = 1", 73.0),)),),
        out_of_band=(
            OobNow(1001, "backfill users.display_name", 1.0, False, False, 151000.0, True, 0, None),
            OobNow(1002, "rewrite lsif_uploads.state", 0.425, False, False, 148500.0, False, 1,
                   "canceling statement due to lock timeout"),
        ),
        read_at=T0 + timedelta(seconds=95),
    )


LOG = [
    "run 7: upgrade 3.20.0 → 4.2.0, 190 step(s), stops at 3.23.0, 3.30.1",
    "frontend: 48 step(s) to run on pgferry_app@socket/pgferry_frontend",
    "[47/48] frontend: applying 1618500061 repo blocked column",
    "  ✓ frontend 1618500061 in 0.02s",
    "stop at 3.23.0: finishing out-of-band 1001 (1001 is deprecated in 3.24.0)",
    "  ✓ out-of-band 1001 at 100% in 13.2s (200000 rows)",
    "[12/31] codeintel: applying 1618500031 lsif uploads repository commit index (concurrent index)",
]

REPORT = """# pgferry report: run 7, upgrade 3.20.0 → 4.2.0

- status: **succeeded**
- operator: admin on db-admin-1
- started: 2026-11-22 02:00:00 UTC; finished: 2026-11-22 02:00:36 UTC; took 36.0s
- steps: 125 schema migration(s) applied or reverted, 3 manual, 4 out-of-band

## Warnings

- frontend 1618500044 failed once: canceling statement due to lock timeout (retried or recovered later)

## Manual steps

| schema | id | name | confirmed by |
|---|---|---|---|
| frontend | 1605500017 | create pg_trgm | dba (verified in the catalog) |

## Slowest steps (of 125)

| schema | id | name | direction | took |
|---|---|---|---|---|
| codeintel | 1618500031 | lsif uploads repository commit index | up | 4.1s |
| frontend | 1618500044 | repo name index | up | 2.3s |
"""


def app_for(theme, monkeypatch):
    if theme is None:
        monkeypatch.setenv("NO_COLOR", "1")
    return PgferryApp(Source(), theme=theme, overview=None)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("theme", THEMES)
def test_run_screen_snapshot(size, theme, snap_compare, monkeypatch):
    app = app_for(THEMES[theme], monkeypatch)

    async def show(pilot):
        await app.push_screen(RunScreen(Source(), 7, given=(live_run(), LOG)))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=show)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("theme", THEMES)
def test_report_screen_snapshot(size, theme, snap_compare, monkeypatch):
    app = app_for(THEMES[theme], monkeypatch)

    async def show(pilot):
        await app.push_screen(ReportScreen(Source(), 7, given=REPORT))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=show)
