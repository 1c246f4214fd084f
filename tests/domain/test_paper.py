"""Paper matching against venue books and trades: queue position, never better than the touch."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from polybot.domain.paper import PaperVenue

D = Decimal
BIDS = ((D("0.45"), D(100)), (D("0.44"), D(50)))
ASKS = ((D("0.47"), D(80)), (D("0.48"), D(40)))


def test_a_post_only_order_that_would_cross_is_refused_and_nothing_rests() -> None:
    v = PaperVenue()
    a = v.place("o1", "yes", "BUY", D("0.47"), D(10), bids=BIDS, asks=ASKS, now_ms=0)
    assert not a.accepted and "crosses book" in (a.error or "") and not v.orders


def test_a_taker_walks_the_levels_at_their_prices_never_past_its_limit() -> None:
    v = PaperVenue()
    a = v.place("o1", "yes", "BUY", D("0.48"), D(100), bids=BIDS, asks=ASKS, now_ms=0, post_only=False,
                order_type="FAK")
    assert [(f.price, f.size, f.maker) for f in a.fills] == [(D("0.47"), D(80), False), (D("0.48"), D(20), False)]
    assert not a.resting
    fok = v.place("o2", "yes", "BUY", D("0.47"), D(100), bids=BIDS, asks=ASKS, now_ms=0, post_only=False,
                  order_type="FOK")
    assert not fok.accepted and not fok.fills


def test_trades_take_the_queue_ahead_first_then_fill_us_at_our_price() -> None:
    v = PaperVenue()
    assert v.place("o1", "yes", "BUY", D("0.45"), D(10), bids=BIDS, asks=ASKS, now_ms=0).resting
    assert v.orders["o1"].queue_ahead == D(100)  # we joined the back of the 0.45 level
    assert v.on_trade("yes", D("0.45"), D(60), 1) == []
    assert v.orders["o1"].queue_ahead == D(40)
    fills = v.on_trade("yes", D("0.45"), D(45), 2)
    assert [(f.price, f.size, f.maker) for f in fills] == [(D("0.45"), D(5), True)]
    fills = v.on_trade("yes", D("0.45"), D(50), 3)
    assert [f.size for f in fills] == [D(5)] and "o1" not in v.orders


def test_cancels_in_the_level_move_us_up_in_proportion() -> None:
    v = PaperVenue()
    v.place("o1", "yes", "BUY", D("0.45"), D(10), bids=BIDS, asks=ASKS, now_ms=0)
    v.on_book("yes", ((D("0.45"), D(50)), (D("0.44"), D(50))), ASKS, 1)  # half the level was cancelled
    assert v.orders["o1"].queue_ahead == D(50)
    # a trade we saw is not counted twice when the book then shows the level smaller
    v.on_trade("yes", D("0.45"), D(20), 2)
    v.on_book("yes", ((D("0.45"), D(30)),), ASKS, 3)
    assert v.orders["o1"].queue_ahead == D(30)


def test_the_other_side_reaching_our_price_fills_us_at_our_price() -> None:
    v = PaperVenue()
    v.place("o1", "yes", "SELL", D("0.47"), D(30), bids=BIDS, asks=ASKS, now_ms=0)
    fills = v.on_book("yes", ((D("0.48"), D(12)), (D("0.47"), D(5))), ((D("0.49"), D(10)),), 1)
    assert [(f.price, f.size) for f in fills] == [(D("0.47"), D(17))]
    assert v.orders["o1"].remaining == D(13)
    assert v.cancel("o1") and not v.cancel("o1")


_price = st.integers(30, 70).map(lambda c: D(c) / 100)
_size = st.integers(1, 60).map(D)
_events = st.lists(st.one_of(
    st.tuples(st.just("trade"), _price, _size),
    st.tuples(st.just("book"), _price, _size),  # a new best ask at price with size (bids unchanged)
), max_size=25)


@given(st.sampled_from(["BUY", "SELL"]), _price, _size, _events)
def test_never_better_than_our_price_and_never_more_than_the_order(side: str, price: Decimal, size: Decimal,
                                                                    events: list[tuple[str, Decimal, Decimal]]) -> None:
    v = PaperVenue()
    bids, asks = ((D("0.29"), D(10)),), ((D("0.71"), D(10)),)
    a = v.place("o", "yes", side, price, size, bids=bids, asks=asks, now_ms=0)  # type: ignore[arg-type]
    assert a.accepted and a.resting
    filled = D(0)
    for t, (kind, p, s) in enumerate(events, 1):
        if kind == "trade":
            fills = v.on_trade("yes", p, s, t)
        elif side == "BUY":
            fills = v.on_book("yes", bids, ((p, s),), t)
        else:
            fills = v.on_book("yes", ((p, s),), asks, t)
        for f in fills:
            assert f.maker and f.price == price  # a maker fills at its own limit, never better
            assert (p <= price) if side == "BUY" and kind == "book" else True
            assert (p >= price) if side == "SELL" and kind == "book" else True
            filled += f.size
    assert filled <= size
    assert filled + (v.orders["o"].remaining if "o" in v.orders else D(0)) == size
