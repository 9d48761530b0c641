"""Out-of-band runner on a real server: batches, adaptive size, pause/resume, errors, reverse."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest
import yaml

from pgferry.engine.errors import Finding, OutOfBandFailed
from pgferry.engine.events import Collector, OobPaused, OobProgress, OobStarted
from pgferry.engine.run.background import BackgroundOptions, BackgroundRunner, OutOfBandStore
from pgferry.engine.definitions.outofband import load_out_of_band
from tests.support import query

PROGRESS = "SELECT CASE WHEN count(*) = 0 THEN 1 ELSE count(dst)::float8 / count(*) END FROM items\n"
UP = "UPDATE items SET dst = src * 2 WHERE id IN (SELECT id FROM items WHERE dst IS NULL ORDER BY id LIMIT %(batch_size)s)\n"
DOWN = "UPDATE items SET dst = NULL WHERE id IN (SELECT id FROM items WHERE dst IS NOT NULL ORDER BY id LIMIT %(batch_size)s)\n"


def make_oob(tmp_path, *, up=UP, down=DOWN, progress=PROGRESS, batch=100, **meta):
    root = tmp_path / "defs"
    d = root / "out-of-band" / "7_double_items"
    d.mkdir(parents=True)
    (d / "metadata.yaml").write_text(yaml.safe_dump({"description": "double items", "schema": "app",
                                                     "introduced": "1.0.0", "batchSize": batch, **meta}))
    (d / "progress.sql").write_text(progress)
    (d / "up.sql").write_text(up)
    if down is not None:
        (d / "down.sql").write_text(down)
    findings: list[Finding] = []
    oobs = load_out_of_band(root, findings)
    assert not findings, findings
    return oobs[7]


def fill(dsn, n):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id bigserial PRIMARY KEY, src int NOT NULL, dst int)")
        conn.execute("INSERT INTO items (src) SELECT g FROM generate_series(1, %s) g", [n])


def test_runs_in_batches_to_completion_with_throughput_and_eta(database, tmp_path):
    fill(database, 20_000)
    oob = make_oob(tmp_path)
    events = Collector()
    assert BackgroundRunner(database, oob, BackgroundOptions(target_batch_seconds=0.02), on_event=events).run() == "complete"
    assert query(database, "SELECT count(*) FROM items WHERE dst IS DISTINCT FROM src * 2") == [(0,)]
    progress = events.of(OobProgress)
    assert len(progress) > 3, "work is split into several short transactions"
    sizes = {p.batch_size for p in progress}
    assert len(sizes) > 1, "the batch size adapts to the target duration"
    assert all(p.rows_per_second >= 0 for p in progress) and progress[-1].rows_done == 20_000
    assert any(p.eta_seconds is not None for p in progress)
    rec = query(database, "SELECT progress, rows_done, finished_at IS NOT NULL FROM out_of_band_migrations WHERE id = 7")
    assert rec == [(1.0, 20_000, True)]


def test_reverse_runs_back_to_zero(database, tmp_path):
    fill(database, 3_000)
    oob = make_oob(tmp_path)
    BackgroundRunner(database, oob).run()
    events = Collector()
    assert BackgroundRunner(database, oob, on_event=events).run(reverse=True) == "complete"
    assert query(database, "SELECT count(dst) FROM items") == [(0,)]
    assert events.of(OobStarted)[0].reverse
    assert query(database, "SELECT progress, apply_reverse FROM out_of_band_migrations WHERE id = 7") == [(0.0, True)]


def test_pause_stops_at_a_batch_boundary_and_resume_continues(database, tmp_path):
    fill(database, 200_000)
    oob = make_oob(tmp_path, batch=500)
    events = Collector()
    result = {}
    opts = BackgroundOptions(target_batch_seconds=0.01)
    t = threading.Thread(target=lambda: result.setdefault("r", BackgroundRunner(database, oob, opts, on_event=events).run()))
    t.start()
    deadline = time.monotonic() + 30
    while not events.of(OobProgress) and time.monotonic() < deadline:
        time.sleep(0.01)
    with psycopg.connect(database, autocommit=True) as conn:  # from anywhere: the flag is in the database
        OutOfBandStore(conn).set_paused(7, True)
    t.join(30)
    assert result["r"] == "paused" and events.of(OobPaused)
    done = query(database, "SELECT count(dst) FROM items")[0][0]
    assert 0 < done < 200_000
    # paused: another run stops at once and changes nothing
    assert BackgroundRunner(database, oob, opts).run() == "paused"
    assert query(database, "SELECT count(dst) FROM items")[0][0] == done
    with psycopg.connect(database, autocommit=True) as conn:
        OutOfBandStore(conn).set_paused(7, False)
    again = Collector()
    assert BackgroundRunner(database, oob, on_event=again).run() == "complete"
    assert again.of(OobStarted)[0].progress == pytest.approx(done / 200_000, abs=0.01)
    assert query(database, "SELECT count(*) FROM items WHERE dst IS NULL") == [(0,)]


def test_batch_errors_are_recorded_then_give_up(database, tmp_path):
    fill(database, 1_000)
    # row 500 makes every batch that reaches it fail; smaller batches get the rows before it done
    bad = ("UPDATE items SET dst = src * 2 / (CASE WHEN id = 500 THEN 0 ELSE 1 END) WHERE id IN "
           "(SELECT id FROM items WHERE dst IS NULL ORDER BY id LIMIT %(batch_size)s)\n")
    oob = make_oob(tmp_path, up=bad, batch=300)
    with pytest.raises(OutOfBandFailed, match="division by zero"):
        BackgroundRunner(database, oob, BackgroundOptions(max_consecutive_errors=3)).run()
    errors = query(database, "SELECT message, sqlstate, batch_size FROM out_of_band_migrations_errors ORDER BY id")
    assert len(errors) >= 3 and all(e[1] == "22012" for e in errors)
    assert errors[-1][2] < 300, "the batch is halved after a failure"
    # batches that succeeded before the bad row are kept, and are right; nothing else changed
    done = query(database, "SELECT count(dst), max(id) FILTER (WHERE dst IS NOT NULL) FROM items")[0]
    assert 0 < done[0] < 500 and done[1] == done[0]
    assert query(database, "SELECT count(*) FROM items WHERE dst IS NOT NULL AND dst <> src * 2") == [(0,)]


def test_stall_is_an_error_not_a_hang(database, tmp_path):
    fill(database, 100)
    oob = make_oob(tmp_path, up="UPDATE items SET src = src WHERE false AND id < %(batch_size)s\n")
    with pytest.raises(OutOfBandFailed, match="makes no progress"):
        BackgroundRunner(database, oob).run()


def test_out_of_band_definitions_are_validated(tmp_path):
    root = tmp_path / "defs"
    d = root / "out-of-band" / "3_bad"
    d.mkdir(parents=True)
    (d / "metadata.yaml").write_text("description: x\nschema: app\nintroduced: 1.0.0\nbogus: 1\n")
    (d / "progress.sql").write_text("SELECT 1; SELECT 2;\n")
    (d / "up.sql").write_text("UPDATE t SET a = 1 WHERE b LIKE 'x%'\n")
    findings: list[Finding] = []
    assert load_out_of_band(root, findings) == {}
    rules = {f.rule for f in findings}
    assert {"metadata-key", "oob-progress", "oob-placeholder", "missing-file"} <= rules
    assert all(f.path.startswith("defs/out-of-band/3_bad/") for f in findings)
