"""The benchmarks still run: every scenario at size tiny, one run, in-process (a few seconds)."""
from __future__ import annotations

import json
import math

from tests.bench import oob, plan10k
from tests.bench.__main__ import render
from tests.bench.common import machine_facts


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
    d = _check(res, {"load", "import", "parse", "checks", "lint", "load_nolint", "plan"})
    assert d["info"]["migrations"] == 50
    assert "warning" not in d["info"]  # the piece-wise load agrees with load_definitions
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
