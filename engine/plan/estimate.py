"""The cost model (docs/design.md §6): what one step will cost, from what its statements do
(engine/definitions/locking.py's StatementEffect: locks, work, tables), the live sizes of those
tables and the server's throughputs (engine/bookkeeping/calibration.py). Pure: no database.

Seconds per statement: a constant for the catalog change (and the commit), plus per table it
works on, bytes over the matching throughput: a scan reads the heap, a rewrite writes heap and
TOAST again and rebuilds every index, an index build reads the heap and sorts. A transactional
step holds every lock it takes until COMMIT, so a lock is held from its statement to the end of
the step; a step outside a transaction (CREATE INDEX CONCURRENTLY) holds each for its statement.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from ..bookkeeping.calibration import DEFAULTS, Throughputs
from .impact import Basis, Blocks, LintFinding, LockHeld, StepImpact, TableTouched

MB = 1024 * 1024
# Blocked seconds from which a statement's lock on live data is reported: a warning from
# BLOCKED_WARNING_S (users notice a stall of a second), an error from BLOCKED_ERROR_S (requests
# time out; most web stacks give up after a few seconds).
BLOCKED_WARNING_S = 1.0
BLOCKED_ERROR_S = 5.0

SCAN, REWRITE, INDEX_BUILD, CATALOG_ONLY, BATCHES = "scan", "rewrite", "index build", "catalog only", "batches"


@dataclass(frozen=True)
class RelSize:
    """One relation as the live catalog sizes it (zero for one an earlier step of the plan creates)."""

    relation: str
    rows: int
    heap_bytes: int  # table and TOAST: what a scan reads and a rewrite writes
    index_bytes: int  # every index on it: what a rewrite rebuilds
    created_by_plan: bool = False

    @property
    def total_bytes(self) -> int:
        return self.heap_bytes + self.index_bytes

    def touched(self) -> TableTouched:
        return TableTouched(self.relation, self.rows, self.total_bytes, self.created_by_plan)


def created_size(relation: str) -> RelSize:
    return RelSize(relation, 0, 0, 0, created_by_plan=True)


def work_seconds(work: str, size: RelSize, rates: Throughputs) -> float:
    if work == SCAN:
        return size.heap_bytes / MB / rates.scan_mb_s
    if work == REWRITE:
        return size.heap_bytes / MB / rates.rewrite_mb_s + size.index_bytes / MB / rates.index_mb_s
    if work == INDEX_BUILD:
        return size.heap_bytes / MB / rates.index_mb_s
    return 0.0


def statement_seconds(effect, sizes: Mapping[str, RelSize], rates: Throughputs) -> float:
    """One statement: the catalog constant plus its work over each table it works on."""
    tables = [sizes[t] for t in effect.tables if t in sizes]
    return rates.catalog_s + sum(work_seconds(str(w), s, rates) for w in effect.work for s in tables)


def estimate_step(effects: Sequence, texts: Sequence[str], sizes: Mapping[str, RelSize],
                  rates: Throughputs = DEFAULTS, *, transactional: bool = True) -> StepImpact:
    """A schema step (or a privileged one): its statements' effects, in order, with their SQL."""
    durations = [statement_seconds(e, sizes, rates) for e in effects]
    total = sum(durations)
    held: dict[tuple[str, str], LockHeld] = {}
    lint: list[LintFinding] = []
    for i, effect in enumerate(effects):
        hold = sum(durations[i:]) if transactional else durations[i]
        for take in effect.locks:
            lock = LockHeld(take.relation, str(take.mode), Blocks(str(take.blocks)), round(hold, 3))
            key = (take.relation, lock.mode)
            if key not in held or held[key].held_s < lock.held_s:
                held[key] = lock
            finding = blocked_finding(effect, lock, sizes.get(take.relation), texts[i] if i < len(texts) else "")
            if finding:
                lint.append(finding)
    work = _ordered(str(w) for e in effects for w in e.work) or (CATALOG_ONLY,)
    tables = {t: sizes[t].touched() for e in effects for t in e.tables if t in sizes}
    return StepImpact(round(total, 3), Basis(rates.basis), tuple(held.values()), tuple(tables.values()), work,
                      tuple(_unique(lint)))


def estimate_batches(rows_to_do: int, size: RelSize | None, rates: Throughputs, *, locks: Iterable = (),
                     rows_per_second: float | None = None, batch_size: int = 1000,
                     batch_seconds: float = 0.5) -> StepImpact:
    """Out-of-band work: the rows still to do over the rate its last run recorded, or else its bytes
    over the rewrite throughput (an UPDATE writes new row versions) plus a commit per batch. Each
    batch holds its row locks only for itself, so no lock is held longer than a batch."""
    batches = max(1, -(-rows_to_do // max(1, batch_size)))  # the last one finds nothing left to do
    if rows_per_second:
        seconds, basis = rows_to_do / rows_per_second + rates.catalog_s, Basis.CALIBRATED
    else:
        row_bytes = size.total_bytes / size.rows if size and size.rows else 0
        seconds = rows_to_do * row_bytes / MB / rates.rewrite_mb_s + batches * rates.catalog_s
        basis = Basis(rates.basis)
    held = tuple(LockHeld(t.relation, str(t.mode), Blocks(str(t.blocks)), round(min(batch_seconds, seconds), 3))
                 for t in locks)
    tables = (size.touched(),) if size else ()
    return StepImpact(round(seconds, 3), basis, held, tables, (BATCHES,))


_FIXES = {
    SCAN: ("scan-under-lock", "scanned",
           "add the constraint NOT VALID, then VALIDATE CONSTRAINT in a later step (it lets writes go on); "
           "for SET NOT NULL: CHECK (col IS NOT NULL) NOT VALID, VALIDATE, then SET NOT NULL (no scan)"),
    REWRITE: ("rewrite-under-lock", "rewritten",
              "add a new column, backfill it out of band in batches, and switch over in a later release"),
    INDEX_BUILD: ("index-build-under-lock", "indexed",
                  "CREATE INDEX CONCURRENTLY in a migration of its own (createIndexConcurrently: true)"),
}


def blocked_finding(effect, lock: LockHeld, size: RelSize | None, text: str) -> LintFinding | None:
    """The lint that knows the data: a lock that blocks users while the statement works through a
    table holding rows, graded by the seconds it blocks them."""
    if lock.blocks == Blocks.NOTHING or size is None or size.created_by_plan or size.rows <= 0:
        return None
    heavy = [w for w in (REWRITE, INDEX_BUILD, SCAN) if w in {str(x) for x in effect.work}]
    if not heavy or lock.relation not in effect.tables or lock.held_s < BLOCKED_WARNING_S:
        return None
    rule, verb, fix = _FIXES[heavy[0]]
    what = " ".join(text.split())[:70] or "statement"
    severity = "error" if lock.held_s >= BLOCKED_ERROR_S else "warning"
    message = (f"{what} on {lock.relation}: {human_rows(size.rows)} rows {verb} under {lock.mode}, "
               f"~{lock.held_s:.1f} s of blocked {lock.blocks}")
    return LintFinding(rule, severity, message, fix)


def human_rows(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} M"
    if n >= 10_000:
        return f"{n / 1000:.0f} k"
    return str(n)


def _ordered(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _unique(findings: Iterable[LintFinding]) -> list[LintFinding]:
    return list(dict.fromkeys(findings))
