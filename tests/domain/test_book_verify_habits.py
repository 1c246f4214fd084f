"""The venue's hash habits of September 2026 and its layout changes, end to end: wire text → the parser →
``BookSync`` (a black box). No habit may cost a mismatch or a resync.

The frames come from ``SeptVenue``, a two-token market written from the habits as observed (hashes by the
reference ``book_hash``, nothing shared with ``book_verify``):

(a) frames sharing a timestamp carry, per asset, the hash of the book after the last of them;
(b) the ltp in the hash runs ahead: the complement of the other token's coming trade, a trade announced tens
    of ms later, or a price no frame ever shows;
(c) post-trade books come in another key order with ``", "`` separators (and no ltp).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from polybot.domain.book_effects import BookState, Effect, HashChecked, StartResync
from polybot.domain.book_events import LastTrade, VenueBook, VenueDelta
from polybot.domain.book_hash import HashInput, HashLayout, book_hash
from polybot.domain.book_sync import BookSync, SyncConfig
from polybot.venue.market_parse import parse_market_frame

MARKET = "0x" + "5e" * 32
A, B = "1111", "2222"
T0 = 1_790_000_000_000


class SeptVenue:
    """One binary market as the venue spoke in September 2026; every method returns wire text."""

    def __init__(self, tick: str = "0.01", layout: HashLayout = HashLayout.F10) -> None:
        self.tick = tick
        self.layout = layout
        self.ts = T0
        self.books: dict[str, dict[str, dict[str, str]]] = {a: {"BUY": {}, "SELL": {}} for a in (A, B)}
        self.ltp = {A: "0.500", B: "0.500"}  # per token: the hash of each may carry its own ltp

    def wire(self, asset: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        bids = sorted(self.books[asset]["BUY"].items(), key=lambda kv: Decimal(kv[0]))
        asks = sorted(self.books[asset]["SELL"].items(), key=lambda kv: Decimal(kv[0]), reverse=True)
        return bids, asks

    def hash(self, asset: str) -> str:
        bids, asks = self.wire(asset)
        return book_hash(HashInput(MARKET, asset, str(self.ts), bids, asks, "5", self.tick, False, self.ltp[asset]),
                         self.layout)

    def set(self, asset: str, side: str, price: str, size: str) -> dict[str, Any]:
        levels = self.books[asset][side]
        levels.pop(price, None)
        if Decimal(size):
            levels[price] = size
        return {"asset_id": asset, "price": price, "size": size, "side": side, "hash": self.hash(asset),
                "best_bid": "0", "best_ask": "1"}

    def dump(self) -> str:
        out = []
        for asset in (A, B):
            bids, asks = self.wire(asset)
            out.append({"market": MARKET, "asset_id": asset, "timestamp": str(self.ts), "hash": self.hash(asset),
                        "bids": [{"price": p, "size": s} for p, s in bids],
                        "asks": [{"price": p, "size": s} for p, s in asks], "tick_size": self.tick,
                        "event_type": "book", "last_trade_price": self.ltp[asset]})
        return json.dumps(out, separators=(",", ":"))

    def price_change(self, entries: list[dict[str, Any]], shared: bool = True) -> str:
        """Entries of one timestamp; ``shared`` (habit a): each hash is its asset's book after the last."""
        for e in entries:
            if shared:
                e["hash"] = self.hash(e["asset_id"])
            bids, asks = self.wire(e["asset_id"])
            e["best_bid"], e["best_ask"] = (bids[-1][0] if bids else "0"), (asks[-1][0] if asks else "1")
        return json.dumps({"market": MARKET, "price_changes": entries, "timestamp": str(self.ts),
                           "event_type": "price_change"}, separators=(",", ":"))

    def post_trade_book(self, asset: str) -> str:
        """Habit (c): event_type first, asks before bids, ``", "`` and ``": "``, no ltp (it is in the hash)."""
        bids, asks = self.wire(asset)
        return json.dumps({"event_type": "book", "asset_id": asset, "market": MARKET, "timestamp": str(self.ts),
                           "hash": self.hash(asset), "asks": [{"price": p, "size": s} for p, s in asks],
                           "bids": [{"price": p, "size": s} for p, s in bids]})

    def trade(self, asset: str, price: str) -> None:
        """A trade on ``asset`` at ``price``: the hashes from now on carry it in each token's own terms."""
        other = B if asset == A else A
        self.ltp[asset] = f"{Decimal(price):.3f}"
        self.ltp[other] = f"{1 - Decimal(price):.3f}"

    def last_trade(self, asset: str, price: str) -> str:
        return json.dumps({"asset_id": asset, "event_type": "last_trade_price", "fee_rate_bps": "0",
                           "market": MARKET, "price": price, "side": "BUY", "size": "5",
                           "timestamp": str(self.ts)})


