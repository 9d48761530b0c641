"""Drift differences (docs/design.md §10): what differs between a schema's expected and live shape.

`compare` works on two `describe` outputs, so it needs no connection. Every difference carries
the SQL that would fix it (`fixes.py`); statements carry a rank so that a whole script can run
removals in reverse dependency order, then additions in dependency order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import eq
from typing import TYPE_CHECKING, Iterable, Mapping

from .describe import comparable_view
from .fixes import Fixer, behind_duplicates
from .kinds import DriftProblem, ObjectKind

if TYPE_CHECKING:  # made by drift.check when it looks at the live table; `status` loads this module
    from .diagnosis import Duplicates


@dataclass
class Difference:
    kind: ObjectKind
    object: str
    problem: DriftProblem
    expected: object = None
    actual: object = None
    steps: list[tuple[float, str]] = field(default_factory=list)
    # The statement building a unique index or constraint that the fix runs: duplicate keys make it fail.
    unique: str | None = None
    duplicates: Duplicates | None = None  # what a check of the live table found (drift.check)

    @property
    def fix(self) -> list[str]:
        return [text for _, text in sorted(self.steps, key=lambda s: s[0])]

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.object}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "object": self.object, "problem": self.problem,
                "expected": self.expected, "actual": self.actual, "fix": self.fix,
                "duplicates": self.duplicates.as_dict() if self.duplicates else None}

    def checked_for_duplicates(self, duplicates: Duplicates) -> None:
        self.duplicates = duplicates
        if duplicates.found or not duplicates.checked:
            self.steps = behind_duplicates(self.steps, duplicates, f"{self.kind} {self.object}")


def compare(expected: dict, actual: dict) -> list[Difference]:
    """Differences from `expected` to `actual`, in dependency order of their kinds."""
    f = Fixer(actual.get("schema") or expected.get("schema") or "public")
    out: list[Difference] = []
    out += _extensions(f, expected.get("extensions", []), actual.get("extensions", []))
    out += _enums(f, expected.get("enums", {}), actual.get("enums", {}))
    out += _keyed(f, ObjectKind.FUNCTION, expected.get("functions", {}), actual.get("functions", {}))
    et, at = expected.get("tables", {}), actual.get("tables", {})
    es, as_ = expected.get("sequences", {}), actual.get("sequences", {})
    # A sequence owned by a missing or unexpected table comes and goes with that table.
    owned = {n: s for n, s in es.items() if n not in as_ and _owner(s) in set(et) - set(at)}
    gone = {n for n, s in as_.items() if n not in es and _owner(s) in set(at) - set(et)}
    out += _sequences(f, {n: s for n, s in es.items() if n not in owned}, {n: s for n, s in as_.items() if n not in gone})
    out += _tables(f, et, at, owned)
    out += _keyed(f, ObjectKind.VIEW, expected.get("views", {}), actual.get("views", {}), _same_view)
    return sorted(out, key=lambda d: (d.kind.rank, d.object, d.problem))


def fix_script(diffs: Iterable[Difference]) -> list[str]:
    """Every fix statement, removals first (dependents before what they depend on), then additions."""
    steps = [s for d in diffs for s in d.steps]
    return [text for _, text in sorted(steps, key=lambda s: s[0])]


def _pairs(expected: Mapping, actual: Mapping):
    for name in sorted(set(expected) | set(actual)):
        yield name, expected.get(name), actual.get(name)


def _extensions(f: Fixer, expected: list, actual: list) -> list[Difference]:
    out = []
    for name in sorted(set(expected) - set(actual)):
        out.append(Difference(ObjectKind.EXTENSION, name, DriftProblem.MISSING, name, None, f.create_extension(name)))
    for name in sorted(set(actual) - set(expected)):
        out.append(Difference(ObjectKind.EXTENSION, name, DriftProblem.UNEXPECTED, None, name, f.drop_extension(name)))
    return out


def _problem(expected, actual) -> DriftProblem:
    return DriftProblem.MISSING if actual is None else DriftProblem.UNEXPECTED if expected is None \
        else DriftProblem.DIFFERENT


def _changes(expected: Mapping, actual: Mapping, same=eq):
    """(name, problem, expected, actual) for every object that differs."""
    for name, e, a in _pairs(expected, actual):
        if e is None or a is None or not same(e, a):
            yield name, _problem(e, a), e, a


def _enums(f: Fixer, expected: Mapping, actual: Mapping) -> list[Difference]:
    return [Difference(ObjectKind.ENUM, name, problem, e, a, f.enum(name, e, a))
            for name, problem, e, a in _changes(expected, actual)]


def _keyed(f: Fixer, kind: ObjectKind, expected: Mapping, actual: Mapping, same=eq) -> list[Difference]:
    """Functions and views: one definition each, replaced as a whole."""
    return [Difference(kind, name, problem, e, a,
                       f.drop_keyed(kind, name) if e is None else f.replace_keyed(kind, name, e))
            for name, problem, e, a in _changes(expected, actual, same)]


def _same_view(expected: str, actual: str) -> bool:
    # The shipped shapes come from one major; the live server may print views another way.
    return expected == actual or comparable_view(expected) == comparable_view(actual)


def _sequences(f: Fixer, expected: Mapping, actual: Mapping) -> list[Difference]:
    return [Difference(ObjectKind.SEQUENCE, name, problem, e, a, f.sequence(name, e, a))
            for name, problem, e, a in _changes(expected, actual)]


def _owner(seq: dict) -> str | None:
    return (seq.get("owned_by") or "").partition(".")[0] or None


def _tables(f: Fixer, expected: Mapping, actual: Mapping, owned: Mapping) -> list[Difference]:
    out = []
    for name, e, a in _pairs(expected, actual):
        if a is None:
            steps = [st for n, s in owned.items() if _owner(s) == name for st in f.sequence(n, s, None)]
            out.append(Difference(ObjectKind.TABLE, name, DriftProblem.MISSING, e, None,
                                  steps + f.create_table(name, e)))
        elif e is None:
            out.append(Difference(ObjectKind.TABLE, name, DriftProblem.UNEXPECTED, None,
                                  {"columns": sorted(a["columns"])}, f.drop_table(name)))
        elif e != a:
            out += _table_parts(f, name, e, a)
    return out


def _changed(e: dict, a: dict, keys: Iterable[str]) -> tuple[dict, dict]:
    keys = [k for k in keys if e.get(k) != a.get(k)]
    return {k: e.get(k) for k in keys}, {k: a.get(k) for k in keys}


def _table_parts(f: Fixer, table: str, e: dict, a: dict) -> list[Difference]:
    out = []
    for col, ec, ac in _pairs(e["columns"], a["columns"]):
        obj = f"{table}.{col}"
        if ac is None:
            out.append(Difference(ObjectKind.COLUMN, obj, DriftProblem.MISSING, ec, None, f.add_column(table, col, ec)))
            continue
        if ec is None:
            out.append(Difference(ObjectKind.COLUMN, obj, DriftProblem.UNEXPECTED, None, ac, f.drop_column(table, col)))
            continue
        want, got = _changed(ec, ac, ("type", "not_null", "default"))
        if want:
            out.append(Difference(ObjectKind.COLUMN, obj, DriftProblem.DIFFERENT, want, got,
                                  f.alter_column(table, col, want)))
        if ec.get("comment") != ac.get("comment"):
            out.append(Difference(ObjectKind.COMMENT, obj, DriftProblem.DIFFERENT, ec.get("comment"),
                                  ac.get("comment"), f.comment_column(table, col, ec.get("comment"))))
    for con, ed, ad in _pairs(e["constraints"], a["constraints"]):
        if ed == ad:
            continue
        unique = f.add_constraint(table, con, ed) if ed and ed.startswith(("PRIMARY KEY", "UNIQUE")) else None
        out.append(Difference(ObjectKind.CONSTRAINT, f"{table}.{con}", _problem(ed, ad), ed, ad,
                              f.constraint(table, con, ed, ad), unique))
    # An index that backs a PRIMARY KEY, UNIQUE or EXCLUDE constraint comes and goes with it.
    backing = {n for cons in (e["constraints"], a["constraints"]) for n, d in cons.items()
               if d.startswith(("PRIMARY KEY", "UNIQUE", "EXCLUDE"))}
    for idx, ei, ai in _pairs(e["indexes"], a["indexes"]):
        if ei == ai:
            continue
        obj = f"{table}.{idx}"
        unique = ei["definition"] if ei and ei["definition"].startswith("CREATE UNIQUE INDEX") else None
        if ei and ai and ei["definition"] == ai["definition"]:
            if ei["valid"] and not ai["valid"]:
                out.append(Difference(ObjectKind.INDEX, obj, DriftProblem.INVALID_INDEX, ei, ai, f.reindex(idx),
                                      unique))
            continue
        if idx in backing:
            continue
        out.append(Difference(ObjectKind.INDEX, obj, _problem(ei, ai), ei and ei["definition"], ai and ai["definition"],
                              f.index(idx, ei and ei["definition"], ai is not None), unique))
    for trg, ed, ad in _pairs(e["triggers"], a["triggers"]):
        if ed == ad:
            continue
        out.append(Difference(ObjectKind.TRIGGER, f"{table}.{trg}", _problem(ed, ad), ed, ad,
                              f.trigger(table, trg, ed, ad)))
    if e.get("comment") != a.get("comment"):
        out.append(Difference(ObjectKind.COMMENT, table, DriftProblem.DIFFERENT, e.get("comment"), a.get("comment"),
                              f.comment_table(table, e.get("comment"))))
    return out
