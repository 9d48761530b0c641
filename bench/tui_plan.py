"""tui-plan: how the plan review screen copes with a 10,000-migration plan.

The product is plan-10k's "full" history (100 releases x 100 migrations, 10 out-of-band
migrations): the plan from the oldest to the newest release has 9,900 schema steps. The app
runs headless under Textual's pilot at 80x24; a hook on `App._display` timestamps every frame
the compositor renders for the screen (headless skips only the terminal write, so what is
timed is building the tree, laying out and rendering the visible lines).

  first paint   push_screen(PlanScreen) -> the first frame of that screen
  cursor move   one key press ("down", or "pagedown") -> the next frame, over N presses
  filter        typing one character into the `/` filter (it re-groups all steps) -> next frame

Definitions are loaded and the plan computed before timing: the screen receives a plan.
Run: python -m bench.tui_plan [--size tiny|full]
"""
from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from .common import Result
from .plan10k import SIZES

FIRST_PAINT_TARGET_S = 1.0
CURSOR_TARGET_S = 0.05  # a key press must feel immediate


def _frames(app) -> list[float]:
    """Record the time of every frame rendered while the plan screen is on top."""
    from pgferry.tui.app.plan import PlanScreen

    frames: list[float] = []
    display = app._display

    def timed(screen, renderable):
        if renderable is not None and isinstance(screen, PlanScreen):
            frames.append(time.perf_counter())
        return display(screen, renderable)

    app._display = timed
    return frames


async def _next_frame(frames: list[float], after: float, pilot, timeout: float = 10.0) -> float:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        hit = next((f for f in frames if f > after), None)
        if hit is not None:
            return hit - after
        await pilot.pause(0.001)
    raise TimeoutError("no frame rendered")


async def _measure(root: Path, presses: int) -> dict:
    from pgferry.engine.definitions.catalog import load_definitions
    from pgferry.engine.plan.planner import Planner
    from pgferry.tui.app import PgferryApp, Source
    from pgferry.tui.app.plan import PlanScreen

    defs, findings = load_definitions(root)
    assert defs is not None, [str(f) for f in findings[:5]]
    source = Source(migrations=str(root))
    source.definitions()  # cached per directory: the screen's copy is this one
    first = defs.releases.releases[0]
    applied = {s: source.definitions().required(first, s) for s in defs.schemas}
    plan = Planner(source.definitions()).plan(applied, defs.releases.releases[-1].version)

    class Bare(PgferryApp):
        def on_mount(self, event) -> None:
            event.prevent_default()  # no overview (PgferryApp.on_mount would run too): only the plan screen

    app = Bare(source)
    out: dict = {"steps": len(plan.steps), "stops": len(plan.stops)}
    async with app.run_test(size=(80, 24)) as pilot:
        frames = _frames(app)
        t = time.perf_counter()
        app.push_screen(PlanScreen(source, plan, applied=applied))
        out["first_paint_s"] = await _next_frame(frames, t, pilot)
        await pilot.pause()
        tree = app.screen.query_one("#steps")
        for key, back in (("down", "up"), ("pagedown", "pageup")):
            lat = []
            press = key
            for _ in range(presses):
                line = tree.cursor_line
                t = time.perf_counter()
                await pilot.press(press)
                if tree.cursor_line == line:  # at an end: nothing to paint; turn round
                    press = back if press == key else key
                    continue
                lat.append(await _next_frame(frames, t, pilot))
            out[f"{key}_median_s"] = statistics.median(lat)
            out[f"{key}_max_s"] = max(lat)
        # Opening every group of a 10k plan would be what a filter that matches everything does.
        await pilot.press("slash")
        t = time.perf_counter()
        await pilot.press("m")  # every synthetic step is named "migration N": matches all
        out["filter_all_s"] = await _next_frame(frames, t, pilot)
        t = time.perf_counter()
        await pilot.press("escape")
        out["filter_clear_s"] = await _next_frame(frames, t, pilot)
    return out


def measure(size: str = "full", presses: int = 100) -> dict:
    """Generate the product, time the screen, clean up. Returns seconds per figure."""
    from tests.fixtures.synthetic import make_product

    spec = SIZES[size]
    tmp = Path(tempfile.mkdtemp(prefix="pgferry-bench-tui-"))
    try:
        root = make_product(tmp / "migrations", releases=spec["releases"], per_release=spec["per_release"],
                            oob=spec["oob"], branchy=True)
        return asyncio.run(_measure(root, presses))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(*, size: str = "full", runs: int = 1, presses: int = 100, log=print, **_) -> Result:
    res = Result("tui-plan", {"size": size, "presses": presses, "terminal": "80x24 headless pilot"})
    res.metric("first_paint", "plan screen: push -> first frame", "s", target=FIRST_PAINT_TARGET_S)
    res.metric("down", "cursor down: key -> next frame (median)", "s", target=CURSOR_TARGET_S)
    res.metric("pagedown", "page down: key -> next frame (median)", "s", target=CURSOR_TARGET_S)
    for i in range(runs):
        log(f"  tui-plan run {i + 1}/{runs}")
        m = measure(size, presses)
        res.add("first_paint", m["first_paint_s"])
        res.add("down", m["down_median_s"])
        res.add("pagedown", m["pagedown_median_s"])
        res.info.setdefault("runs", []).append({k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()})
    return res


if __name__ == "__main__":
    import argparse
    import json

    p = argparse.ArgumentParser()
    p.add_argument("--size", default="full", choices=sorted(SIZES))
    p.add_argument("--presses", type=int, default=100)
    a = p.parse_args()
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in measure(a.size, a.presses).items()},
                     indent=2))