class Client:
    """Both tokens' ``BookSync``; a ``last_trade_price`` goes to both (its own token first)."""

    def __init__(self, venue: SeptVenue) -> None:
        self.venue = venue
        self.syncs = {a: BookSync(a, MARKET, config=SyncConfig(ltp_window_ms=1000)) for a in (A, B)}
        self.effects: list[Effect] = []

    def feed(self, text: str, delay_ms: int = 0) -> list[Effect]:
        now = self.venue.ts + delay_ms
        out: list[Effect] = []
        parsed = parse_market_frame(text, now)
        assert parsed.invalid == []
        for ev in parsed.events:
            assert isinstance(ev, VenueBook | VenueDelta | LastTrade)
            targets = [ev.asset_id, *(a for a in (A, B) if a != ev.asset_id)] if isinstance(ev, LastTrade) else [
                ev.asset_id]
            for asset in targets:
                out.extend(self.syncs[asset].handle(ev, now))
        self.effects.extend(out)
        return out

    def settle(self, after_ms: int = 5000) -> None:
        for sync in self.syncs.values():
            self.effects.extend(sync.tick(self.venue.ts + after_ms))

    def results(self, asset: str | None = None) -> list[str]:
        return [fx.result for fx in self.effects if isinstance(fx, HashChecked) and asset in (None, fx.asset_id)]

    def assert_clean(self) -> None:
        assert "mismatch" not in self.results()
        assert not [fx for fx in self.effects if isinstance(fx, StartResync)]
        assert all(s.state is BookState.LIVE and not s.verifier.pending for s in self.syncs.values())


def started(tick: str = "0.01", layout: HashLayout = HashLayout.F10) -> tuple[SeptVenue, Client]:
    venue = SeptVenue(tick, layout)
    for asset, (bid, ask) in ((A, ("0.4", "0.6")), (B, ("0.4", "0.6"))):
        venue.set(asset, "BUY", bid, "100")
        venue.set(asset, "BUY", "0.3", "50")
        venue.set(asset, "SELL", ask, "100")
        venue.set(asset, "SELL", "0.7", "50")
    client = Client(venue)
    client.feed(venue.dump())
    assert client.results() == ["ok", "ok"]
    return venue, client


def test_a_frames_sharing_a_timestamp_carry_the_hash_after_the_last() -> None:
    venue, client = started()
    venue.ts += 10
    frame = venue.price_change([venue.set(A, "BUY", "0.41", "5"), venue.set(B, "SELL", "0.59", "5"),
                                venue.set(A, "BUY", "0.42", "5"), venue.set(A, "SELL", "0.58", "5")])
    client.feed(frame)
    assert client.results(A)[-3:] == ["superseded", "superseded", "ok"]
    client.settle()
    client.assert_clean()


def test_a_and_b_the_last_frame_of_a_timestamp_waits_for_the_other_tokens_trade() -> None:
    venue, client = started()
    venue.ts += 10
    venue.trade(A, "0.65")  # B's hash carries 0.350 from here on; no frame of B says so
    frame = venue.price_change([venue.set(B, "BUY", "0.31", "7"), venue.set(B, "BUY", "0.32", "7")])
    client.feed(frame)
    assert len(client.syncs[B].verifier.pending) == 2
    venue.ts += 40
    client.feed(venue.last_trade(A, "0.65"))  # announced on the other token, 40 ms later
    client.settle()
    client.assert_clean()
    assert client.syncs[B].verifier.ltp == "0.350"


