"""Market-channel messages, spelled exactly as the venue sends them (key orders from the recordings).

* initial dump ``book``: market, asset_id, timestamp, hash, bids, asks, tick_size, event_type, last_trade_price
  (2026-04 recording); sent as one JSON array per subscription.
* post-trade ``book``: market, asset_id, bids, asks, hash, timestamp, event_type (2025-12 recording); with
  ``SimConfig.september_2026`` the 2026-09 spelling and habits instead (``wire_september``).
* ``price_change``: market, price_changes[{asset_id, price, size, side, hash, best_bid, best_ask}], timestamp,
  event_type; one entry per token and level, each hash the token's whole book after that entry.
* ``last_trade_price``, ``tick_size_change``, ``best_bid_ask`` as in the recorded/docs payloads.

Every message is built as text once and fanned out; a subscriber holding only one of a market's two tokens
gets a ``price_change`` filtered to that token. Every hash is in the layout ``MarketFaults.hash_layout``
names (F10 unless the admin fault switched it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from polysim import wire_september
from polysim.book import MarketBook
from polysim.market_faults import MarketFaults
from polysim.units import ONE, PRICE_TEXT, size_text
from polysim.wire_september import SeptemberWire


@dataclass(slots=True)
class MarketMessage:
    """One outgoing market-channel event."""

    kind: str
    market: str
    assets: tuple[str, ...]
    text: str
    ts_ms: int
    custom_only: bool = False
    entries: list[tuple[str, str]] | None = None  # price_change: (asset_id, entry JSON)
    _filtered: dict[str, str] = field(default_factory=dict)

    def text_for(self, subscribed: set[str] | frozenset[str]) -> str | None:
        """The text a subscriber of ``subscribed`` receives, or None when nothing concerns it."""
        if self.entries is None:
            for a in self.assets:
                if a in subscribed:
                    return self.text
            return None
        wanted = [a for a in self.assets if a in subscribed]
        if not wanted:
            return None
        if len(wanted) == len(self.assets):
            return self.text
        key = wanted[0]
        text = self._filtered.get(key)
        if text is None:
            text = self._filtered[key] = _price_change_text(
                self.market, [frag for a, frag in self.entries if a == key], self.ts_ms
            )
        return text


def _price_change_text(market: str, frags: list[str], ts_ms: int) -> str:
    return ('{"market":"' + market + '","price_changes":[' + ",".join(frags) + '],"timestamp":"' + str(ts_ms)
            + '","event_type":"price_change"}')


def _best_texts(book: MarketBook, token_index: int) -> tuple[str, str]:
    bid, ask = book.best(token_index)
    return ("0" if bid is None else PRICE_TEXT[bid]), ("1" if ask is None else PRICE_TEXT[ask])


class MarketWire:
    """Builds market-channel messages from book states and hands them to the sinks."""

    def __init__(self, faults: MarketFaults, september_2026: bool = False, seed: int = 1) -> None:
        self.faults = faults
        self.sinks: list[Callable[[MarketMessage], None]] = []
        self._bba: dict[tuple[str, int], tuple[str, str]] = {}
        self.september = SeptemberWire(faults, self._send, seed) if september_2026 else None

    def _send(self, message: MarketMessage) -> None:
        for sink in self.sinks:
            sink(message)

    def _emit(self, message: MarketMessage, hashes: wire_september.Hashes | None = None) -> None:
        if self.september is None:
            self._send(message)
        else:
            self.september.emit(message, hashes or [])

    def _out(self, asset: str, digest: str) -> str:
        """The hash to write now: a pending corruption applies here, or when a held timestamp is sent."""
        return digest if self.september is not None else self.faults.maybe_corrupt(asset, digest)

    def flush(self, now_ms: int | None = None) -> None:
        """End of an engine call: send held frames (and announcements due by ``now_ms``); a no-op unless the
        2026-09 habits are on."""
        if self.september is not None:
            self.september.flush()
            if now_ms is not None:
                self.september.release(now_ms)

    def entry(self, book: MarketBook, token_index: int, book_bid: bool, book_price: int, ts_ms: int) -> tuple[str, str]:
        """A ``price_changes[]`` entry for one token after a level of the reference book changed."""
        asset = book.market.token_ids[token_index]
        lvl = book.side(book_bid).levels.get(book_price)
        size = size_text(lvl.size) if lvl is not None else "0"
        if token_index == 0:
            price, side = PRICE_TEXT[book_price], ("BUY" if book_bid else "SELL")
        else:
            price, side = PRICE_TEXT[ONE - book_price], ("SELL" if book_bid else "BUY")
        digest = self._out(asset, book.hash(token_index, str(ts_ms), self.faults.hash_layout))
        best_bid, best_ask = _best_texts(book, token_index)
        return asset, (
            '{"asset_id":"' + asset + '","price":"' + price + '","size":"' + size + '","side":"' + side
            + '","hash":"' + digest + '","best_bid":"' + best_bid + '","best_ask":"' + best_ask + '"}'
        )

    def price_change(self, book: MarketBook, entries: list[tuple[str, str]], ts_ms: int) -> None:
        """Emit one ``price_change`` (dropping entries of assets with a pending drop fault)."""
        if self.faults.drop_next_delta:
            dropped = {a for a in book.market.token_ids if a in self.faults.drop_next_delta and
                       any(e[0] == a for e in entries)}
            for a in dropped:
                self.faults.take_drop(a)
            entries = [e for e in entries if e[0] not in dropped]
        if not entries:
            return
        market = book.market.condition_id
        assets = tuple(dict.fromkeys(a for a, _ in entries))
        text = _price_change_text(market, [frag for _, frag in entries], ts_ms)
        hashes = [(a, wire_september.digest_of(frag)) for a, frag in entries] if self.september is not None else None
        self._emit(MarketMessage("price_change", market, assets, text, ts_ms, entries=entries), hashes)
        self.best_bid_ask(book, ts_ms)

    def trade(self, book: MarketBook, token_index: int, side: str, price: int, size: int, fee_rate_bps: int,
              ts_ms: int, consumed: Sequence[tuple[bool, int]] = ()) -> None:
        """Emit ``last_trade_price`` for the taker's token, then the post-trade ``book`` of both tokens.

        2026-09 habits: maybe a ``price_change`` of the ``consumed`` (reference side, price) levels first, the
        books, and the announcement 20–80 ms later or never (``wire_september``)."""
        m = book.market
        asset = m.token_ids[token_index]
        choices = self.september.trade_choices() if self.september is not None else None
        announced_ms = ts_ms + choices[2] if choices is not None else ts_ms
        text = ('{"asset_id":"' + asset + '","event_type":"last_trade_price","fee_rate_bps":"' + str(fee_rate_bps)
                + '","market":"' + m.condition_id + '","price":"' + PRICE_TEXT[price] + '","side":"' + side
                + '","size":"' + size_text(size) + '","timestamp":"' + str(announced_ms) + '"}')
        message = MarketMessage("last_trade_price", m.condition_id, (asset,), text, announced_ms)
        if self.september is None or choices is None:
            self._emit(message)
            self.post_trade_books(book, ts_ms)
            return
        send_levels, announce, _ = choices
        if send_levels and consumed:
            self.price_change(book, [self.entry(book, ti, is_bid, p, ts_ms) for is_bid, p in consumed
                                     for ti in (0, 1)], ts_ms)
        self.post_trade_books(book, ts_ms)
        if announce:
            self.september.later(message)

    def post_trade_books(self, book: MarketBook, ts_ms: int) -> None:
        for ti in (0, 1):
            asset = book.market.token_ids[ti]
            text, digest = self._book(book, ti, ts_ms, dump=False)
            self._emit(MarketMessage("book", book.market.condition_id, (asset,), text, ts_ms), [(asset, digest)])
        self.best_bid_ask(book, ts_ms)

    def book_text(self, book: MarketBook, token_index: int, ts_ms: int, dump: bool) -> str:
        """A ``book`` event: the initial-dump spelling (``dump``) or the post-trade one."""
        return self._book(book, token_index, ts_ms, dump)[0]

    def _book(self, book: MarketBook, token_index: int, ts_ms: int, dump: bool) -> tuple[str, str]:
        m = book.market
        asset = m.token_ids[token_index]
        ts = str(ts_ms)
        digest = book.hash(token_index, ts, self.faults.hash_layout)
        if not dump:  # a snapshot for one new subscriber never consumes a stream fault
            digest = self._out(asset, digest)
        bids, asks = book.wire_sides(token_index)
        if dump:
            return ('{"market":"' + m.condition_id + '","asset_id":"' + asset + '","timestamp":"' + ts
                    + '","hash":"' + digest + '","bids":[' + bids + '],"asks":[' + asks + '],"tick_size":"'
                    + PRICE_TEXT[m.tick_units] + '","event_type":"book","last_trade_price":"'
                    + book.token_ltps[token_index] + '"}'), digest
        if self.september is not None:
            return wire_september.book_text(m.condition_id, asset, ts, digest, bids, asks), digest
        return ('{"market":"' + m.condition_id + '","asset_id":"' + asset + '","bids":[' + bids + '],"asks":['
                + asks + '],"hash":"' + digest + '","timestamp":"' + ts + '","event_type":"book"}'), digest

    def tick_size_change(self, book: MarketBook, old_tick: int, new_tick: int, ts_ms: int) -> None:
        m = book.market
        for asset in m.token_ids:
            text = ('{"asset_id":"' + asset + '","event_type":"tick_size_change","market":"' + m.condition_id
                    + '","new_tick_size":"' + PRICE_TEXT[new_tick] + '","old_tick_size":"' + PRICE_TEXT[old_tick]
                    + '","timestamp":"' + str(ts_ms) + '"}')
            self._emit(MarketMessage("tick_size_change", m.condition_id, (asset,), text, ts_ms))

    def best_bid_ask(self, book: MarketBook, ts_ms: int) -> None:
        """Emit ``best_bid_ask`` (custom feature) for each token whose top of book changed."""
        m = book.market
        for ti in (0, 1):
            top = _best_texts(book, ti)
            key = (m.condition_id, ti)
            if self._bba.get(key) == top:
                continue
            self._bba[key] = top
            bid, ask = book.best(ti)
            spread = PRICE_TEXT[ask - bid] if bid is not None and ask is not None and ask >= bid else "0"
            asset = m.token_ids[ti]
            text = ('{"event_type":"best_bid_ask","market":"' + m.condition_id + '","asset_id":"' + asset
                    + '","best_bid":"' + top[0] + '","best_ask":"' + top[1] + '","spread":"' + spread
                    + '","timestamp":"' + str(ts_ms) + '"}')
            self._emit(MarketMessage("best_bid_ask", m.condition_id, (asset,), text, ts_ms, custom_only=True))

    def seen_top(self, book: MarketBook) -> None:
        """Record a book's current tops without emitting (a freshly created book)."""
        for ti in (0, 1):
            self._bba[(book.market.condition_id, ti)] = _best_texts(book, ti)
