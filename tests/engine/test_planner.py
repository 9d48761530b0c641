"""The planner as a pure function: fewest stops, order, directions, and clear refusals."""
from __future__ import annotations

import itertools
import random

import pytest

from pgferry.engine.definitions.catalog import load
from pgferry.engine.errors import DriftFound, PlanError, UsageError
from pgferry.engine.plan.planner import Planner, _interval_cover
from tests.fixtures.synthetic import make_product


def brute_force_minimum(intervals: dict[int, tuple[int, int]]) -> int:
    points = sorted({p for lo, hi in intervals.values() for p in range(lo, hi + 1)})
    for k in range(0, len(points) + 1):
        for combo in itertools.combinations(points, k):
            if all(any(lo <= p <= hi for p in combo) for lo, hi in intervals.values()):
                return k
    raise AssertionError("unreachable")


@pytest.mark.parametrize("seed", range(40))
def test_interval_cover_is_minimal_and_covers(seed):
    rng = random.Random(seed)
    intervals = {}
    for i in range(rng.randint(1, 7)):
        lo = rng.randint(0, 12)
        intervals[i] = (lo, lo + rng.randint(0, 4))
    cover = _interval_cover(intervals)
    assert len(cover) == brute_force_minimum(intervals)
    assigned = sorted(i for ids in cover.values() for i in ids)
    assert assigned == sorted(intervals)
    for point, ids in cover.items():
        for i in ids:
            lo, hi = intervals[i]
            assert lo <= point <= hi


def test_interval_cover_examples():
    assert _interval_cover({}) == {}
    # nested and overlapping lifetimes share one stop; a disjoint one needs its own
    assert _interval_cover({1: (1, 3), 2: (2, 4), 3: (5, 7)}) == {3: [1, 2], 7: [3]}
    assert _interval_cover({1: (0, 9), 2: (4, 4)}) == {4: [1, 2]}


def ids_of(plan, kind="schema"):
    return [(s.step.id if kind == "schema" else s.oob.id) for s in plan.steps if s.kind == kind]


@pytest.fixture
def product(tmp_path):
    # releases 1.0.0 .. 10.0.0 (index 0..9); out-of-band lifetimes chosen so oldest -> newest needs 2 stops
    root = make_product(tmp_path / "p", releases=10, per_release=2,
                        oob={1: (1, 4), 2: (2, 5), 3: (5, 8), 4: (3, None)},
                        pulled={3: "broken build"})
    return load(root)


def applied_at(defs, version):
    r = defs.release(version)
    return {s: defs.required(r, s) for s in r.leaves}


def test_upgrade_oldest_to_newest_takes_the_fewest_stops(product):
    plan = Planner(product).plan(applied_at(product, "1.0.0"), "10.0.0")
    assert plan.direction == "upgrade"
    # oob 1 [2.0.0, 5.0.0) and 2 [3.0.0, 6.0.0) share a stop; 4.0.0 is pulled, so the stop is 3.0.0;
    # oob 3 [6.0.0, 9.0.0) stops at 8.0.0; oob 4 is never deprecated, so it never forces a stop
    assert [s.release.version for s in plan.stops] == ["3.0.0", "8.0.0"]
    assert [s.out_of_band for s in plan.stops] == [(1, 2), (3,)]
    kinds = [(s.kind, s.stop) for s in plan.steps]
    # at each stop: schema migrations to that release first, then its out-of-band migrations
    first_oob = kinds.index(("out_of_band", "3.0.0"))
    assert all(k == "schema" and stop == "3.0.0" for k, stop in kinds[:first_oob])
    assert ids_of(plan) == list(range(3, 21))
    assert "deprecated in 5.0.0" in plan.steps[first_oob].reason
    d = plan.as_dict()
    assert d["from"] == "1.0.0" and d["to"] == "10.0.0"
    assert {"kind", "schema", "id", "name", "release", "privileged", "concurrent_index"} <= set(d["steps"][0])
    assert {"kind", "id", "description", "release"} <= set(next(s for s in d["steps"] if s["kind"] == "out_of_band"))


def test_finished_out_of_band_migrations_need_no_stop(product):
    plan = Planner(product).plan(applied_at(product, "1.0.0"), "10.0.0", progress={1: 1.0, 2: 1.0})
    assert [s.release.version for s in plan.stops] == ["8.0.0"]


