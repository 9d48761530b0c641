"""Shared by the fault tests: run `pgferry` as a user would, and check a finished upgrade.

`verify_complete` is the end-of-trial check of every fault test: the applied set equals the
target release's, every migration was applied exactly once (one successful up row each in
migration_logs, apart from rows of migrations later reverted), `pgferry drift --version TARGET`
finds nothing, `pgferry recover --json` finds nothing, no upgrade run is left unfinished, and the
sample data matches the reference fingerprint.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pgferry.engine.upgrade.upgrade import Connections, read_applied
from tests.faults.product import DEFS, NEWEST, differences, fingerprint, target_sets
from tests.support import ROOT, query

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \".*\", line \d+", re.M)


def env(**more: str) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("PGFERRY_DSN", "PG"))}
    e["PYTHONUNBUFFERED"] = "1"
    e.update(more)
    return e


def pgferry(*args: str, timeout: float = 300, extra_env: dict | None = None, input: str | None = None):
    """`python -m pgferry ARGS` in a subprocess; CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "pgferry", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env(**(extra_env or {})), timeout=timeout, input=input)


def spawn(args: list[str], log: Path, extra_env: dict | None = None) -> subprocess.Popen:
    """`python -m pgferry ARGS` in the background, stdout and stderr into `log`."""
    with open(log, "w") as f:
        return subprocess.Popen([sys.executable, "-m", "pgferry", *args], stdout=f, stderr=subprocess.STDOUT,
                                cwd=ROOT, env=env(**(extra_env or {})))


# redirect_stdout swaps sys.stdout for the whole process: anything printed from another thread
# meanwhile would land in the capture, so printers take this lock too (`locked_print`).
_REDIRECT = threading.Lock()


def locked_print(*args, **kw) -> None:
    with _REDIRECT:
        print(*args, **kw, flush=True)


def in_process(*args: str) -> tuple[int, str, str]:
    """`pgferry ARGS` in this process (no interpreter start-up): (exit code, stdout, stderr)."""
    from pgferry.tui.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _REDIRECT, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def upgrade_args(dsn: str, to: str = NEWEST, *more: str) -> list[str]:
    return ["upgrade", "--to", to, "--dsn", dsn, "--yes", "--no-progress", *more]


@dataclass
class Verdict:
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_complete(dsn: str, reference: dict | None, *, to: str = NEWEST) -> Verdict:
    problems: list[str] = []
    conns = Connections({s: dsn for s in DEFS.schemas})
    got = {s: set(DEFS.schemas[s].normalize(ids)) for s, ids in read_applied(DEFS, conns).items()}
    want = target_sets(to)
    for s in want:
        if got.get(s, set()) != want[s]:
            missing, extra = sorted(want[s] - got.get(s, set())), sorted(got.get(s, set()) - want[s])
            problems.append(f"{s}: applied set differs from {to}: missing {missing[:5]}, extra {extra[:5]}")
    dup = query(dsn, "SELECT schema, version, count(*) FROM migration_logs WHERE up AND success "
                     "GROUP BY schema, version HAVING count(*) > 1")
    if dup:
        problems.append(f"applied more than once: {dup[:5]}")
    code, out, err = in_process("drift", "--dsn", dsn, "--version", to, "--json")
    if code != 0:
        data = json.loads(out) if out.strip().startswith("{") else {}
        diffs = [f"{d['kind']} {d['object']} {d['problem']}" for db in data.get("databases", []) for d in db["differences"]]
        problems.append(f"drift exit {code}: {diffs[:5] or err.strip()[-300:]}")
    code, out, err = in_process("recover", "--dsn", dsn, "--json")
    try:
        data = json.loads(out)
    except ValueError:
        data = {"problems": [f"unreadable recover --json output: {out[:200]!r}"]}
    if code != 0 or data.get("problems") or data.get("unowned_invalid_indexes"):
        problems.append(f"recover exit {code}: {json.dumps(data.get('problems'))[:300]} "
                        f"{data.get('unowned_invalid_indexes')} {err.strip()[-200:]}")
    unfinished = query(dsn, "SELECT id, status FROM upgrade_runs WHERE status NOT IN ('succeeded', 'resumed')")
    if unfinished:
        problems.append(f"upgrade runs left unfinished: {unfinished}")
    invalid = query(dsn, "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid")
    if invalid:
        problems.append(f"invalid indexes: {invalid}")
    if reference is not None:
        diff = differences(reference, fingerprint(dsn))
        if diff:
            problems.append(f"sample data differs from the reference run: {diff}")
    return Verdict(problems)


def no_traceback(*texts: str) -> bool:
    return not any(TRACEBACK.search(t or "") for t in texts)


class Product:
    """A server with the bundled product's oldest release and sample data in a template database,
    plus reference runs: the fingerprint of an uninterrupted upgrade to each target, and its time."""

    def __init__(self, server, scale: int | None = None):
        from tests.faults.product import DEFAULT_SCALE, install_oldest

        self.server = server
        self.template = server.create_database("tpl")
        install_oldest(server.dsn(self.template), scale=scale or DEFAULT_SCALE)
        self._references: dict[str, tuple[dict, float]] = {}
        self._lock = threading.Lock()

    def clone(self, prefix: str = "c") -> tuple[str, str]:
        """(database name, DSN with password over TCP) of a fresh copy of the template."""
        name = self.server.create_database(prefix, template=self.template)
        return name, self.server.dsn(name)

    def reference(self, to: str = NEWEST, *more: str) -> tuple[dict, float]:
        """(fingerprint, seconds) of the uninterrupted `pgferry upgrade --to TO MORE...`."""
        key = " ".join((to,) + more)
        with self._lock:
            if key not in self._references:
                name, dsn = self.clone("ref")
                t0 = time.monotonic()
                r = pgferry(*upgrade_args(dsn, to, *more), timeout=600)
                seconds = time.monotonic() - t0
                if r.returncode != 0:
                    raise RuntimeError(f"the uninterrupted reference upgrade to {to} failed (exit {r.returncode}):\n"
                                       f"{r.stderr[-3000:]}")
                verdict = verify_complete(dsn, None, to=to)
                if not verdict.ok:
                    raise RuntimeError(f"the uninterrupted reference upgrade to {to} is not clean: {verdict.problems}")
                self._references[key] = (fingerprint(dsn), seconds)
                self.server.drop_database(name)
            return self._references[key]
