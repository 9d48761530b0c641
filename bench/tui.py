"""memory and tui-start: what the command line and the terminal UI cost in memory and start-up.

Both run the real programs on a pseudo-terminal (or plain pipes for `plan`), each a fresh process,
and read the process's own peak RSS (VmHWM of its memory map, sampled every 5 ms: the child alone).

memory (the history of plan-10k: 10,000 migrations in 100 releases, 10 out-of-band migrations;
tiny: 50 migrations), against an empty database (so the plan installs everything: 10,000 steps):
  plan     `pgferry plan --migrations DIR --dsn DSN --to latest` with its output to /dev/null
  tui      the app (`tui.app.PgferryApp(Source(migrations=DIR, dsn=DSN))`, bench/_tui_child.py)
           on a 120x40 pty until the overview shows the database's status, then `q`
tui-start (the bundled product, `pgferry` with PGFERRY_DSN on an empty database, 120x40 pty):
  first frame   launch -> the overview's title ("pgferry · overview") written to the terminal:
                the first frame of the overview, drawn before the status is read
  status        launch -> "database version" written: the overview filled in from the database
"Launch" is just before the process is spawned, so interpreter start-up and imports count.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from .apply1k import pgferry_argv
from .common import ROOT, Result, run_in_pty, run_measured
from .plan10k import SIZES as PLAN_SIZES

TITLE = "pgferry · overview".encode()
STATUS = b"database version"


def _failure(t: dict) -> str:
    """The last readable line of what a failed TUI printed (escape sequences stripped)."""
    import re

    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|[\x00-\x08\x0e-\x1f]", "", t["tail"])
    lines = [ln.strip(" │╰╯─") for ln in text.splitlines() if ln.strip(" │╰╯─")]
    return f"exit {t['exit']}: {lines[-1][:200] if lines else 'no output'}"


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGFERRY_")}
    # Measured as a first command on these files: no definitions cache (engine/definitions/defcache.py).
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40", PGFERRY_CACHE_DIR="off", **extra)
    env.pop("NO_COLOR", None)
    return env


def run_memory(*, size: str = "full", runs: int = 5, new_database=None, log=print, **_) -> Result:
    from tests.fixtures.synthetic import make_product

    assert new_database is not None, "memory needs a server"
    spec = PLAN_SIZES[size]
    res = Result("memory", {"size": size, "runs": runs, **{k: v for k, v in spec.items() if k != "oob"},
                            "out_of_band": len(spec["oob"]), "terminal": "120x40"})
    res.metric("plan_rss", "pgferry plan --to latest: peak RSS", "MiB")
    res.metric("plan_s", "  pgferry plan: wall time", "s")
    res.metric("tui_rss", "TUI showing the overview: peak RSS", "MiB")
    res.metric("tui_status", "  TUI: launch → status shown", "s")
    tmp = Path(tempfile.mkdtemp(prefix="pgferry-bench-mem-"))
    try:
        root = make_product(tmp / "migrations", releases=spec["releases"], per_release=spec["per_release"],
                            oob=spec["oob"], branchy=True)
        res.info["migrations"] = sum(1 for d in root.iterdir() if d.is_dir() and d.name != "out-of-band"
                                     for _ in d.iterdir())
        for i in range(runs):
            dsn = new_database()
            log(f"  memory run {i + 1}/{runs}: pgferry plan")
            with (tmp / "plan.out").open("w") as out:
                r = run_measured([*pgferry_argv(), "plan", "--migrations", str(root), "--dsn", dsn, "--to", "latest"],
                                 env=_env(), stdout=out)
            if r["exit"] != 0:
                raise RuntimeError(f"pgferry plan exited {r['exit']}: {r['stderr'][-500:]}")
            res.add("plan_rss", r["maxrss_kib"] / 1024)
            res.add("plan_s", r["wall_s"])
            res.info["plan_output_bytes"] = (tmp / "plan.out").stat().st_size
            log(f"  memory run {i + 1}/{runs}: TUI on the same history")
            t = run_in_pty([sys.executable, "-m", "bench._tui_child", str(root), dsn], env=_env(), cwd=ROOT,
                           marks={"first_frame": TITLE, "status": STATUS}, quit_after="status", timeout=600)
            if "status" not in t["marks"]:
                # The app is worked on by others as this runs: report its failure, do not invent a number.
                why = _failure(t)
                log(f"  memory: the TUI did not show the status: {why}")
                res.metrics["tui_rss"].note = res.metrics["tui_status"].note = f"TUI failed: {why}"
                res.info.setdefault("tui_failures", []).append(why)
                res.info.setdefault("runs", []).append({"plan": {k: v for k, v in r.items() if k != "stderr"}})
                continue
            res.add("tui_rss", t["maxrss_kib"] / 1024)
            res.add("tui_status", t["marks"]["status"])
            res.info.setdefault("runs", []).append({"plan": {k: v for k, v in r.items() if k != "stderr"},
                                                    "tui": {k: v for k, v in t.items() if k != "tail"}})
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_start(*, size: str = "full", runs: int = 5, new_database=None, log=print, **_) -> Result:
    assert new_database is not None, "tui-start needs a server"
    res = Result("tui-start", {"size": size, "runs": runs, "product": "bundled", "terminal": "120x40",
                               "database": "empty (every migration pending)"})
    res.metric("first_frame", "launch → first frame of the overview", "s")
    res.metric("status", "launch → overview with the database status", "s")
    res.metric("rss", "  TUI peak RSS", "MiB")
    for i in range(runs):
        dsn = new_database()
        log(f"  tui-start run {i + 1}/{runs}")
        t = run_in_pty([*pgferry_argv()], env=_env(PGFERRY_DSN=dsn), cwd=ROOT,
                       marks={"first_frame": TITLE, "status": STATUS}, quit_after="status", timeout=120)
        if "status" not in t["marks"] or "first_frame" not in t["marks"]:
            why = _failure(t)
            log(f"  tui-start: the TUI did not show the overview: {why}")
            for m in res.metrics.values():
                m.note = f"TUI failed: {why}"
            res.info.setdefault("failures", []).append(why)
            continue
        res.add("first_frame", t["marks"]["first_frame"])
        res.add("status", t["marks"]["status"])
        res.add("rss", t["maxrss_kib"] / 1024)
        res.info.setdefault("runs", []).append({k: v for k, v in t.items() if k != "tail"})
    return res
