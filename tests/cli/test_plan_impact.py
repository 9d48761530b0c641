"""Every printed view of a plan shows its impact: the `plan` text, the Markdown export and the JSON
summary, rendered from impacts constructed in tests/impact_data.py (no database needed)."""
from __future__ import annotations

import json
from dataclasses import replace
from io import StringIO

import pytest
from rich.console import Console

from pgferry.engine.plan.export import to_markdown
from pgferry.engine.plan.impact import Basis
from pgferry.engine.plan.impactview import NOTICEABLE_S, seconds
from pgferry.tui.plan_view import print_plan
from pgferry.tui.terminal import UNCUT
from tests.impact_data import bundled_plan, with_impacts


@pytest.fixture(scope="module")
def plan():
    return bundled_plan()


def printed(plan, width: int) -> list[str]:
    buffer = StringIO()
    print_plan(plan, Console(file=buffer, width=width, soft_wrap=width == UNCUT))
    return buffer.getvalue().splitlines()


def test_seconds_read_as_estimates():
    assert [seconds(s) for s in (0.01, 3.14, 12.5, 270, 4320)] == ["<0.1 s", "~3.1 s", "~12 s", "~4.5 min", "~1.2 h"]
    assert NOTICEABLE_S == 1.0


def test_text_has_an_estimate_column_blocks_and_lint_under_their_step_and_fits_80_columns(plan):
    lines = printed(with_impacts(plan), 80)
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    step2 = next(i for i, line in enumerate(lines) if line.startswith("   2 ↑"))
    assert "~3.1 s frontend" in lines[step2]
    # what it blocks, with glyph and word, then the lint finding with its rule id and fix, wrapped not cut
    assert lines[step2 + 1].strip() == "✗ blocks reads+writes on public.repo ~3.1 s"
    assert lines[step2 + 2].strip().startswith("lint add-column-volatile-default (warning): ADD COLUMN stars")
    lint = " ".join(line.strip() for line in lines[step2 + 2:step2 + 7])
    assert "~3.1 s of blocked reads and writes" in lint
    assert "fix: add the column without a default, then SET DEFAULT, then backfill in batches" in lint
    step5 = next(i for i, line in enumerate(lines) if line.startswith("   5 ↑"))
    assert lines[step5 + 1].strip() == "! blocks writes on public.users ~1.5 s"
    # under the threshold (a catalog-only CREATE TABLE, a non-blocking concurrent build): no blocks line
    for n in (3, 4):
        at = next(i for i, line in enumerate(lines) if line.startswith(f"   {n} ↑"))
        assert lines[at + 1].startswith(f"   {n + 1} ↑")
    # per stop and for the whole plan, the total and what is blocked, with the basis said
    assert "impact: ~3.0 min in all; reads and writes to public.repo blocked ~3.1 s; writes" in text
    assert "(default estimates: run `pgferry calibrate`)" in text
    assert "   stop 3.23.0: ~1.7 min; reads and writes to public.repo blocked ~3.1 s; writes" in text
    assert "   stop 3.30.1: ~1.4 min" in text and "   to 4.2.0: ~0.6 s" in text
    assert "  20 ⟳        ~40 s out-of-band  1" in text


def test_text_into_a_file_keeps_every_line_whole_and_calibrated_says_no_default(plan):
    lines = printed(with_impacts(plan, Basis.CALIBRATED), UNCUT)
    text = "\n".join(lines)
    assert "calibrate" not in text
    assert any(line.startswith("impact: ~3.0 min in all; reads and writes to public.repo blocked ~3.1 s; writes to "
                               "public.users blocked ~1.5 s; 1 more relation(s) locked briefly") for line in lines)
    assert any(line.strip().startswith("lint add-column-volatile-default (warning): ADD COLUMN") and
               line.endswith("~3.1 s of blocked reads and writes") for line in lines)


def test_text_without_impact_is_unchanged(plan):
    lines = printed(plan, 80)
    assert not any(line.startswith("impact:") or "stop 3.23.0:" in line for line in lines)
    assert "   3 ↑  ⧗  frontend     1602907217  Index repositories whose stars are not back…" in lines


