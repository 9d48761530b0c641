"""What a plan will cost before it runs (docs/design.md §6): for every step, the locks it takes and
what they block, the tables it touches with their live sizes, the work it does (scan, rewrite,
index build, catalog only), an estimate in seconds and the lint findings that know the data.

The values here are plain data, the contract of `plan --json` ("impact" on each step) and of
every view of a plan (text, Markdown, the terminal UI). How they are found: engine/definitions/
locking.py reads each statement's locks and work from its parse tree; engine/upgrade/impact.py
reads the sizes from the live catalog and the server's calibration, then estimates.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Mapping

from ..definitions.lockmodes import Blocks  # noqa: F401 - defined beside the lock modes it summarises


class Basis(StrEnum):
    CALIBRATED = "calibrated"  # throughputs measured on this server by `pgferry calibrate`
    DEFAULT = "default"  # built-in throughputs: before calibration, an order of magnitude


@dataclass(frozen=True)
class LockHeld:
    relation: str  # schema-qualified: "public.projects"
    mode: str  # PostgreSQL's name: "ACCESS EXCLUSIVE", "SHARE", "SHARE UPDATE EXCLUSIVE", ...
    blocks: Blocks
    held_s: float  # how long the step holds it, estimated

    def as_dict(self) -> dict:
        return {"relation": self.relation, "mode": self.mode, "blocks": str(self.blocks), "held_s": self.held_s}


@dataclass(frozen=True)
class TableTouched:
    relation: str
    rows: int  # reltuples (0 for a table this plan creates earlier, or never analysed and empty)
    bytes: int  # the relation's size including its indexes and TOAST
    created_by_plan: bool = False  # made by an earlier step of the same plan: size 0, said as such

    def as_dict(self) -> dict:
        out = {"relation": self.relation, "rows": self.rows, "bytes": self.bytes}
        if self.created_by_plan:
            out["created_by_plan"] = True
        return out


@dataclass(frozen=True)
class LintFinding:
    rule: str  # a stable id, e.g. "set-not-null"; waived in metadata.yaml by this id
    severity: str  # "warning" | "error"
    message: str
    fix: str  # the safe rewrite, in words and SQL

    def as_dict(self) -> dict:
        return {"rule": self.rule, "severity": self.severity, "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class StepImpact:
    estimate_s: float
    basis: Basis
    locks: tuple[LockHeld, ...] = ()
    tables: tuple[TableTouched, ...] = ()
    work: tuple[str, ...] = ()  # "scan", "rewrite", "index build", "catalog only", "batches"
    lint: tuple[LintFinding, ...] = ()

    def as_dict(self) -> dict:
        return {"estimate_s": self.estimate_s, "estimate_basis": str(self.basis),
                "locks": [x.as_dict() for x in self.locks], "tables": [x.as_dict() for x in self.tables],
                "work": list(self.work), "lint": [x.as_dict() for x in self.lint]}

    def blocked(self) -> dict[str, tuple[Blocks, float]]:
        """Per relation, the worst thing it blocks and for how long (the longest such lock)."""
        order = list(Blocks)
        out: dict[str, tuple[Blocks, float]] = {}
        for lock in self.locks:
            if lock.blocks is Blocks.NOTHING:
                continue
            worst, held = out.get(lock.relation, (Blocks.NOTHING, 0.0))
            out[lock.relation] = (max(worst, lock.blocks, key=order.index), max(held, lock.held_s))
        return out


@dataclass(frozen=True)
class PlanImpact:
    """Every step's impact by PlanStep.key, with the totals an admin plans a window with."""

    steps: Mapping[str, StepImpact] = field(default_factory=dict)
    basis: Basis = Basis.DEFAULT

    def of(self, key: str) -> StepImpact | None:
        return self.steps.get(key)

    def total_s(self, keys=None) -> float:
        keys = self.steps.keys() if keys is None else keys
        return round(sum(self.steps[k].estimate_s for k in keys if k in self.steps), 1)

    def blocked(self, keys=None) -> dict[str, tuple[Blocks, float]]:
        """Per relation over the given steps (all by default): the worst it blocks, summed seconds."""
        order = list(Blocks)
        keys = self.steps.keys() if keys is None else keys
        out: dict[str, tuple[Blocks, float]] = {}
        for k in keys:
            impact = self.steps.get(k)
            for relation, (blocks, held) in (impact.blocked() if impact else {}).items():
                worst, total = out.get(relation, (Blocks.NOTHING, 0.0))
                out[relation] = (max(worst, blocks, key=order.index), round(total + held, 1))
        return out
