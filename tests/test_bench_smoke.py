"""The benchmarks still run: every scenario at size tiny, one run, in-process (a few seconds)."""
from __future__ import annotations

import json
import math

from bench import noop, oob, plan10k
from bench.__main__ import DEFAULT_WORK, render
from bench.common import machine_facts


def _check(res, expected: set[str]):
    d = json.loads(json.dumps(res.as_dict()))  # what --out writes must be plain JSON
    assert set(d["metrics"]) >= expected
    for key in expected:
        m = d["metrics"][key]
        assert m["runs"] == 1 and len(m["values"]) == 1, key
        assert math.isfinite(m["median"]) and m["median"] > 0, (key, m)
        assert m["min"] <= m["median"] <= m["max"], key
    return d


def test_plan_scenario_tiny():
    res = plan10k.run(size="tiny", runs=1, log=lambda *_: None)
    d = _check(res, {"load", "import", "parse", "checks", "lint", "load_nolint", "plan", "act", "load_index", "act_index"})
    assert d["info"]["migrations"] == 50
    assert "warning" not in d["info"]  # the piece-wise load agrees with load_definitions, and with the index
    assert d["info"]["index_mib"] > 0
    assert d["info"]["plan"]["schema_steps"] > 0 and d["info"]["plan"]["stops"]
    assert d["metrics"]["plan"]["target_met"] is True


def test_oob_scenario_tiny(pg_server, capsys):
    res = oob.run(size="tiny", runs=1, new_database=pg_server.create_database, log=lambda *_: None)
    keys = {"set"} | {f"{v}_{k}" for v in oob.VARIANTS for k in ("rate", "ratio", "p50", "max", "sql", "measure")}
    d = _check(res, keys)
    run = d["info"]["runs"][0]
    for v in oob.VARIANTS:
        assert run[v]["batches"] > 1 and run[v]["measures"] >= 1
    assert d["info"]["server_version"]
    # the report renders from these results without error
    from rich.console import Console

    render(Console(width=160, file=None), machine_facts(d["info"]["server_version"]), [res])
    assert "set-based" in capsys.readouterr().out


def _render(res, capsys) -> str:
    from rich.console import Console

    render(Console(width=200, file=None), machine_facts(), [res])
    return capsys.readouterr().out


def test_apply_scenario_tiny(pg_server, capsys, tmp_path):
    from bench import apply1k

    # No network in the default run: peers are used only when a previous bench run installed them.
    res = apply1k.run(size="tiny", runs=1, new_database=lambda keep=False: pg_server.create_database(),
                      log=lambda *_: None,
                      work=DEFAULT_WORK, install=False, n=5)
    ours = {"pgferry", "pgferry_ratio", "pgferry-cold", "pgferry-cold_ratio"}
    d = _check(res, ours | {f"light_{k}" for k in ours})  # both workloads, in the same run
    tools = d["info"]["tools"]
    installed = [p for p in ("alembic", "dbmate", "sqitch") if tools[p]["installed"]]
    skipped = apply1k.SKIPPED["light"]
    assert d["metrics"]["floor"]["runs"] == 2 + len(installed)  # one floor run before each contender
    assert d["metrics"]["light_floor"]["runs"] == 2 + len(set(installed) - set(skipped))
    for peer, why in skipped.items():
        assert d["metrics"][f"light_{peer}"]["runs"] == 0 and d["metrics"][f"light_{peer}"]["note"] == why
    for peer in ("alembic", "dbmate", "sqitch"):
        m = d["metrics"][peer]
        if tools[peer]["installed"]:
            assert m["runs"] == 1 and m["median"] > 0
        else:  # never a number for a peer that could not run: the reason instead
            assert m["runs"] == 0 and m["note"].startswith("not installed")
    assert "pgferry / floor" in _render(res, capsys)


def test_online_index_scenario_tiny(pg_server, capsys):
    from bench import cic

    cic.SIZES["smoke"] = dict(rows=20_000, rate=100, clients=2, lead=0.3, tail=0.3)
    try:
        res = cic.run(size="smoke", runs=1, new_database=pg_server.create_database, log=lambda *_: None)
    finally:
        del cic.SIZES["smoke"]
    d = _check(res, {"cic_build", "plain_build", "base_p99"})
    run = d["info"]["runs"][0]
    for v in ("cic", "plain"):
        assert run[v]["window_s"] > 0
    assert "online-index" in _render(res, capsys)


def test_memory_scenario_tiny(pg_server, capsys):
    from bench import tui

    res = tui.run_memory(size="tiny", runs=1, new_database=pg_server.create_database, log=lambda *_: None)
    d = _check(res, {"plan_rss", "plan_s", "tui_rss", "tui_status"})
    assert d["metrics"]["plan_rss"]["median"] > 10  # MiB: a real process was measured
    assert "peak RSS" in _render(res, capsys)


def test_tui_start_scenario_tiny(pg_server, capsys):
    from bench import tui

    res = tui.run_start(size="tiny", runs=1, new_database=pg_server.create_database, log=lambda *_: None)
    d = _check(res, {"first_frame", "status", "rss"})
    assert d["metrics"]["first_frame"]["median"] <= d["metrics"]["status"]["median"]
    assert "first frame" in _render(res, capsys)


def test_estimate_scenario_without_sample_data(pg_server):
    """The accuracy benchmark end to end on empty tables (scale 0): every step estimated and measured."""
    from bench import estimate

    res = estimate.run(size="tiny", runs=1, new_database=pg_server.create_database, log=lambda *_: None, scale=0)
    d = _check(res, {"whole", "impact"})
    run = d["info"]["runs"][0]
    assert run["steps"] and all(s["estimate_s"] > 0 for s in run["steps"])
    assert run["calibration"]["basis"] == "calibrated"


def test_fleet_scenario_tiny(pg_server, capsys):
    from bench import fleet

    res = fleet.run(size="tiny", runs=1, new_database=lambda keep=False: pg_server.create_database(), log=lambda *_: None)
    d = _check(res, {"wall", "singles", "speedup", "rss"})
    assert d["params"]["instances"] == 6 and "coordinator peak RSS" in _render(res, capsys)


def test_noop_scenario_tiny(pg_server):
    res = noop.run(size="tiny", runs=1, new_database=lambda keep=False: pg_server.create_database(), install=False,
                   work=DEFAULT_WORK, log=lambda *_: None)
    peer = {"dbmate_status", "dbmate_up"}  # dbmate's rows, where an earlier bench run installed it
    d = _check(res, set(noop.TITLES) - (set() if res.info["dbmate"]["installed"] else peer))
    assert d["info"]["exit_codes"]["up"] == 0 and d["info"]["exit_codes"]["status"] == 0