def test_markdown_has_a_table_per_stop_with_locks_sizes_work_lint_and_totals(plan):
    md = to_markdown(with_impacts(plan))
    impact = md[md.index("## Impact"):]
    assert "(default estimates: run `pgferry calibrate`)" in impact
    assert [line for line in impact.splitlines() if line.startswith("### ")] == [
        "### stop at 3.23.0: ~1.7 min; reads and writes to public.repo blocked ~3.1 s; writes to public.users "
        "blocked ~1.5 s; 1 more relation(s) locked briefly (each under 1 s)",
        "### stop at 3.30.1: ~1.4 min", "### upgrade to 4.2.0: ~0.6 s"]
    rows = {line.split(" | ")[0]: line for line in impact.splitlines() if line.startswith("| ")}
    assert rows["| 2"] == (
        "| 2 | ↑ frontend 1602903617 Add repository stars | ~3.1 s | **✗ ACCESS EXCLUSIVE on public.repo: blocks "
        "reads and writes ~3.1 s** | public.repo: 60,000 rows, 4.9 MB | rewrite | **add-column-volatile-default** "
        "(warning): ADD COLUMN stars with a volatile default on public.repo: 60,000 rows rewritten under ACCESS "
        "EXCLUSIVE, ~3.1 s of blocked reads and writes — fix: add the column without a default, then SET DEFAULT, "
        "then backfill in batches |")
    assert "| public.feature_flags: created by this plan (empty) | catalog only |" in rows["| 4"]
    assert "| **! SHARE on public.users: blocks writes ~1.5 s** | public.users: 250,000 rows, 40.0 MB |" in rows["| 5"]
    assert "| SHARE UPDATE EXCLUSIVE on public.repo: blocks nothing |" in rows["| 3"]
    assert impact.count("| | **total** |") == 3
    assert "calibrate" not in to_markdown(with_impacts(plan, Basis.CALIBRATED))
    assert "## Impact" not in to_markdown(plan)


def test_markdown_cells_keep_a_pipe_in_a_message_inside_its_cell(plan):
    from pgferry.engine.plan.impact import LintFinding

    impact = with_impacts(plan).impact
    key = plan.steps[0].key
    odd = replace(impact.steps[key], lint=(LintFinding("r", "error", "a | b\nc", "x"),))
    md = to_markdown(replace(plan, impact=replace(impact, steps={**impact.steps, key: odd})))
    assert "**r** (error): a \\| b c — fix: x |" in md


def test_json_has_a_plan_level_summary_per_stop_and_relation(plan):
    data = json.loads(json.dumps(with_impacts(plan, Basis.CALIBRATED).as_dict()))
    summary = data["impact_summary"]
    assert summary["basis"] == "calibrated" and summary["total_s"] == 181.6
    assert summary["blocked"] == [
        {"relation": "public.repo", "blocks": "reads and writes", "seconds": 3.1},
        {"relation": "public.users", "blocks": "writes", "seconds": 1.5},
        {"relation": "public.feature_flags", "blocks": "reads and writes", "seconds": 0.0}]
    assert [(s["towards"], s["total_s"]) for s in summary["stops"]] == [("3.23.0", 99.8), ("3.30.1", 81.2), ("4.2.0", 0.6)]
    assert summary["stops"][1]["blocked"] == []
    assert data["steps"][1]["impact"]["locks"][0]["mode"] == "ACCESS EXCLUSIVE"
    assert "impact_summary" not in plan.as_dict()


def test_plan_on_a_live_database_prints_its_impact_in_every_format(database, capsys, tmp_path):
    """End to end: `plan` reads the impact (with_impact) and each format shows it; a table an earlier
    step of the plan creates (1.2.0's events) is said so, size 0."""
    from tests.support import SMALL, cli

    flags = ("--dsn", database, "--migrations", str(SMALL))
    assert cli(capsys, "upgrade", "--to", "1.0.0", "--yes", "--no-progress", *flags)[0] == 0
    args = ("plan", "--to", "1.2.0", *flags)
    rc, out, _ = cli(capsys, *args)
    assert rc == 0
    assert "impact: " in out and "(default estimates: run `pgferry calibrate`)" in out
    assert any(line.startswith("   1 ↑") and " s main " in line for line in out.splitlines())
    rc, out, _ = cli(capsys, *args, "--markdown")
    assert rc == 0 and "## Impact" in out and ": created by this plan (empty) |" in out
    rc, out, _ = cli(capsys, *args, "--json")
    data = json.loads(out)
    assert data["impact_summary"]["basis"] == "default"
    assert [s["towards"] for s in data["impact_summary"]["stops"]] == ["1.2.0"]
    assert all(s["impact"]["estimate_s"] > 0 for s in data["steps"])
