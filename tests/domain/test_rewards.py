"""rewards: Polymarket's liquidity-rewards rule (docs.polymarket.com/market-makers/liquidity-rewards), with the
docs' worked example, the Q_min rule on both sides of [0.10, 0.90], the size and spread cutoffs, and the
size-cutoff-adjusted midpoint."""

from __future__ import annotations

from decimal import Decimal

import pytest

from polybot.domain.quote_inputs import TargetOrder
from polybot.domain.rewards import adjusted_midpoint, max_spread_price, order_score, q_min, score, to_yes_frame

D = Decimal
YES, NO = "yes", "no"


def order(asset: str, side: str, price: str, size: str) -> TargetOrder:
    return TargetOrder(asset, side, D(price), D(size))  # type: ignore[arg-type]


def test_worked_example_first_side() -> None:
    # The docs: adjusted midpoint 0.50, max spread 3 cents; 100 bid on m @ 0.49, 200 bid on m @ 0.48 and a 100
    # ask on m' @ 0.51 (a NO ask at 0.51 is a YES bid at 0.49, one cent from the mirrored midpoint).
    # Q_one = ((3-1)/3)²·100 + ((3-2)/3)²·200 + ((3-1)/3)²·100 = 1000/9.
    orders = [order(YES, "BUY", "0.49", "100"), order(YES, "BUY", "0.48", "200"), order(NO, "SELL", "0.51", "100")]
    s = score(orders, YES, D("0.50"), max_spread_price(D(3)), D(0))
    assert s.q_one == D("111.111111")
    assert s.q_two == 0
    # single-sided inside [0.10, 0.90]: a third of it
    assert s.q_min == D("37.037037")
    assert s.qualifying


def test_worked_example_second_side_and_q_min() -> None:
    # The docs' second side: spreads 1.5, 2 and 0.5 cents, sizes 100, 100 and 200, Q_two = 25 + 100/9 + 1250/9
    # = 175. (The docs' list names "bid on m @ 0.485" and "ask on m' @ 0.505" under Q_two, which Equation 3
    # puts on the first side; we follow the equations: asks on m and bids on m'.)
    first = [order(YES, "BUY", "0.49", "100"), order(YES, "BUY", "0.48", "200"), order(NO, "SELL", "0.51", "100")]
    second = [order(YES, "SELL", "0.515", "100"), order(NO, "BUY", "0.48", "100"), order(YES, "SELL", "0.505", "200")]
    s = score(first + second, YES, D("0.50"), max_spread_price(D(3)), D(0))
    assert s.q_two == D("175.000000")
    # steps 4: min(Q_one, Q_two) beats max(Q_one, Q_two)/3 here
    assert s.q_min == D("111.111111")


@pytest.mark.parametrize(("q_one", "q_two", "mid", "expected"), [
    (D(90), D(0), D("0.50"), D(30)),  # single-sided inside the range: Q/c
    (D(90), D(0), D("0.10"), D(30)),  # the range is inclusive
    (D(90), D(0), D("0.90"), D(30)),
    (D(90), D(0), D("0.09"), D(0)),  # outside: two-sided required
    (D(90), D(0), D("0.91"), D(0)),
    (D(90), D(60), D("0.95"), D(60)),  # outside: the smaller side
    (D(90), D(60), D("0.50"), D(60)),  # inside: min beats max/3
    (D(90), D(10), D("0.50"), D(30)),  # inside: max/3 beats min
])
def test_q_min_rule(q_one: Decimal, q_two: Decimal, mid: Decimal, expected: Decimal) -> None:
    assert q_min(q_one, q_two, mid) == expected


@pytest.mark.parametrize(("distance", "size", "expected"), [
    (D("0"), D(50), D(50)),  # at the midpoint: the whole size
    (D("0.015"), D(40), D(10)),  # half the max spread: a quarter
    (D("0.03"), D(50), D(0)),  # at the max spread: nothing
    (D("0.04"), D(50), D(0)),  # beyond it: nothing (not the square of a negative)
    (D("0.01"), D("19.99"), D(0)),  # below the min size: nothing
])
def test_order_score_cutoffs(distance: Decimal, size: Decimal, expected: Decimal) -> None:
    assert order_score(distance, D("0.03"), size, D(20)) == expected


def test_min_size_cuts_our_orders_out() -> None:
    orders = [order(YES, "BUY", "0.49", "19"), order(YES, "SELL", "0.51", "20")]
    s = score(orders, YES, D("0.50"), D("0.03"), D(20))
    assert s.q_one == 0 and s.q_two > 0


def test_outside_the_range_one_side_does_not_qualify() -> None:
    s = score([order(YES, "BUY", "0.04", "100")], YES, D("0.05"), D("0.03"), D(20))
    assert s.q_one > 0 and s.q_min == 0 and not s.qualifying


@pytest.mark.parametrize(("bids", "asks", "min_size", "expected"), [
    # the plain midpoint when the touch is big enough
    ([("0.49", "60")], [("0.51", "60")], "50", D("0.50")),
    # a small best bid is ignored: the next level of the min size counts
    ([("0.49", "10"), ("0.47", "50")], [("0.51", "60")], "50", D("0.49")),
    ([("0.49", "60")], [("0.50", "16"), ("0.51", "49.99"), ("0.55", "50")], "50", D("0.52")),
    # a side with no level of the min size: none
    ([("0.49", "10")], [("0.51", "60")], "50", None),
])
def test_adjusted_midpoint(bids: list[tuple[str, str]], asks: list[tuple[str, str]], min_size: str,
                           expected: Decimal | None) -> None:
    lv = [(D(p), D(s)) for p, s in bids], [(D(p), D(s)) for p, s in asks]
    assert adjusted_midpoint(lv[0], lv[1], D(min_size)) == expected


@pytest.mark.parametrize(("asset", "side", "price", "expected"), [
    (YES, "BUY", "0.40", ("BUY", D("0.40"))),
    (YES, "SELL", "0.60", ("SELL", D("0.60"))),
    (NO, "BUY", "0.40", ("SELL", D("0.60"))),  # a NO bid at q is a YES ask at 1 - q
    (NO, "SELL", "0.45", ("BUY", D("0.55"))),
])
def test_yes_frame(asset: str, side: str, price: str, expected: tuple[str, Decimal]) -> None:
    assert to_yes_frame(asset, side, D(price), YES) == expected  # type: ignore[arg-type]


def test_max_spread_is_given_in_cents() -> None:
    assert max_spread_price(D("3.5")) == D("0.035")