def test_starting_inside_a_lifetime_can_stop_at_the_current_release(product):
    plan = Planner(product).plan(applied_at(product, "5.0.0"), "7.0.0")
    # oob 2 is deprecated in 6.0.0 and live at 5.0.0: finish it before moving on
    assert [s.release.version for s in plan.stops] == ["5.0.0"]
    assert plan.steps[0].kind == "out_of_band" and plan.steps[0].oob.id == 2


def test_every_pair_of_releases_ends_at_the_target_set(product):
    planner = Planner(product)
    versions = [r.version for r in product.releases.releases]
    for a, b in itertools.product(versions, versions):
        if product.release(b).pulled:
            continue
        applied = applied_at(product, a)
        plan = planner.plan(applied, b, allow_downgrade=True)
        done = set(applied["app"])
        for s in plan.steps:
            if s.kind == "schema":
                assert (s.step.id in done) != s.step.up, (a, b, s)
                (done.add if s.step.up else done.discard)(s.step.id)
        assert done == product.required(product.release(b), "app"), (a, b)


def test_downgrade_undoes_out_of_band_inside_their_lifetime(product):
    plan = Planner(product).plan(applied_at(product, "10.0.0"), "1.0.0", allow_downgrade=True)
    assert plan.direction == "downgrade"
    # undo 3 (introduced 6.0.0) at 6.0.0, 1 and 2 (introduced 2.0.0, 3.0.0) at 3.0.0,
    # and 4 (introduced 4.0.0, pulled, still live) at 4.0.0 — visited top-down
    stops = [(s.release.version, s.out_of_band) for s in plan.stops]
    assert [v for v, _ in stops] == sorted([v for v, _ in stops], key=lambda v: -int(v.split(".")[0]))
    undone = sorted(i for _, ids in stops for i in ids)
    assert undone == [1, 2, 3, 4]
    assert all(s.reverse for s in plan.steps if s.kind == "out_of_band")
    assert all(not s.step.up for s in plan.steps if s.kind == "schema")


def test_refusals(product):
    p = Planner(product)
    with pytest.raises(UsageError, match="unknown release"):
        p.plan(applied_at(product, "1.0.0"), "99.0.0")
    with pytest.raises(PlanError, match="older than the database"):
        p.plan(applied_at(product, "5.0.0"), "2.0.0")
    with pytest.raises(PlanError, match="pulled"):
        p.plan(applied_at(product, "1.0.0"), "4.0.0")
    with pytest.raises(PlanError, match="unsupported source version"):
        p.plan({"app": frozenset({0, 1, 2})}, "5.0.0")  # 0: older than anything the definitions know
    with pytest.raises(DriftFound, match="do not know"):
        p.plan({"app": frozenset({1, 2, 99_999})}, "5.0.0")
    # a partial install on its way to the target (interrupted, or privileged steps recorded ahead)
    partial = p.plan({"app": frozenset({1})}, "5.0.0")
    assert partial.direction == "install" and ids_of(partial) == list(range(2, 11))
    assert [s.out_of_band for s in partial.stops] == [(1,)]  # it stops as an install from empty does
    with pytest.raises(DriftFound):
        # applied 5 (of 3.0.0) without 3 and 4: matches no release on the way
        p.plan({"app": frozenset({1, 2, 5})}, "2.0.0")
    nothing = p.plan(applied_at(product, "5.0.0"), "5.0.0")
    assert nothing.empty and nothing.direction == "none"


def test_an_install_stops_where_its_out_of_band_migrations_must_finish(product):
    """A migration on the way may seed the rows an out-of-band migration rewrites, so an install
    stops as an upgrade from the oldest release would (each stop measures; nothing to do is quick)."""
    plan = Planner(product).plan({}, "10.0.0")
    assert plan.direction == "install" and plan.from_version is None
    assert [(s.release.version, s.out_of_band) for s in plan.stops] == [("3.0.0", (1, 2)), ("8.0.0", (3,))]
    assert ids_of(plan) == list(range(1, 21))
    assert not Planner(product).plan({}, "2.0.0").stops  # nothing deprecated on the way
