"""One L2 book per market, kept from the first outcome's point of view; the complement is its mirror.

The venue shows the two tokens of a market as mirror images: a bid for YES at p is an ask for NO at 1 − p.
Storing one book and deriving the other makes that consistency hold by construction, and lets a NO buyer
match a YES buyer (a mint) exactly as the venue's cross-asset matching does.

Each price level holds a FIFO queue of entries: background liquidity (``order`` None) and resting orders
of accounts, so price-time priority is real. Levels cache their JSON fragments in both spellings (YES and
NO price) and each side caches its joined wire array, so hashing a book after every delta stays cheap.

Wire order is worst → best: bids ascending, asks descending. For the NO token the bids are the YES asks
(in the YES asks' wire order, prices mirrored) and the asks are the YES bids.

Hashing (``hash_payload``, the one place polysim builds what the venue hashes) follows any of the venue's
layouts, ``HASH_LAYOUTS`` (names as ``polybot.domain.book_hash.HashLayout``; see
``shared/design/polymarket-protocol.md`` §2.2): F10 today, the older ones for the layout-switch fault.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import deque
from typing import TYPE_CHECKING, Literal

from polysim.units import ONE, PRICE_TEXT, ltp_text, size_text

if TYPE_CHECKING:
    from polysim.catalog import SimMarket
    from polysim.orders import SimOrder


HashLayoutName = Literal["F5b", "F6", "F9", "F10"]
HASH_LAYOUTS: tuple[HashLayoutName, ...] = ("F5b", "F6", "F9", "F10")


class Entry:
    """A slice of a level: background size (``order`` None) or an account's resting order."""

    __slots__ = ("order", "size")

    def __init__(self, order: SimOrder | None, size: int) -> None:
        self.order = order
        self.size = size


class Level:
    __slots__ = ("entries", "frag_no", "frag_yes", "price", "size")

    def __init__(self, price: int) -> None:
        self.price = price
        self.size = 0
        self.entries: deque[Entry] = deque()
        self.frag_yes = ""
        self.frag_no = ""

    def refresh(self) -> None:
        size = size_text(self.size)
        self.frag_yes = '{"price":"' + PRICE_TEXT[self.price] + '","size":"' + size + '"}'
        self.frag_no = '{"price":"' + PRICE_TEXT[ONE - self.price] + '","size":"' + size + '"}'


class Side:
    """Bids or asks of the reference (first-outcome) book."""

    __slots__ = ("_json_no", "_json_yes", "is_bid", "levels", "prices")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.prices: list[int] = []  # ascending
        self.levels: dict[int, Level] = {}
        self._json_yes: str | None = ""
        self._json_no: str | None = ""

    def best(self) -> int | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.is_bid else self.prices[0]

    def wire_prices(self) -> list[int]:
        """Prices in wire order for the reference token (bids ascending, asks descending)."""
        return list(self.prices) if self.is_bid else self.prices[::-1]

    def best_first(self) -> list[int]:
        """Prices from the best outward (the order a taker walks them)."""
        return self.prices[::-1] if self.is_bid else list(self.prices)

    def level(self, price: int) -> Level:
        lvl = self.levels.get(price)
        if lvl is None:
            lvl = self.levels[price] = Level(price)
            bisect.insort(self.prices, price)
        return lvl

    def size_at(self, price: int) -> int:
        lvl = self.levels.get(price)
        return lvl.size if lvl is not None else 0

    def touched(self, lvl: Level) -> None:
        """Call after changing a level's entries: refreshes caches, drops the level when empty."""
        lvl.size = sum(e.size for e in lvl.entries)
        if lvl.size <= 0:
            del self.levels[lvl.price]
            del self.prices[bisect.bisect_left(self.prices, lvl.price)]
        else:
            lvl.refresh()
        self._json_yes = None
        self._json_no = None

    def json_yes(self) -> str:
        if self._json_yes is None:
            self._json_yes = ",".join(self.levels[p].frag_yes for p in self.wire_prices())
        return self._json_yes

    def json_no(self) -> str:
        if self._json_no is None:
            self._json_no = ",".join(self.levels[p].frag_no for p in self.wire_prices())
        return self._json_no


