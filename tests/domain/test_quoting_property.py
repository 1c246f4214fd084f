"""Properties of the SpreadQuoter over generated books, positions, parameters and sequences of updates.

A target never crosses or locks the book (without our own orders) or itself; our YES bid + our NO bid < 1;
prices are on the tick and inside (0, 1); no cap is exceeded (position, notional, what we hold); no two plans
come inside the min interval unless the later one is a pull or our state changed; the bucket is never
exceeded; a live market's target never lapses; the same inputs give the same decisions. The book we check
against is computed here independently of ``quote_pricing``. CI runs these derandomized (tests/conftest.py).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from quote_kit import NO, YES, book, market, mirror

from polybot.domain.quote_inputs import Decision, OurOrder, OurState, QuoteBook, QuoteMarket, QuoteParams
from polybot.domain.quoting import SpreadQuoter

D = Decimal
ONE = D(1)
TICKS = (D("0.01"), D("0.005"), D("0.001"), D("0.0025"), D("0.0001"))


@st.composite
def scenes(draw: Any) -> tuple[QuoteMarket, dict[str, QuoteBook], OurState]:
    """A market, its two mirrored books (ours resting in them) and our state."""
    tick = draw(st.sampled_from(TICKS))
    n = int(ONE / tick)  # prices are k × tick for 0 < k < n
    span = min(n - 1, 60)
    mid = draw(st.integers(2, n - 2))
    bid_ks = sorted(draw(st.sets(st.integers(max(1, mid - span), mid - 1), min_size=1, max_size=5)), reverse=True)
    ask_ks = sorted(draw(st.sets(st.integers(mid, min(n - 1, mid + span)), min_size=1, max_size=5)))
    size = st.integers(1, 50_000).map(lambda c: D(c).scaleb(-2))
    bids = [(k * tick, draw(size)) for k in bid_ks]
    asks = [(k * tick, draw(size)) for k in ask_ks]
    # some of each level may be ours: a YES-frame bid of ours is a YES buy or a NO sell (at 1 - p)
    mine: list[OurOrder] = []
    for i, (p, s) in enumerate(bids + asks):
        part = draw(st.sampled_from((D(0), D(0), s, (s / 2).quantize(D("0.01")))))
        if part > 0:
            is_bid = i < len(bids)
            on_yes = draw(st.booleans())
            asset, side = (YES, "BUY" if is_bid else "SELL") if on_yes else (NO, "SELL" if is_bid else "BUY")
            mine.append(OurOrder(f"o{i}", asset, side, p if on_yes else ONE - p, part))  # type: ignore[arg-type]
    yes = book(YES, bids, asks, tick=str(tick))
    no = mirror(yes)
    if draw(st.booleans()) and len(no.bids) > 1:  # the NO book lags: its best bid not in yet
        no = dataclasses.replace(no, bids=no.bids[1:])
    rewarded = draw(st.booleans())
    mkt = market(str(tick), min_order_size=D(draw(st.integers(1, 20))),
                 # a band narrower than a tick too (half a cent on a cent grid): the band must not lock our quotes
                 rewards_max_spread=D(draw(st.sampled_from((5, 10)) | st.integers(5, 60))).scaleb(-1)
                 if rewarded else None,
                 rewards_min_size=D(draw(st.integers(1, 200))) if rewarded else None)
    held = st.just(D(0)) | st.integers(0, 15_000).map(lambda c: D(c).scaleb(-2))  # flat often: no skew
    state = OurState({YES: draw(held), NO: draw(held)}, tuple(mine), draw(st.integers(0, 3)),
                     D(draw(st.integers(0, 2_000))), False)
    return mkt, {YES: yes, NO: no}, state


quote_params = st.builds(
    QuoteParams,
    half_spread_ticks=st.integers(1, 5),
    order_size=st.integers(1, 300).map(D),
    fair_price=st.sampled_from(("mid", "micro")),
    max_position=st.integers(10, 300).map(D),
    max_notional_usdc=st.integers(0, 2_000).map(D),
    skew_ticks_at_cap=st.integers(0, 6),
    rewards=st.booleans(),
    min_requote_interval_ms=st.integers(0, 1_000),
    move_fair_ticks=st.integers(0, 3),
    move_touch_ticks=st.integers(0, 3),
    bucket_capacity=st.integers(1, 5),
    bucket_refill=st.integers(1, 3),
)


def others_touch(books: dict[str, QuoteBook], ours: OurState) -> tuple[Decimal, Decimal]:
    """The best bid and ask in the YES frame of everyone but us (a second implementation)."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for p, s in books[YES].bids:
        bids[p] = max(bids.get(p, D(0)), s)
    for p, s in books[NO].asks:
        bids[ONE - p] = max(bids.get(ONE - p, D(0)), s)
    for p, s in books[YES].asks:
        asks[p] = max(asks.get(p, D(0)), s)
    for p, s in books[NO].bids:
        asks[ONE - p] = max(asks.get(ONE - p, D(0)), s)
    for o in ours.open_orders:
        is_bid = (o.side == "BUY") == (o.asset_id == YES)
        price = o.price if o.asset_id == YES else ONE - o.price
        side = bids if is_bid else asks
        if price in side:
            side[price] -= o.size
    return (max(p for p, s in bids.items() if s > 0), min(p for p, s in asks.items() if s > 0))


