"""The CLOB market channel (and REST ``/book``) as the venue sends it: frozen pydantic models.

This is the one schema definition: the ingestor's hot path decodes with it and operators validate a
suspicious message with it (``MARKET_MESSAGE.validate_json(raw)``). Prices, sizes and timestamps stay the
venue's *strings* here, because the orderbook hash is computed over those exact strings; they become
``Decimal``/``int`` in the domain events (``polybot.venue.market_parse``).

Every market-channel event carries ``event_type`` and the union is tagged by it. ``price_change`` has had
three shapes, told apart by their keys:

- v0 (≤ 2024-08): flat ``asset_id, price, side, size, hash``;
- v1 (≤ 2025-09-15): ``asset_id, changes[{price, side, size}]`` and one top-level ``hash``;
- v2 (since 2025-09-15): ``price_changes[{asset_id, price, size, side, hash, best_bid, best_ask}]``.

An object without ``event_type`` but with ``bids``/``asks`` is a REST ``/book`` body (recordings keep
them inline). Timestamps may be JSON numbers in some recordings; they are read as text.

**Validation at the edge.** Only what the venue can mean gets through: prices are plain decimals inside
(0, 1) (best bid/ask and ``last_trade_price`` in [0, 1]), sizes plain decimals ≥ 0, both with at most six
decimals (the venue's units); timestamps are integers of milliseconds (at most 13 digits); asset ids are
decimal token ids and markets ``0x`` + 64 hex. ``NaN``, ``Infinity``, exponents, signs and 40-decimal sizes
are refused here, with a reason that starts with what was wrong (``price:``, ``size:``, ``timestamp:``,
``id:``), so no such value reaches a book or the bus. Whether a price is on the market's tick is decided in
the book state machine, which knows the tick.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Strict, Tag, TypeAdapter

WireSide = Literal["BUY", "SELL"]

_PLAIN = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,6})?|\.[0-9]{1,6}")
_TIMESTAMP = re.compile(r"[0-9]{1,13}")
_ASSET_ID = re.compile(r"[0-9]{1,80}")
_MARKET_ID = re.compile(r"0x[0-9a-fA-F]{64}")
_ZERO, _ONE = Decimal(0), Decimal(1)


def _plain(kind: str, text: str) -> Decimal:
    if not _PLAIN.fullmatch(text):
        raise ValueError(f"{kind}: {text[:40]!r} is not a plain decimal with at most 6 decimals")
    return Decimal(text)


def _price(text: str) -> str:
    if not _ZERO < _plain("price", text) < _ONE:
        raise ValueError(f"price: {text!r} is outside (0, 1)")
    return text


def _quote(text: str) -> str:
    """A best bid/ask or last trade price: [0, 1], or empty (none)."""
    if text and not _ZERO <= _plain("price", text) <= _ONE:
        raise ValueError(f"price: {text!r} is outside [0, 1]")
    return text


def _size(text: str) -> str:
    _plain("size", text)  # a plain decimal is never negative
    return text


def _timestamp(text: str) -> str:
    if not _TIMESTAMP.fullmatch(text):
        raise ValueError(f"timestamp: {text[:40]!r} is not milliseconds (an integer of at most 13 digits)")
    return text


def _asset(text: str) -> str:
    if not _ASSET_ID.fullmatch(text):
        raise ValueError(f"id: asset id {text[:40]!r} is not a token id")
    return text


def _market(text: str) -> str:
    if not _MARKET_ID.fullmatch(text):
        raise ValueError(f"id: market {text[:70]!r} is not a condition id")
    return text


Price = Annotated[str, AfterValidator(_price)]
Quote = Annotated[str, AfterValidator(_quote)]
Size = Annotated[str, AfterValidator(_size)]
Timestamp = Annotated[str, AfterValidator(_timestamp)]
# Ids are strings on the wire: a JSON number (which the models would otherwise turn into text) is refused,
# or 1e30 would pass as the token id "1000000000000000000000000000000" (the fuzz suite found this).
AssetId = Annotated[str, Strict(), AfterValidator(_asset)]
MarketId = Annotated[str, Strict(), AfterValidator(_market)]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)


class WireLevel(_Wire):
    price: Price
    size: Size


class BookMsg(_Wire):
    """``book``: a full snapshot. Initial-dump books may carry ``tick_size`` and ``last_trade_price``."""

    event_type: Literal["book"]
    market: MarketId
    asset_id: AssetId
    timestamp: Timestamp
    hash: str | None = None
    bids: tuple[WireLevel, ...]
    asks: tuple[WireLevel, ...]
    tick_size: Price | None = None
    last_trade_price: Quote | None = None


class RestBook(_Wire):
    """REST ``GET /book`` body (10 keys in F10), also found inline in recordings without ``event_type``."""

    market: MarketId
    asset_id: AssetId
    timestamp: Timestamp | Literal[""] = ""
    hash: str | None = None
    bids: tuple[WireLevel, ...]
    asks: tuple[WireLevel, ...]
    min_order_size: Size | None = None
    tick_size: Price | None = None
    neg_risk: bool | None = None
    last_trade_price: Quote | None = None


class PriceChangeV0(_Wire):
    event_type: Literal["price_change"]
    market: MarketId
    asset_id: AssetId
    price: Price
    side: WireSide
    size: Size
    hash: str | None = None
    timestamp: Timestamp


class WireChange(_Wire):
    price: Price
    side: WireSide
    size: Size


class PriceChangeV1(_Wire):
    event_type: Literal["price_change"]
    market: MarketId
    asset_id: AssetId
    changes: tuple[WireChange, ...]
    hash: str | None = None
    timestamp: Timestamp


class PriceChangeEntry(_Wire):
    asset_id: AssetId
    price: Price
    size: Size
    side: WireSide
    hash: str | None = None
    best_bid: Quote | None = None
    best_ask: Quote | None = None


class PriceChangeV2(_Wire):
    event_type: Literal["price_change"]
    market: MarketId
    price_changes: tuple[PriceChangeEntry, ...]
    timestamp: Timestamp


class TickSizeChangeMsg(_Wire):
    event_type: Literal["tick_size_change"]
    market: MarketId
    asset_id: AssetId
    old_tick_size: Price
    new_tick_size: Price
    timestamp: Timestamp


class LastTradePriceMsg(_Wire):
    event_type: Literal["last_trade_price"]
    market: MarketId
    asset_id: AssetId
    price: Price
    side: WireSide | None = None
    size: Size | None = None
    fee_rate_bps: str | None = None
    transaction_hash: str | None = None  # since 2026
    timestamp: Timestamp


class BestBidAskMsg(_Wire):
    event_type: Literal["best_bid_ask"]
    market: MarketId
    asset_id: AssetId
    best_bid: Quote | None = None
    best_ask: Quote | None = None
    spread: Quote | None = None
    timestamp: Timestamp


class NewMarketMsg(_Wire):
    event_type: Literal["new_market"]
    id: str | None = None
    market: MarketId
    question: str | None = None
    slug: str | None = None
    assets_ids: tuple[AssetId, ...] = ()
    outcomes: tuple[str, ...] = ()
    order_price_min_tick_size: Price | None = None
    timestamp: Timestamp


class MarketResolvedMsg(_Wire):
    event_type: Literal["market_resolved"]
    id: str | None = None
    market: MarketId
    assets_ids: tuple[AssetId, ...] = ()
    winning_asset_id: AssetId | None = None
    winning_outcome: str | None = None
    timestamp: Timestamp


def market_tag(value: Any) -> str | None:
    """The union tag of a raw (dict) or validated market-channel message; ``None`` if unrecognisable."""
    if isinstance(value, dict):
        event_type = value.get("event_type")
        if event_type is not None and not isinstance(event_type, str):
            return None  # a list, an object, a number: not an event type (and not hashable for the lookup)
        if event_type == "price_change":
            if "price_changes" in value:
                return "price_change_v2"
            return "price_change_v1" if "changes" in value else "price_change_v0"
        if event_type is None and "bids" in value and "asks" in value:
            return "rest_book"
        return event_type if event_type in _TAGS else None
    return _MODEL_TAGS.get(type(value))


_MODEL_TAGS: dict[type, str] = {
    BookMsg: "book", RestBook: "rest_book", PriceChangeV0: "price_change_v0", PriceChangeV1: "price_change_v1",
    PriceChangeV2: "price_change_v2", TickSizeChangeMsg: "tick_size_change", LastTradePriceMsg: "last_trade_price",
    BestBidAskMsg: "best_bid_ask", NewMarketMsg: "new_market", MarketResolvedMsg: "market_resolved",
}
_TAGS = frozenset(_MODEL_TAGS.values())

MarketMessage = Annotated[
    Annotated[BookMsg, Tag("book")]
    | Annotated[RestBook, Tag("rest_book")]
    | Annotated[PriceChangeV0, Tag("price_change_v0")]
    | Annotated[PriceChangeV1, Tag("price_change_v1")]
    | Annotated[PriceChangeV2, Tag("price_change_v2")]
    | Annotated[TickSizeChangeMsg, Tag("tick_size_change")]
    | Annotated[LastTradePriceMsg, Tag("last_trade_price")]
    | Annotated[BestBidAskMsg, Tag("best_bid_ask")]
    | Annotated[NewMarketMsg, Tag("new_market")]
    | Annotated[MarketResolvedMsg, Tag("market_resolved")],
    Discriminator(market_tag),
]

# Validate one message, or a whole frame that is an array of messages.
MARKET_MESSAGE: TypeAdapter[MarketMessage] = TypeAdapter(MarketMessage)
MARKET_MESSAGES: TypeAdapter[list[MarketMessage]] = TypeAdapter(list[MarketMessage])
REST_BOOK: TypeAdapter[RestBook] = TypeAdapter(RestBook)
