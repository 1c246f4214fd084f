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
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter

WireSide = Literal["BUY", "SELL"]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)


class WireLevel(_Wire):
    price: str
    size: str


class BookMsg(_Wire):
    """``book``: a full snapshot. Initial-dump books may carry ``tick_size`` and ``last_trade_price``."""

    event_type: Literal["book"]
    market: str
    asset_id: str
    timestamp: str
    hash: str | None = None
    bids: tuple[WireLevel, ...]
    asks: tuple[WireLevel, ...]
    tick_size: str | None = None
    last_trade_price: str | None = None


class RestBook(_Wire):
    """REST ``GET /book`` body (10 keys in F10), also found inline in recordings without ``event_type``."""

    market: str
    asset_id: str
    timestamp: str = ""
    hash: str | None = None
    bids: tuple[WireLevel, ...]
    asks: tuple[WireLevel, ...]
    min_order_size: str | None = None
    tick_size: str | None = None
    neg_risk: bool | None = None
    last_trade_price: str | None = None


class PriceChangeV0(_Wire):
    event_type: Literal["price_change"]
    market: str
    asset_id: str
    price: str
    side: WireSide
    size: str
    hash: str | None = None
    timestamp: str


class WireChange(_Wire):
    price: str
    side: WireSide
    size: str


class PriceChangeV1(_Wire):
    event_type: Literal["price_change"]
    market: str
    asset_id: str
    changes: tuple[WireChange, ...]
    hash: str | None = None
    timestamp: str


class PriceChangeEntry(_Wire):
    asset_id: str
    price: str
    size: str
    side: WireSide
    hash: str | None = None
    best_bid: str | None = None
    best_ask: str | None = None


class PriceChangeV2(_Wire):
    event_type: Literal["price_change"]
    market: str
    price_changes: tuple[PriceChangeEntry, ...]
    timestamp: str


class TickSizeChangeMsg(_Wire):
    event_type: Literal["tick_size_change"]
    market: str
    asset_id: str
    old_tick_size: str
    new_tick_size: str
    timestamp: str


class LastTradePriceMsg(_Wire):
    event_type: Literal["last_trade_price"]
    market: str
    asset_id: str
    price: str
    side: WireSide | None = None
    size: str | None = None
    fee_rate_bps: str | None = None
    transaction_hash: str | None = None  # since 2026
    timestamp: str


class BestBidAskMsg(_Wire):
    event_type: Literal["best_bid_ask"]
    market: str
    asset_id: str
    best_bid: str | None = None
    best_ask: str | None = None
    spread: str | None = None
    timestamp: str


class NewMarketMsg(_Wire):
    event_type: Literal["new_market"]
    id: str | None = None
    market: str
    question: str | None = None
    slug: str | None = None
    assets_ids: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    order_price_min_tick_size: str | None = None
    timestamp: str


class MarketResolvedMsg(_Wire):
    event_type: Literal["market_resolved"]
    id: str | None = None
    market: str
    assets_ids: tuple[str, ...] = ()
    winning_asset_id: str | None = None
    winning_outcome: str | None = None
    timestamp: str


def market_tag(value: Any) -> str | None:
    """The union tag of a raw (dict) or validated market-channel message; ``None`` if unrecognisable."""
    if isinstance(value, dict):
        event_type = value.get("event_type")
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