def check_target(d: Decision, mkt: QuoteMarket, books: dict[str, QuoteBook], ours: OurState,
                 params: QuoteParams) -> None:
    tick = mkt.tick_size
    best_bid, best_ask = others_touch(books, ours)
    frame_bids, frame_asks, buys = [], [], {YES: D(0), NO: D(0)}
    for o in d.orders:
        assert 0 < o.price < 1 and o.price % tick == 0, o
        assert o.size >= mkt.min_order_size and o.size > 0
        is_bid = (o.side == "BUY") == (o.asset_id == YES)
        (frame_bids if is_bid else frame_asks).append(o.price if o.asset_id == YES else ONE - o.price)
        if o.side == "BUY":
            buys[o.asset_id] += o.size
        else:
            assert o.size <= ours.positions.get(o.asset_id, D(0)), "never sell what we do not hold"
    assert all(b < best_ask for b in frame_bids), "a bid at or above the best ask crosses or locks the book"
    assert all(a > best_bid for a in frame_asks), "an ask at or below the best bid crosses or locks the book"
    assert not frame_bids or not frame_asks or max(frame_bids) < min(frame_asks), "our quotes cross each other"
    yes_buys = [o.price for o in d.orders if o.asset_id == YES and o.side == "BUY"]
    no_buys = [o.price for o in d.orders if o.asset_id == NO and o.side == "BUY"]
    assert all(p + q < 1 for p in yes_buys for q in no_buys), "our YES bid + our NO bid must stay under 1"
    for token, size in buys.items():
        if size:
            assert ours.positions.get(token, D(0)) + size <= params.max_position, "position cap"
    resting = sum((o.price * o.size for o in ours.open_orders if o.side == "BUY"), D(0))
    room = params.max_notional_usdc - (ours.notional_usdc - resting)
    assert sum((o.price * o.size for o in d.orders if o.side == "BUY"), D(0)) <= max(room, D(0)), "notional cap"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scene=scenes(), params=quote_params)
def test_a_target_is_always_sound(scene: tuple[QuoteMarket, dict[str, QuoteBook], OurState],
                                  params: QuoteParams) -> None:
    mkt, books, ours = scene
    d = SpreadQuoter(params).decide(mkt, books, ours, 0)
    event(f"{d.action}:{d.reason}:{len(d.orders)} orders")
    if d.action == "quote":
        check_target(d, mkt, books, ours, params)
    else:
        assert (d.action, d.orders) == ("pull", ())
    # same inputs, same decision
    assert SpreadQuoter(params).decide(mkt, books, ours, 0) == d


Step = tuple[int, Any, bool, int, bool, bool]

steps = st.lists(st.tuples(
    # ms since the previous decision: bursts, and never past refresh_before_ttl_ms, so nothing need lapse
    st.one_of(st.integers(0, 60), st.integers(0, 900)),
    scenes(),
    st.integers(0, 3).map(lambda k: k == 0),  # a new version (a fill or a cancel)
    st.integers(0, 4),  # 0: the notional changes
    st.integers(0, 19).map(lambda k: k == 0),  # the book goes stale
    st.integers(0, 9).map(lambda k: k < 7),  # nothing moved: the previous step's books and orders
), min_size=2, max_size=30)


def run(params: QuoteParams, script: list[Step]) -> list[tuple[int, Decision, OurState, bool]]:
    q = SpreadQuoter(params)
    now, version, notional = 10_000, 0, D(0)
    out = []
    base_mkt, base_books, base_ours = script[0][1]
    books, ours = base_books, base_ours
    for dt, scene, bump, change_notional, stale, same in script:
        mkt, new_books, new_ours = scene
        if not same and mkt.tick_size == base_mkt.tick_size:  # the same market throughout, books moving under it
            books, ours = new_books, dataclasses.replace(new_ours, notional_usdc=ours.notional_usdc)
        now += dt
        version += 1 if bump else 0
        notional = new_ours.notional_usdc if change_notional == 0 else notional
        shown = books
        if stale:
            shown = {**books, YES: dataclasses.replace(books[YES], age_ms=params.stale_after_ms + 1)}
        state = dataclasses.replace(ours, version=version, notional_usdc=notional)
        d = q.decide(base_mkt, shown, state, now)
        out.append((now, d, state, not stale))
        event(f"{d.action}:{d.reason}")
        if d.action == "quote":
            check_target(d, base_mkt, shown, state, params)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=quote_params, script=steps)
def test_sequences_respect_the_interval_the_bucket_and_the_ttl(params: QuoteParams, script: list[Step]) -> None:
    out = run(params, script)
    plans = [(t, d, s) for t, d, s, _ in out if d.action != "hold"]
    # no two plans inside the min interval unless the later is a pull or our state changed
    for (t1, _, s1), (t2, d2, s2) in pairwise(plans):
        if t2 - t1 < params.min_requote_interval_ms:
            assert d2.action == "pull" or (s1.version, s1.notional_usdc) != (s2.version, s2.notional_usdc)
    # the bucket: never more quotes in a window than it can grant
    quotes = [t for t, d, _ in plans if d.action == "quote"]
    for i, start in enumerate(quotes):
        for j in range(i, len(quotes)):
            grant = params.bucket_capacity + params.bucket_refill * (quotes[j] - start) // params.bucket_period_ms
            assert j - i + 1 <= grant
    # a live target never lapses: a quote's successor comes before its TTL ends, unless the market went bad
    last_quote: int | None = None
    for t, d, _, fresh in out:
        if d.action == "pull":
            last_quote = None
        if last_quote is not None and fresh:
            assert d.action == "quote" or t < last_quote + params.plan_ttl_ms, "the target in force expired"
        if d.action == "quote":
            last_quote = t
    # the same inputs give the same decisions
    assert [d for _, d, _, _ in run(params, script)] == [d for _, d, _, _ in out]
