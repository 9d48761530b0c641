"""Byte counts as an operator reads them (plans, preflight, backups, reports)."""
from __future__ import annotations


def human_size(n: float) -> str:
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("kB", "MB", "GB", "TB"):
        n /= 1024
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}"
    raise AssertionError  # unreachable