class MarketBook:
    """The book of one market: both tokens' views, the last trade price and the last change time."""

    __slots__ = ("asks", "bids", "last_trade", "ltp", "market", "token_ltps", "updated_ms")

    def __init__(self, market: SimMarket, updated_ms: int) -> None:
        self.market = market
        self.bids = Side(True)
        self.asks = Side(False)
        self.ltp = ""  # the market's last trade price ("0.490"), "" before any trade
        self.token_ltps = ["", ""]  # what each token's hash carries as its last_trade_price
        self.last_trade: tuple[int, str, int, int] | None = None  # (token index, side, price units, size micro)
        self.updated_ms = updated_ms

    def set_ltp(self, price_units_: int, token_index: int = 0, complement: bool = False) -> None:
        """A trade at ``price_units_`` on ``token_index``: both tokens hash that price (2026-05), or with
        ``complement`` each token its own terms (the other one ``1 − p``, as in September 2026)."""
        self.ltp = ltp_text(price_units_)
        if complement:
            self.token_ltps[token_index] = self.ltp
            self.token_ltps[1 - token_index] = ltp_text(ONE - price_units_)
        else:
            self.token_ltps = [self.ltp, self.ltp]

    def side(self, is_bid: bool) -> Side:
        return self.bids if is_bid else self.asks

    def wire_sides(self, token_index: int) -> tuple[str, str]:
        """The (bids, asks) JSON array bodies of a token's book, worst → best."""
        if token_index == 0:
            return self.bids.json_yes(), self.asks.json_yes()
        return self.asks.json_no(), self.bids.json_no()

    def wire_levels(self, token_index: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids, asks) as (price units, size micro) in wire order for a token."""
        bids = [(p, self.bids.levels[p].size) for p in self.bids.wire_prices()]
        asks = [(p, self.asks.levels[p].size) for p in self.asks.wire_prices()]
        if token_index == 0:
            return bids, asks
        return [(ONE - p, s) for p, s in asks], [(ONE - p, s) for p, s in bids]

    def best(self, token_index: int) -> tuple[int | None, int | None]:
        """(best bid, best ask) in a token's own prices."""
        bid, ask = self.bids.best(), self.asks.best()
        if token_index == 0:
            return bid, ask
        return (None if ask is None else ONE - ask), (None if bid is None else ONE - bid)

    def hash_payload(self, token_index: int, timestamp: str, layout: HashLayoutName = "F10") -> str:
        """The exact string the venue hashes in ``layout`` (compact JSON, ``hash`` empty); the F10 one is
        also the REST ``/book`` body."""
        m = self.market
        bids, asks = self.wire_sides(token_index)
        text = '{"market":"' + m.condition_id + '","asset_id":"' + m.token_ids[token_index] + '"'
        if layout != "F5b":
            text += ',"timestamp":"' + timestamp + '"'
        text += ',"hash":"","bids":[' + bids + '],"asks":[' + asks + "]"
        if layout in ("F9", "F10"):
            text += (',"min_order_size":"' + _dec_text(m.min_order_size) + '","tick_size":"'
                     + PRICE_TEXT[m.tick_units] + '","neg_risk":' + ("true" if m.neg_risk else "false"))
        if layout == "F10":
            text += ',"last_trade_price":"' + self.token_ltps[token_index] + '"'
        return text + "}"

    def hash(self, token_index: int, timestamp: str, layout: HashLayoutName = "F10") -> str:
        """The venue's book hash of a token's book at ``timestamp`` in ``layout``."""
        return hashlib.sha1(self.hash_payload(token_index, timestamp, layout).encode()).hexdigest()


def _dec_text(value: object) -> str:
    text = str(value)
    if "." in text and "E" not in text:
        text = text.rstrip("0").rstrip(".")
    return text
