"""What the lint reads off one statement, kept apart from the statement's tree so that it can be
stored (the shipped index, defindex.py) and the lint can run without building any tree."""
from __future__ import annotations

from typing import NamedTuple


class Hit(NamedTuple):
    rule: str
    message: str
    table: str | None  # as lint.py names tables: "t" in public, "s.t" elsewhere
    fix: str  # the safe rewrite, SQL where there is one


class LintNotes(NamedTuple):
    """One statement as the lint sees it, wherever it runs (lint.py adds the context: which file,
    which release, which waivers)."""

    creates: str | None  # the table or named index it creates ("t", "s.t"), for "new in this upgrade"
    hits: tuple[Hit, ...]  # the statement rules it breaks
    idempotency_gap: str | None  # "CREATE TABLE without IF NOT EXISTS", ...
    session_setting: str | None  # "SET search_path", ...: a setting that outlives the transaction