def test_b_post_trade_books_carry_the_complement_of_the_other_tokens_coming_trade() -> None:
    venue, client = started()
    venue.ts += 10
    venue.set(A, "SELL", "0.6", "60")  # a taker bought 40 of A at 0.6: B's bid at 0.4 went the same way
    venue.set(B, "BUY", "0.4", "60")
    venue.trade(A, "0.6")
    client.feed(venue.post_trade_book(A))
    client.feed(venue.post_trade_book(B))
    venue.ts += 30
    client.feed(venue.last_trade(A, "0.6"))
    assert client.results().count("ok") == 4
    client.settle()
    client.assert_clean()
    assert (client.syncs[A].verifier.ltp, client.syncs[B].verifier.ltp) == ("0.600", "0.400")


def test_b_a_trade_announced_tens_of_ms_later() -> None:
    venue, client = started()
    venue.ts += 10
    venue.trade(A, "0.47")
    venue.ltp[B] = "0.470"  # this market hashes both tokens with the same price
    client.feed(venue.price_change([venue.set(A, "BUY", "0.38", "9")]))
    venue.ts += 60
    client.feed(venue.last_trade(A, "0.47"))
    client.settle()
    client.assert_clean()


def test_b_an_ltp_that_no_frame_ever_shows() -> None:
    venue, client = started(tick="0.001")
    venue.ts += 10
    venue.ltp[A] = "0.417"  # never announced, never in any frame
    client.feed(venue.price_change([venue.set(A, "BUY", "0.381", "9")]))
    venue.ts += 1
    client.feed(venue.price_change([venue.set(A, "BUY", "0.382", "9")]))  # the next millisecond: learnt here
    assert client.results(A)[-1] == "ok"
    # The first check was explained on the tick grid by the verifier itself, and reported as a deferred ok.
    assert [fx.ltp for fx in client.effects if isinstance(fx, HashChecked) and fx.asset_id == A and fx.deferred] \
        == ["0.417"]
    venue.ts += 1
    client.feed(venue.price_change([venue.set(A, "BUY", "0.383", "9")]))
    assert client.results(A)[-1] == "ok"  # the hot path has it now
    venue.ltp[B] = "0.583"  # and one nothing follows: found at expiry
    client.feed(venue.price_change([venue.set(B, "BUY", "0.381", "9")]))
    client.settle()
    client.assert_clean()


def test_c_post_trade_books_in_another_key_order_with_spaced_separators() -> None:
    venue, client = started()
    venue.ts += 10
    venue.set(A, "BUY", "0.4", "30")
    text = venue.post_trade_book(A)
    assert text.startswith('{"event_type": "book", "asset_id": ') and '"asks": [{"price": ' in text
    (book,) = parse_market_frame(text).events
    assert isinstance(book, VenueBook) and book.last_trade_price is None
    assert [(lv.raw_price, lv.raw_size) for lv in book.bids] == [("0.3", "50"), ("0.4", "30")]
    assert [lv.raw_price for lv in book.asks] == ["0.7", "0.6"]
    client.feed(text)
    assert client.results(A)[-1] == "ok"
    client.settle()
    client.assert_clean()


def test_a_venue_wide_layout_switch_costs_no_resync() -> None:
    venue, client = started()
    prices = iter(f"0.{n}" for n in range(31, 40))
    for layout in (HashLayout.F9, HashLayout.F6, HashLayout.F5B, HashLayout.F10):
        venue.layout = layout
        venue.ts += 10
        price = next(prices)
        client.feed(venue.price_change([venue.set(A, "BUY", price, "3"), venue.set(B, "BUY", price, "3")]))
        assert [s.verifier.layout for s in client.syncs.values()] == [layout, layout]
    client.settle()
    client.assert_clean()
    assert [s.verifier.layout_changes for s in client.syncs.values()] == [4, 4]
    assert client.syncs[A].verifier.last_layout_change == (HashLayout.F5B, HashLayout.F10)
