"""Market-channel events as the domain sees them: parsed once at the edge, frozen, Decimal money.

``polybot.venue.market_parse`` turns websocket frames (and REST ``/book`` bodies) into these. Each keeps
the venue strings the orderbook hash needs (level strings, the timestamp text, metadata strings) next to the
parsed values. A ``price_change`` becomes one ``VenueDelta`` per entry that carries its own hash (v2), or one
``VenueDelta`` for the whole message (v0 flat, v1 ``changes[]`` with one top-level hash).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from polybot.domain.book import Level, LevelChange, Side

DeltaShape = Literal["v0", "v1", "v2"]
BookSource = Literal["ws", "rest"]


@dataclass(frozen=True, slots=True)
class VenueBook:
    """A full book: a websocket ``book`` event (``source="ws"``) or a REST ``/book`` body (``"rest"``).

    ``bids``/``asks`` are in the order received (wire order: bids ascending, asks descending). Metadata
    fields are the venue's strings when the payload carries them, else ``None``.
    """

    asset_id: str
    market: str
    ts_ms: int
    timestamp: str  # the venue's timestamp text, as hashed
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    hash: str | None
    source: BookSource = "ws"
    tick_size: str | None = None
    min_order_size: str | None = None
    neg_risk: bool | None = None
    last_trade_price: str | None = None
    recv_ts_ms: int = 0


@dataclass(slots=True)
class VenueDelta:
    """Absolute-size level updates for one asset, with the venue's hash of the book after them.

    Immutable by convention, not ``frozen``: one is made per ``price_change`` entry, and a frozen
    dataclass's ``__init__`` costs about five times as much."""

    asset_id: str
    market: str
    ts_ms: int
    timestamp: str
    changes: tuple[LevelChange, ...]
    hash: str | None
    shape: DeltaShape = "v2"
    best_bid: Decimal | None = None  # the venue's own view after the change (v2 only)
    best_ask: Decimal | None = None
    recv_ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class TickSizeChanged:
    asset_id: str
    market: str
    ts_ms: int
    old_tick_size: str
    new_tick_size: str
    recv_ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class LastTrade:
    """A ``last_trade_price`` event; ``raw_price`` is the venue's text."""

    asset_id: str
    market: str
    ts_ms: int
    price: Decimal
    raw_price: str
    side: Side | None
    size: Decimal | None
    recv_ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class BestBidAsk:
    """The venue's ``best_bid_ask`` (custom feature; not guaranteed, a cross-check only)."""

    asset_id: str
    market: str
    ts_ms: int
    best_bid: Decimal | None
    best_ask: Decimal | None
    spread: Decimal | None
    recv_ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class NewMarket:
    market: str
    ts_ms: int
    asset_ids: tuple[str, ...]
    question: str | None = None
    slug: str | None = None
    tick_size: str | None = None
    recv_ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class MarketResolved:
    market: str
    ts_ms: int
    asset_ids: tuple[str, ...]
    winning_asset_id: str | None = None
    winning_outcome: str | None = None
    recv_ts_ms: int = 0


# Events that drive a book's state machine, and every market-channel event.
BookInput = VenueBook | VenueDelta | TickSizeChanged | LastTrade
MarketEvent = VenueBook | VenueDelta | TickSizeChanged | LastTrade | BestBidAsk | NewMarket | MarketResolved
