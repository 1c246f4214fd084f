"""Where the quoter's orders go and how big they are: placement (sell what we hold, else buy the complement),
skew, inventory shrink, position and notional caps, ticks, post-only, our own orders left out of the touch,
the fair price, and the rewards band and min size (tables)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from quote_kit import NO, YES, market, ours, pair

from polybot.domain.quote_inputs import OurOrder, OurState, QuoteBook, QuoteMarket, QuoteParams, TargetOrder
from polybot.domain.quoting import SpreadQuoter

D = Decimal
BASE = pair([("0.45", "100")], [("0.55", "100")])  # fair 0.50


def buy(asset: str, price: str, size: str | int) -> TargetOrder:
    return TargetOrder(asset, "BUY", D(price), D(size))


def sell(asset: str, price: str, size: str | int) -> TargetOrder:
    return TargetOrder(asset, "SELL", D(price), D(size))


def orders(books: dict[str, QuoteBook] = BASE, state: OurState | None = None, mkt: QuoteMarket | None = None,
           **params: Any) -> tuple[TargetOrder, ...]:
    d = SpreadQuoter(QuoteParams(**params)).decide(mkt or market(), books, state or ours(), 0)
    assert d.action == "quote", d
    return d.orders


@pytest.mark.parametrize(("state", "expected"), [
    # flat: buy both tokens (a maker sells YES by buying NO: the NO bid at 1 - 0.52)
    (ours(), (buy(YES, "0.48", 10), buy(NO, "0.48", 10))),
    # long 40 YES: the centre skews 0.8 tick down (0.492); the ask sells YES, first; the bid shrinks to 60 %
    (ours(yes=40), (sell(YES, "0.52", 10), buy(YES, "0.47", 6))),
    # long 40 NO: the mirror image; the bid sells NO at 1 - 0.48
    (ours(no=40), (sell(NO, "0.52", 10), buy(NO, "0.47", 6))),
    # long 60 YES: a buy of 4 is under the min order size (5): dropped
    (ours(yes=60), (sell(YES, "0.51", 10),)),
    # at the cap: the centre sits two ticks down, nothing grows the position
    (ours(yes=100), (sell(YES, "0.50", 10),)),
    # above the cap (a fill raced the plan): still only the sell
    (ours(yes=130), (sell(YES, "0.50", 10),)),
    # what we hold is less than the order size: sell all of it (the skew, 0.14 tick, takes the bid to 0.47)
    (ours(yes=7), (sell(YES, "0.52", 7), buy(YES, "0.47", "9.3"))),
    # less than the min order size cannot be sold: buy the complement instead, first (it unwinds the 3)
    (ours(yes=3), (buy(NO, "0.48", 10), buy(YES, "0.47", "9.7"))),
    # holding both: sell both
    (ours(yes=20, no=20), (sell(NO, "0.52", 10), sell(YES, "0.52", 10))),
])
def test_placement_skew_and_shrink(state: OurState, expected: tuple[TargetOrder, ...]) -> None:
    assert orders(state=state) == expected


@pytest.mark.parametrize(("held", "size"), [(0, "10"), (25, "7.5"), (50, "5"), (75, None), (100, None)])
def test_the_growing_side_shrinks_linearly_to_zero_at_the_cap(held: int, size: str | None) -> None:
    got = [o.size for o in orders(state=ours(yes=held), skew_ticks_at_cap=0) if o.side == "BUY" and o.asset_id == YES]
    assert got == ([] if size is None else [D(size)])


@pytest.mark.parametrize(("order_size", "max_position", "held", "size"), [
    ("50", "60", 30, "25"),  # 50 × 30/60
    ("50", "60", 50, "8.33"),  # rounded down to the venue's share step
    ("200", "100", 0, "100"),  # never more than the room under the cap
    ("200", "100", 90, "10"),
])
def test_position_cap(order_size: str, max_position: str, held: int, size: str) -> None:
    got = orders(state=ours(no=held), order_size=D(order_size), max_position=D(max_position), skew_ticks_at_cap=0)
    assert [o.size for o in got if o.side == "BUY" and o.asset_id == NO] == [D(size)]
    assert all(o.size + held <= D(max_position) for o in got if o.side == "BUY" and o.asset_id == NO)


@pytest.mark.parametrize(("notional", "resting", "expected"), [
    ("0", [], (buy(YES, "0.48", 10), buy(NO, "0.48", 10))),  # 9.60 of buys under a cap of 10
    # 6 committed elsewhere leaves 4: the first buy takes it (8.33 × 0.48), the second is dropped
    ("6", [], (buy(YES, "0.48", "8.33"),)),
    # our own resting buys here (2 × 4.80) are replaced by the target, so they do not count against it
    ("9.6", [OurOrder("a", YES, "BUY", D("0.48"), D(10)), OurOrder("b", NO, "BUY", D("0.48"), D(10))],
     (buy(YES, "0.48", 10), buy(NO, "0.48", 10))),
    # over the cap already: no buys at all, and nothing to sell (see test_quoting: inventory_cap)
])
def test_notional_cap(notional: str, resting: list[OurOrder], expected: tuple[TargetOrder, ...]) -> None:
    state = OurState({}, tuple(resting), 0, D(notional))
    got = orders(state=state, max_notional_usdc=D(10))
    assert got == expected
    assert sum(o.price * o.size for o in got) <= 10 - (D(notional) - sum(o.price * o.size for o in resting))


def test_sells_do_not_use_notional() -> None:
    assert orders(state=ours(yes=50, no=50, notional=1000)) == (sell(NO, "0.52", 10), sell(YES, "0.52", 10))


@pytest.mark.parametrize(("tick", "bids", "asks", "bid", "ask"), [
    ("0.01", "0.40", "0.60", "0.48", "0.52"),
    ("0.005", "0.40", "0.60", "0.490", "0.510"),
    ("0.001", "0.40", "0.60", "0.498", "0.502"),
    ("0.0025", "0.40", "0.60", "0.4950", "0.5050"),
    ("0.0001", "0.40", "0.60", "0.4998", "0.5002"),
    # fair 0.50375 on a 0.0025 grid: 0.49875 rounds down to 0.4975, 0.50875 up to 0.5100 (199.5 and 203.5 ticks)
    ("0.0025", "0.4000", "0.6075", "0.4975", "0.5100"),
    # fair 0.5025 on a 0.005 grid: 0.4925 → 0.490, 0.5125 → 0.515
    ("0.005", "0.400", "0.605", "0.490", "0.515"),
])
def test_prices_are_multiples_of_any_tick(tick: str, bids: str, asks: str, bid: str, ask: str) -> None:
    books = pair([(bids, "100")], [(asks, "100")], tick=tick)
    got = orders(books, mkt=market(tick))
    assert got == (buy(YES, bid, 10), buy(NO, str(1 - D(ask)), 10))
    assert all(o.price % D(tick) == 0 and 0 < o.price < 1 for o in got)


def test_a_side_outside_the_price_range_is_dropped() -> None:
    # fair 0.02: the bid would be 0.00, so only the ask (a NO bid at 0.96) is quoted
    assert orders(pair([("0.01", "100")], [("0.03", "100")])) == (buy(NO, "0.96", 10),)
    assert orders(pair([("0.97", "100")], [("0.99", "100")])) == (buy(YES, "0.96", 10),)


def test_the_fair_price_is_clamped_to_the_tick() -> None:
    # levels finer than the market's tick (a book that never said its tick): fair 0.0015 → 0.01
    books = pair([("0.001", "100")], [("0.002", "100")], tick="0.001")
    books = {k: b.__class__(b.asset_id, b.state, b.bids, b.asks, None, b.age_ms) for k, b in books.items()}
    d = SpreadQuoter().decide(market(), books, ours(), 0)
    assert d.fair == D("0.01")
    assert d.orders == (buy(NO, "0.97", 10),)


def test_microprice() -> None:
    # 300 bid at 0.45, 100 ask at 0.55: the fair leans to the thin ask, (0.45·100 + 0.55·300) / 400 = 0.525
    books = pair([("0.45", "300")], [("0.55", "100")])
    d = SpreadQuoter(QuoteParams(fair_price="micro")).decide(market(), books, ours(), 0)
    assert d.fair == D("0.525")
    assert d.orders == (buy(YES, "0.50", 10), buy(NO, "0.45", 10))
    assert SpreadQuoter().decide(market(), books, ours(), 0).fair == D("0.50")


@pytest.mark.parametrize(("state", "expected"), [
    # long at the cap, one-tick book 0.49/0.50: the skewed ask (0.49) would lock the best bid: 0.50
    (ours(yes=100), (sell(YES, "0.50", 10),)),
    # short: the skewed bid (0.50) would lock the best ask: 0.49 (a NO sell at 0.51)
    (ours(no=100), (sell(NO, "0.51", 10),)),
])
def test_post_only_never_locks(state: OurState, expected: tuple[TargetOrder, ...]) -> None:
    assert orders(pair([("0.49", "100")], [("0.50", "100")]), state=state, half_spread_ticks=1) == expected


def test_the_no_book_is_part_of_the_touch() -> None:
    # the NO book shows a bid at 0.47 (a YES ask at 0.53) the YES book has not shown yet: the ask respects it
    books = {**BASE, NO: pair([("0.45", "100")], [("0.53", "100")])[NO]}
    got = orders(books, half_spread_ticks=5)  # would ask 0.55 without the NO book; fair (0.45+0.53)/2 = 0.49
    assert got == (buy(YES, "0.44", 10), buy(NO, "0.46", 10))
    # and a NO ask at 0.53 (a YES bid at 0.47) ahead of the YES book's 0.45: fair (0.47+0.55)/2 = 0.51
    books = {**BASE, NO: pair([("0.47", "100")], [("0.55", "100")])[NO]}
    assert orders(books, half_spread_ticks=5) == (buy(YES, "0.46", 10), buy(NO, "0.44", 10))


def test_our_own_orders_are_not_the_book_we_quote_around() -> None:
    # the book shows our bid at 0.48 above the crowd's 0.45: the fair is still the crowd's 0.50, not 0.515
    books = pair([("0.45", "100"), ("0.48", "10")], [("0.55", "100")])
    mine = [OurOrder("a", YES, "BUY", D("0.48"), D(10))]
    d = SpreadQuoter().decide(market(), books, ours(orders=mine), 0)
    assert d.fair == D("0.50")
    # part of a level that is not ours stays in the touch
    books = pair([("0.45", "100"), ("0.48", "30")], [("0.55", "100")])
    assert SpreadQuoter().decide(market(), books, ours(orders=mine), 0).fair == D("0.515")


def test_our_no_orders_are_left_out_in_both_books() -> None:
    # our NO bid at 0.47 is a YES ask at 0.53 in the YES book and a NO bid in the NO book: the crowd's ask is 0.55
    books = pair([("0.45", "100")], [("0.53", "10"), ("0.55", "100")])
    mine = [OurOrder("a", NO, "BUY", D("0.47"), D(10))]
    assert SpreadQuoter().decide(market(), books, ours(orders=mine), 0).fair == D("0.50")


# --- rewards -------------------------------------------------------------------------------------------------

REWARDED = market(rewards_max_spread=D("3.5"), rewards_min_size=D(50))


def test_rewarded_market_quotes_the_min_size_inside_the_band() -> None:
    d = SpreadQuoter().decide(REWARDED, BASE, ours(), 0)
    assert d.orders == (buy(YES, "0.48", 50), buy(NO, "0.48", 50))
    assert d.score is not None
    # ((0.035 - 0.02) / 0.035)² × 50 on each side, both sides in full
    assert (d.score.midpoint, d.score.q_one, d.score.q_two, d.score.q_min) == (
        D("0.50"), D("9.183673"), D("9.183673"), D("9.183673"))
    assert d.score.qualifying


def test_a_wide_spread_moves_in_to_the_band() -> None:
    # half spread 5 ticks would quote 0.45/0.55, outside 0.50 ± 0.035: moved in to the first ticks inside
    assert orders(BASE, mkt=REWARDED, half_spread_ticks=5) == (buy(YES, "0.47", 50), buy(NO, "0.47", 50))
    assert orders(BASE, mkt=REWARDED, half_spread_ticks=5, rewards=False) == (buy(YES, "0.45", 10), buy(NO, "0.45", 10))


def test_the_band_never_pulls_a_quote_past_the_centre() -> None:
    # the size-cutoff-adjusted midpoint is (0.40 + 0.51) / 2 = 0.455 (the 0.49 bid is under 50): its band ends
    # at 0.49, below our centre 0.50, so the ask stays at 0.52 rather than cross to the other side of the fair
    books = pair([("0.49", "10"), ("0.40", "100")], [("0.51", "100")])
    d = SpreadQuoter().decide(REWARDED, books, ours(), 0)
    assert d.orders == (buy(YES, "0.48", 50), buy(NO, "0.48", 50))
    assert d.score is not None
    # scored around the midpoint with our 50 at 0.48 in the book: (0.48 + 0.51) / 2
    assert d.score.midpoint == D("0.495")


def test_a_band_narrower_than_a_tick_is_dropped_rather_than_lock_our_quotes() -> None:
    # 0.50 ± 0.005 on a cent grid: the only price inside is 0.50 itself, for both sides; quote as without a band
    narrow = market(rewards_max_spread=D("0.5"), rewards_min_size=D(50))
    assert orders(BASE, mkt=narrow) == (buy(YES, "0.48", 50), buy(NO, "0.48", 50))


def test_rewards_off_still_reports_the_score() -> None:
    d = SpreadQuoter(QuoteParams(rewards=False)).decide(REWARDED, BASE, ours(), 0)
    assert d.orders == (buy(YES, "0.48", 10), buy(NO, "0.48", 10))
    assert d.score is not None and d.score.q_min == 0  # 10 is under the min size of 50


def test_risk_comes_before_the_min_size() -> None:
    # long 40 YES: sell the 40 we have and buy 50 × 60 % = 30; neither reaches 50, neither scores
    d = SpreadQuoter().decide(REWARDED, BASE, ours(yes=40), 0)
    assert d.orders == (sell(YES, "0.52", 40), buy(YES, "0.47", 30))
    assert d.score is not None and not d.score.qualifying


def test_score_only_where_rewards_are_paid() -> None:
    q = SpreadQuoter()
    assert q.decide(market(), BASE, ours(), 0).score is None
    assert q.decide(market(rewards_max_spread=D("3.5")), BASE, ours(), 0).score is None  # half the terms


def test_hold_reports_the_score_of_what_rests() -> None:
    q = SpreadQuoter()
    quoted = q.decide(REWARDED, BASE, ours(), 0)
    held = q.decide(REWARDED, BASE, ours(), 100)
    assert held.action == "hold" and held.score == quoted.score
    pulled = q.decide(REWARDED, BASE, ours(kill=True), 200)
    assert pulled.action == "pull" and pulled.score is None


def test_outside_0_10_to_0_90_one_side_scores_nothing() -> None:
    # midpoint 0.05, and at the cap we only sell (50 YES at 0.05): single-sided there scores nothing
    books = pair([("0.04", "100")], [("0.06", "100")])
    d = SpreadQuoter().decide(REWARDED, books, ours(yes=100), 0)
    assert d.orders == (sell(YES, "0.05", 50),)
    assert d.score is not None and d.score.q_two > 0 and d.score.q_min == 0
