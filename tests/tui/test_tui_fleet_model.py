"""The fleet screen's model without Textual: state rows as the coordinator returns them, drawn as
rings in the inventory's order with counts, failures first, filtered; and why each key is dimmed."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pgferry.engine.fleet.state import FleetRun, InstanceState
from pgferry.tui.app import fleet_render as draw
from pgferry.tui.app.fleet_model import FleetSnapshot, FleetView, InstanceLine, RingLine

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc)
RINGS = ("canary", "early", "general")


def state(name: str, ring: str, status: str, **kw) -> InstanceState:
    values = dict(run_id=1, name=name, ring=ring, ring_index=RINGS.index(ring), status=status, reason=None,
                  claimed_by=None, claim_pid=None, claim_backend_start=None, claimed_at=None, started_at=None,
                  finished_at=None, from_version=None, reached_version=None, upgrade_run_id=None, control=None,
                  control_by=None, verified_at=None, attempts=0, alive=False)
    values.update(kw)
    return InstanceState(**values)


def run(status: str = "open", reason: str | None = None) -> FleetRun:
    return FleetRun(1, "acme", "1.2.0", status, reason, T0, None, "ops@box:1", None)


def fleet_view(states, run_status: str = "open", progress=None, **labels) -> FleetView:
    view = FleetView(RINGS, labels)
    view.snapshot = FleetSnapshot(run(run_status), tuple(states), progress or {}, T0)
    return view


STATES = [
    state("c1", "canary", "succeeded", from_version="1.0.0", reached_version="1.2.0", upgrade_run_id=2,
          started_at=T0, finished_at=T0 + timedelta(seconds=75)),
    state("e1", "early", "succeeded", upgrade_run_id=2),
    state("e2", "early", "running", alive=True, upgrade_run_id=3, from_version="1.0.0"),
    state("e3", "early", "failed", reason="main 15: relation \"events\" already exists", upgrade_run_id=2),
    state("e4", "early", "running", alive=False, upgrade_run_id=4),  # its coordinator died: interrupted
    state("g1", "general", "pending"),
    state("g2", "general", "skipped", reason="frozen"),
]


def test_rings_in_order_with_counts_and_failures_first_within_a_ring():
    lines = fleet_view(STATES).lines()
    assert [line.key for line in lines] == ["ring:canary", "instance:c1", "ring:early", "instance:e3", "instance:e4",
                                            "instance:e2", "instance:e1", "ring:general", "instance:g1", "instance:g2"]
    early = lines[2]
    assert isinstance(early, RingLine) and (early.shown, early.total) == (4, 4)
    assert early.counts == (("failed", 1), ("interrupted", 1), ("running", 1), ("succeeded", 1))
    assert draw.counts(early.counts) == "1 ✗ failed · 1 ! interrupted · 1 ▶ running · 1 ✓ succeeded"


def test_an_instance_line_says_its_status_in_a_glyph_and_a_word_and_its_own_runs_progress():
    view = fleet_view(STATES, progress={"e2": (12, 40)})
    lines = {line.key: line for line in view.lines()}
    status, name, move, progress, note = (c.plain for c in draw.instance_cells(lines["instance:e2"]))
    assert (status, name, move) == ("▶ running", "e2", "1.0.0 → …")
    assert progress.endswith(" 12/40") and "█" in progress
    assert [c.plain for c in draw.instance_cells(lines["instance:c1"])][:4] == ["✓ succeeded", "c1", "1.0.0 → 1.2.0",
                                                                              "1m15s"]
    assert draw.instance_cells(lines["instance:e3"])[4].plain == 'main 15: relation "events" already exists'
    assert draw.instance_cells(lines["instance:e4"])[0].plain == "! interrupted"


def test_the_filter_matches_name_status_ring_and_labels_and_keeps_ring_lines_of_what_it_shows():
    view = fleet_view(STATES, e3={"region": "eu"}, g1={"region": "us"})
    view.filter = "FAIL"
    assert [line.key for line in view.lines()] == ["ring:early", "instance:e3"]
    assert view.lines()[0].shown == 1 and view.lines()[0].total == 4
    view.filter = "region=us"
    assert [line.key for line in view.lines()] == ["ring:general", "instance:g1"]
    view.filter = "general"
    assert [line.key for line in view.lines() if isinstance(line, InstanceLine)] == ["instance:g1", "instance:g2"]
    view.filter = "nothing-like-this"
    assert view.lines() == []
    assert "filter 'nothing-like-this': 0 shown" in draw.run_line(view).plain


def test_each_key_is_dimmed_with_its_reason():
    view = fleet_view(STATES)
    lines = {line.key: line for line in view.lines()}
    reason = view.disabled_reason
    assert reason("open", lines["ring:early"]) == "a ring's line: choose an instance"
    assert reason("open", lines["instance:g1"]) == "g1 has no upgrade run in this fleet run (pending)"
    assert reason("open", lines["instance:e3"]) is None
    assert reason("pause", lines["instance:g1"]) is None
    assert reason("pause", lines["instance:c1"]) == "c1 is succeeded: nothing to pause"
    assert reason("resume", lines["instance:g1"]) == "g1 is pending, not paused"
    # a ring's line (or P/R) is the whole fleet run
    assert reason("pause", lines["ring:canary"]) is None
    assert reason("resume", lines["ring:canary"]) == "the fleet run is open"
    assert reason("resume_fleet", lines["instance:g1"]) == "the fleet run is open"
    paused = fleet_view(STATES, run_status="paused")
    assert paused.disabled_reason("resume_fleet", None) is None
    assert paused.disabled_reason("pause_fleet", None) == "the fleet run is paused"
    assert fleet_view(STATES, run_status="finished").disabled_reason("pause", lines["instance:g1"]) == \
        "fleet run 1 is finished"
    asked = fleet_view([state("e2", "early", "running", alive=True, control="pause", control_by="ops")])
    line = asked.lines()[1]
    assert asked.disabled_reason("pause", line) == "e2: pause already asked, honoured at its next safe point"
    assert asked.disabled_reason("resume", line) is None  # withdraws the pause asked
    assert draw.instance_cells(line)[4].plain == "pause asked by ops"


def test_no_run_yet():
    view = FleetView(RINGS)
    assert draw.run_line(view).plain == "reading the coordinator…"
    view.snapshot = FleetSnapshot(None)
    assert view.lines() == []
    assert draw.run_line(view).plain.startswith("no fleet run recorded yet")
    assert view.disabled_reason("pause_fleet", None) == "no fleet run recorded yet (pgferry fleet upgrade starts one)"
