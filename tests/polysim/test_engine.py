"""The matching engine without a server: priority, complements, balances, order types, lifecycle."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

import pytest

from polybot.domain.book_hash import HashInput, book_hash
from polysim.catalog import SimMarket
from polysim.config import SimConfig
from polysim.context import build_context
from polysim.crowd import change_levels
from polysim.engine import (
    FAK_UNMATCHED,
    FOK_UNFILLED,
    MARKET_CLOSED,
    NOT_ENOUGH_BALANCE,
    POST_ONLY_CROSSES,
    Engine,
)
from polysim.exchange_api import NewOrder, OrderEvent, OrderType, Side, TradeEvent
from polysim.market_admin import patch_market
from polysim.units import ONE, PRICE_TEXT, size_text

T0 = 1_700_000_000_000
_ids = count(1)


def quiet_engine(**overrides: object) -> Engine:
    """An engine whose crowd never moves (only the orders a test sends change the books)."""
    cfg = SimConfig(seed=11, n_markets=4, lp_rate_hz=0, taker_rate_hz=0, jump_rate_hz=0, start_ms=T0,
                    mined_delay_ms=1000, confirmed_delay_ms=3000, **overrides)  # type: ignore[arg-type]
    return build_context(cfg).engine


def cent_market(engine: Engine) -> SimMarket:
    """A 0.01-tick market whose crowd has pulled its two best levels on each side (room inside the spread)."""
    m = next(m for m in engine.catalog.markets if m.tick_units == 100)
    book = engine.book(m.condition_id)
    pulls = [(is_bid, price, -book.side(is_bid).size_at(price))
             for is_bid in (True, False) for price in book.side(is_bid).best_first()[:2]]
    change_levels(engine, m, pulls, T0)
    return m


def order(owner: str, asset: str, side: Side, price: str, size: str, kind: OrderType = "GTC",
          post_only: bool = False, expiration_s: int = 0) -> NewOrder:
    return NewOrder(f"0x{next(_ids):064x}", owner, "0x" + "22" * 20, asset, side, Decimal(price), Decimal(size),
                    kind, post_only, expiration_s)


def touch(engine: Engine, asset: str) -> tuple[int, int]:
    found = engine.token_book(asset)
    assert found is not None
    bid, ask = found[0].best(found[1])
    assert bid is not None and ask is not None
    return bid, ask


def p(units: int) -> str:
    return PRICE_TEXT[units]


def test_complement_book_is_the_mirror_image() -> None:
    engine = quiet_engine()
    for m in engine.catalog.markets:
        book = engine.book(m.condition_id)
        yes_bids, yes_asks = book.wire_levels(0)
        no_bids, no_asks = book.wire_levels(1)
        assert [(ONE - pr, s) for pr, s in yes_asks] == no_bids
        assert [(ONE - pr, s) for pr, s in yes_bids] == no_asks
        assert [pr for pr, _ in yes_bids] == sorted(pr for pr, _ in yes_bids)  # worst → best
        assert [pr for pr, _ in yes_asks] == sorted((pr for pr, _ in yes_asks), reverse=True)


def test_book_hash_is_f10_of_the_rest_payload() -> None:
    engine = quiet_engine()
    m = cent_market(engine)
    book = engine.book(m.condition_id)
    for ti in (0, 1):
        bids, asks = book.wire_levels(ti)
        inp = HashInput(m.condition_id, m.token_ids[ti], "123", [(p(a), size_text(b)) for a, b in bids],
                        [(p(a), size_text(b)) for a, b in asks], "5", "0.01", m.neg_risk, "")
        assert book.hash(ti, "123") == book_hash(inp)


def test_price_time_priority_within_a_level() -> None:
    engine = quiet_engine()
    m = cent_market(engine)
    yes = m.token_ids[0]
    bid, ask = touch(engine, yes)
    assert ask - bid >= 200, "the seeded crowd leaves room inside the spread"
    first, second = order("a", yes, "BUY", p(bid + 100), "10"), order("b", yes, "BUY", p(bid + 100), "10")
    assert engine.place(first, T0).status == "LIVE"
    assert engine.place(second, T0 + 1).status == "LIVE"
    assert engine.sim_take(m, 0, "SELL", bid + 100, 10_000_000, T0 + 2) == 10_000_000
    assert engine.order("a", first.order_id).status == "MATCHED"  # type: ignore[union-attr]
    assert engine.order("b", second.order_id).size_matched == 0  # type: ignore[union-attr]
    assert engine.sim_take(m, 0, "SELL", bid + 100, 4_000_000, T0 + 3) == 4_000_000
    assert engine.order("b", second.order_id).size_matched == Decimal(4)  # type: ignore[union-attr]


def test_yes_buyer_and_no_buyer_match_each_other_mint() -> None:
    engine = quiet_engine()
    m = cent_market(engine)
    yes, no = m.token_ids
    bid, _ = touch(engine, yes)
    price = bid + 100  # inside the spread: only the two accounts meet
    assert engine.place(order("maker", yes, "BUY", p(price), "10"), T0).ok
    result = engine.place(order("taker", no, "BUY", p(ONE - price), "10", "FOK"), T0 + 5)
    assert result.ok and result.status == "MATCHED"
    assert result.making_amount == Decimal(10) * Decimal(p(ONE - price))  # USDC paid
    assert result.taking_amount == Decimal(10)
    assert engine.balance("maker") == Decimal(10000) - 10 * Decimal(p(price))
    assert engine.balance("maker", yes) == 10
    assert engine.balance("taker") == Decimal(10000) - 10 * Decimal(p(ONE - price))
    assert engine.balance("taker", no) == 10
    trades = engine.trades("maker")
    assert len(trades) == 1 and trades == engine.trades("taker")
    t = trades[0]
    assert (t.asset_id, t.side, t.price, t.size) == (no, "BUY", Decimal(p(ONE - price)), Decimal(10))
    fills = [(f.owner, f.asset_id, f.side, f.price) for f in t.maker_orders]
    assert fills == [("maker", yes, "BUY", Decimal(p(price)))]


def test_yes_seller_and_no_seller_match_each_other_merge() -> None:
    engine = quiet_engine(starting_shares=Decimal(50))
    m = cent_market(engine)
    yes, no = m.token_ids
    _, ask = touch(engine, yes)
    price = ask - 100
    assert engine.place(order("maker", yes, "SELL", p(price), "20"), T0).status == "LIVE"
    assert engine.place(order("taker", no, "SELL", p(ONE - price), "20", "FAK"), T0 + 1).status == "MATCHED"
    assert engine.balance("maker") == Decimal(10000) + 20 * Decimal(p(price))
    assert engine.balance("taker") == Decimal(10000) + 20 * Decimal(p(ONE - price))
    assert engine.balance("maker", yes) == engine.balance("taker", no) == 30


def test_balance_and_position_limits_count_open_orders() -> None:
    engine = quiet_engine(starting_balance=Decimal(100))
    m = cent_market(engine)
    yes = m.token_ids[0]
    bid, _ = touch(engine, yes)
    size = str(int(Decimal(80) / Decimal(p(bid))))
    assert engine.place(order("a", yes, "BUY", p(bid), size), T0).ok  # sets aside about 80 of the 100
    big = engine.place(order("a", yes, "BUY", p(bid), size), T0)
    assert (big.ok, big.error) == (False, NOT_ENOUGH_BALANCE)
    no_shares = engine.place(order("a", yes, "SELL", "0.99", "5"), T0)
    assert no_shares.error == NOT_ENOUGH_BALANCE
    engine.fund("a", positions={yes: Decimal(7)})
    assert engine.place(order("a", yes, "SELL", "0.99", "5"), T0).ok
    assert engine.place(order("a", yes, "SELL", "0.99", "5"), T0).error == NOT_ENOUGH_BALANCE  # 2 left free


def test_post_only_refused_when_crossing() -> None:
    engine = quiet_engine()
    yes = cent_market(engine).token_ids[0]
    bid, ask = touch(engine, yes)
    crossing = engine.place(order("a", yes, "BUY", p(ask), "5", post_only=True), T0)
    assert (crossing.ok, crossing.error) == (False, POST_ONLY_CROSSES)
    assert engine.place(order("a", yes, "BUY", p(bid), "5", post_only=True), T0).status == "LIVE"


def test_fok_is_all_or_nothing_and_fak_keeps_no_remainder() -> None:
    engine = quiet_engine()
    m = cent_market(engine)
    yes = m.token_ids[0]
    bid, ask = touch(engine, yes)
    book = engine.book(m.condition_id)
    at_ask = book.asks.size_at(ask)
    before = engine.book(m.condition_id).hash(0, "1")
    fok = engine.place(order("a", yes, "BUY", p(ask), size_text(at_ask + 1_000_000), "FOK"), T0)
    assert (fok.ok, fok.error) == (False, FOK_UNFILLED)
    assert book.hash(0, "1") == before and engine.balance("a") == 10000
    fak_miss = engine.place(order("a", yes, "BUY", p(bid), "5", "FAK"), T0)
    assert fak_miss.error == FAK_UNMATCHED
    fak = engine.place(order("a", yes, "BUY", p(ask), size_text(at_ask + 1_000_000), "FAK"), T0)
    assert fak.ok and fak.taking_amount == Decimal(size_text(at_ask))
    assert engine.orders("a") == []  # the unfilled share was dropped, not rested
    assert book.asks.best() != ask


def test_marketable_gtc_fills_then_rests_the_remainder() -> None:
    engine = quiet_engine()
    m = cent_market(engine)
    yes = m.token_ids[0]
    _, ask = touch(engine, yes)
    at_ask = engine.book(m.condition_id).asks.size_at(ask)
    res = engine.place(order("a", yes, "BUY", p(ask), size_text(at_ask + 3_000_000)), T0)
    assert res.status == "MATCHED" and res.taking_amount == Decimal(size_text(at_ask))
    [live] = engine.orders("a")
    assert (live.size_matched, live.original_size - live.size_matched) == (Decimal(size_text(at_ask)), 3)
    assert touch(engine, yes)[0] == ask  # the rest is now the best bid


def test_gtd_expires_and_releases_its_reservation() -> None:
    engine = quiet_engine()
    yes = cent_market(engine).token_ids[0]
    bid, _ = touch(engine, yes)
    events: list[OrderEvent] = []
    engine.subscribe(events.append, lambda _e: None)
    o = order("a", yes, "BUY", p(bid), "100", "GTD", expiration_s=T0 // 1000 + 60)
    assert engine.place(o, T0).ok
    engine.step(T0 + 59_000)
    assert engine.orders("a")
    engine.step(T0 + 60_000)
    assert engine.orders("a") == []
    assert [e.kind for e in events] == ["PLACEMENT", "CANCELLATION"]
    assert engine.accounts["a"].usdc_reserved == 0


def test_cancel_and_cancel_all() -> None:
    engine = quiet_engine()
    markets = [m for m in engine.catalog.markets][:2]
    placed = []
    for m in markets:
        bid, _ = touch(engine, m.token_ids[0])
        o = order("a", m.token_ids[0], "BUY", p(bid), "5")
        assert engine.place(o, T0).ok
        placed.append(o.order_id)
    canceled, failed = engine.cancel("a", [placed[0], "0xnope"], T0)
    assert canceled == [placed[0]] and set(failed) == {"0xnope"}
    assert engine.cancel("a", [placed[0]], T0)[1]  # already canceled
    assert engine.cancel("b", [placed[1]], T0)[0] == []  # not b's order
    assert engine.cancel_all("a", T0, market=markets[0].condition_id) == ([], {})
    assert engine.cancel_all("a", T0) == ([placed[1]], {})
    assert engine.accounts["a"].usdc_reserved == 0


def test_resting_order_filled_by_crowd_taker_and_trade_lifecycle() -> None:
    engine = quiet_engine()
    m = cent_market(engine)
    yes = m.token_ids[0]
    bid, _ = touch(engine, yes)
    trades: list[TradeEvent] = []
    orders: list[OrderEvent] = []
    engine.subscribe(orders.append, trades.append)
    o = order("mm", yes, "BUY", p(bid + 100), "10")
    engine.place(o, T0)
    engine.sim_take(m, 1, "BUY", ONE - bid - 100, 25_000_000, T0 + 10)  # buying NO ≡ selling YES
    assert engine.order("mm", o.order_id).status == "MATCHED"  # type: ignore[union-attr]
    assert engine.balance("mm", yes) == 10
    assert [e.kind for e in orders] == ["PLACEMENT", "UPDATE"]
    engine.step(T0 + 10 + 999)
    engine.step(T0 + 10 + 1000)
    engine.step(T0 + 10 + 3000)
    assert [e.trade.status for e in trades] == ["MATCHED", "MINED", "CONFIRMED"]
    [view] = engine.trades("mm")
    assert view.status == "CONFIRMED" and view.taker_owner == "" and view.maker_orders[0].owner == "mm"


def test_closing_a_market_cancels_orders_and_refuses_new_ones() -> None:
    engine = quiet_engine()
    m = cent_market(engine)
    yes = m.token_ids[0]
    bid, _ = touch(engine, yes)
    engine.place(order("a", yes, "BUY", p(bid), "5"), T0)
    patch_market(engine, m.condition_id, {"acceptingOrders": False}, T0 + 1)
    assert engine.orders("a") == []
    assert engine.place(order("a", yes, "BUY", p(bid), "5"), T0 + 2).error == MARKET_CLOSED


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_flow_never_crosses_the_book(seed: int) -> None:
    cfg = SimConfig(seed=seed, n_markets=6, lp_rate_hz=30, taker_rate_hz=6, start_ms=T0)
    engine = build_context(cfg).engine
    for t in range(1, 41):
        engine.step(T0 + t * 250)
        for book in engine.books.values():
            bid, ask = book.bids.best(), book.asks.best()
            assert bid is None or ask is None or bid < ask
            assert all(lv.size > 0 for lv in book.bids.levels.values())
