"""MarketBooks: routing, the shared last trade price, per-market resync rate limiting."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from polybot.domain.book_effects import BookState, Discarded, StartResync
from polybot.domain.book_verify import MarketMeta
from polybot.domain.market_books import MarketBooks, ResyncLimiter
from polybot.venue.market_parse import parse_market_frame


def _feed(books: MarketBooks, msg: Any, now: int) -> list[Any]:
    out: list[Any] = []
    for ev in parse_market_frame(json.dumps(msg)).events:
        out.extend(books.feed(ev, now))
    return out


def test_limiter_spaces_rounds_and_lets_a_market_join_its_pending_round() -> None:
    lim = ResyncLimiter(1000)
    assert lim.grant("m", 5000) == 5000
    assert lim.grant("m", 5000) == 5000  # the other token joins the same round
    assert lim.grant("m", 5200) == 6000  # too soon: next round
    assert lim.grant("m", 5900) == 6000  # joins the scheduled round
    assert lim.grant("m", 9000) == 9000
    assert lim.grant("other", 5200) == 5200  # per market


def test_resyncs_are_rate_limited_per_market(venue_cls: Any) -> None:
    venue = venue_cls()
    books = MarketBooks(resync_min_interval_ms=1000)
    for a in venue.assets:
        books.add_asset(a, venue.market)
        _feed(books, venue.book_msg(a), 1)
    fx = books.request_resync(venue.assets, 10_000)
    assert [f.not_before_ms for f in fx if isinstance(f, StartResync)] == [10_000, 10_000]
    for a in venue.assets:
        _feed(books, venue.book_msg(a, rest=True), 10_050)
    fx = books.request_resync([venue.assets[0]], 10_100)
    assert [f.not_before_ms for f in fx if isinstance(f, StartResync)] == [11_000]


def test_last_trade_reaches_every_token_of_the_market(venue_cls: Any) -> None:
    venue = venue_cls(ltp="0.500")
    books = MarketBooks()
    a, b = venue.assets
    for asset in venue.assets:
        books.add_asset(asset, venue.market)
        venue.set_level(asset, "BUY", "0.4", "10")
        _feed(books, venue.book_msg(asset), 1)
    venue.ltp = "0.430"  # the change below is hashed with a trade price not seen yet
    venue.ts += 5
    _feed(books, venue.price_change([venue.set_level(b, "SELL", "0.7", "3")]), 2)
    sync_b = books.get(b)
    assert sync_b is not None and len(sync_b.verifier.pending) == 1
    fx = _feed(books, venue.last_trade(a, "0.43"), 3)  # announced on the other token
    assert [type(f).__name__ for f in fx] == ["HashChecked"]
    assert fx[0].asset_id == b and fx[0].ok


def test_unknown_assets_are_discarded_unless_auto_added(venue_cls: Any) -> None:
    venue = venue_cls()
    strict = MarketBooks()
    fx = _feed(strict, venue.book_msg(venue.assets[0]), 1)
    assert isinstance(fx[0], Discarded) and fx[0].reason == "unknown_asset"
    auto = MarketBooks(default_meta=MarketMeta("0.001", "15", True), auto_add=True)
    _feed(auto, venue.book_msg(venue.assets[0]), 1)
    sync = auto.get(venue.assets[0])
    assert sync is not None and sync.meta == MarketMeta("0.001", "15", True)


def test_set_meta_connection_changes_snapshots_and_removal(venue_cls: Any) -> None:
    venue = venue_cls()
    books = MarketBooks()
    for a in venue.assets:
        books.add_asset(a, venue.market, seq=10)
        _feed(books, venue.book_msg(a), 1)
    books.set_meta(venue.market, MarketMeta.of(Decimal("0.0010"), Decimal("5.00"), False))
    assert all(s.meta == MarketMeta("0.001", "5", False) for s in books)
    # empty books still begin an epoch: one (empty) reset change each
    assert [(s.epoch, s.seq) for s in books.snapshots()] == [(1, 11), (1, 11)]
    books.connection_lost(venue.assets, 2)
    assert all(s.state is BookState.DISCONNECTED for s in books)
    assert books.snapshots() == []
    fx = books.connection_restored(venue.assets, 3)
    assert all(s.state is BookState.RESYNCING for s in books)
    assert [f.reason for f in fx if isinstance(f, StartResync)] == ["gap", "gap"]
    books.remove_asset(venue.assets[0])
    assert len(books) == 1 and books.assets_of(venue.market) == (venue.assets[1],)
