"""reconcile: a target against the live orders → cancels, places, kept (tables and properties)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polybot.domain.quote_inputs import OurOrder, TargetOrder
from polybot.domain.reconcile import Tolerance, reconcile

D = Decimal
TOL = Tolerance(D("0.01"), keep_ticks=1, keep_size_frac=D("0.25"))


def live(oid: str, price: str, size: str = "10", side: str = "BUY", asset: str = "yes") -> OurOrder:
    return OurOrder(oid, asset, side, D(price), D(size))  # type: ignore[arg-type]


def want(price: str, size: str = "10", side: str = "BUY", asset: str = "yes") -> TargetOrder:
    return TargetOrder(asset, side, D(price), D(size))  # type: ignore[arg-type]


@pytest.mark.parametrize(("targets", "orders", "cancels", "places", "kept"), [
    # nothing resting: place the target
    ([want("0.45")], [], [], [want("0.45")], 0),
    # an order within one tick and 25 % of the size is kept
    ([want("0.45")], [live("a", "0.44", "8")], [], [], 1),
    # two ticks away: replaced (cancel, then place)
    ([want("0.45")], [live("a", "0.43")], ["a"], [want("0.45")], 0),
    # the size moved more than the fraction: replaced
    ([want("0.45", "10")], [live("a", "0.45", "7")], ["a"], [want("0.45", "10")], 0),
    # the other side or the other token never stands in
    ([want("0.45")], [live("a", "0.45", side="SELL")], ["a"], [want("0.45")], 0),
    ([want("0.45")], [live("a", "0.45", asset="no")], ["a"], [want("0.45")], 0),
    # an empty target pulls everything
    ([], [live("a", "0.45"), live("b", "0.55", side="SELL")], ["a", "b"], [], 0),
    # a duplicate is cancelled, the closest one kept
    ([want("0.45")], [live("a", "0.44"), live("b", "0.45")], ["a"], [], 1),
    # two targets, two orders: each keeps its own
    ([want("0.45"), want("0.55", side="SELL")], [live("b", "0.55", side="SELL"), live("a", "0.45")], [], [], 2),
])
def test_reconcile_table(targets: list[TargetOrder], orders: list[OurOrder], cancels: list[str],
                         places: list[TargetOrder], kept: int) -> None:
    r = reconcile(targets, orders, TOL)
    assert [o.order_id for o in r.cancels] == cancels
    assert list(r.places) == places
    assert len(r.kept) == kept


def test_exact_tolerance_keeps_only_an_identical_order() -> None:
    exact = Tolerance(D("0.001"))
    assert reconcile([want("0.451")], [live("a", "0.451")], exact).idle
    r = reconcile([want("0.451")], [live("a", "0.452")], exact)
    assert [o.order_id for o in r.cancels] == ["a"] and list(r.places) == [want("0.451")]


def test_max_open_cuts_the_places_listed_last() -> None:
    targets = [want("0.45"), want("0.55", side="SELL"), want("0.44")]
    r = reconcile(targets, [live("k", "0.55", side="SELL")], TOL, max_open=2)
    assert list(r.places) == [want("0.45")] and list(r.dropped) == [want("0.44")] and len(r.kept) == 1


def test_a_bad_tolerance_is_refused() -> None:
    with pytest.raises(ValueError):
        Tolerance(D(0))
    with pytest.raises(ValueError):
        Tolerance(D("0.01"), keep_ticks=-1)


_prices = st.integers(1, 99).map(lambda n: D(n) / 100)
_sizes = st.integers(1, 40).map(D)
_sides = st.sampled_from(["BUY", "SELL"])
_assets = st.sampled_from(["yes", "no"])
_targets = st.lists(st.builds(TargetOrder, _assets, _sides, _prices, _sizes), max_size=6)
_live = st.lists(st.tuples(_assets, _sides, _prices, _sizes), max_size=8).map(
    lambda rows: [OurOrder(f"o{i}", a, s, p, z) for i, (a, s, p, z) in enumerate(rows)])  # type: ignore[arg-type]
_tolerance = st.builds(Tolerance, st.just(D("0.01")), st.integers(0, 3), st.sampled_from([D(0), D("0.1"), D("0.5")]))


@given(_targets, _live, _tolerance)
def test_applying_the_actions_leaves_exactly_the_target_and_a_second_pass_is_idle(
        targets: list[TargetOrder], orders: list[OurOrder], tol: Tolerance) -> None:
    r = reconcile(targets, orders, tol)
    cancelled = {o.order_id for o in r.cancels}
    assert cancelled <= {o.order_id for o in orders} and len(cancelled) == len(r.cancels)
    remaining = [o for o in orders if o.order_id not in cancelled]
    # every remaining order stands for exactly one target, within tolerance
    assert sorted(o.order_id for o, _ in r.kept) == sorted(o.order_id for o in remaining)
    assert all(tol.keeps(o, t) for o, t in r.kept)
    assert len(r.kept) + len(r.places) == len(targets)
    placed = [OurOrder(f"new{i}", t.asset_id, t.side, t.price, t.size) for i, t in enumerate(r.places)]
    again = reconcile(targets, remaining + placed, tol)
    assert again.idle, again


@given(_targets, _live, _tolerance, st.integers(0, 6))
def test_max_open_is_never_exceeded_by_what_is_placed(targets: list[TargetOrder], orders: list[OurOrder],
                                                      tol: Tolerance, cap: int) -> None:
    r = reconcile(targets, orders, tol, max_open=cap)
    assert len(r.places) <= max(0, cap - len(r.kept))
    assert len(r.places) + len(r.dropped) + len(r.kept) == len(targets)
