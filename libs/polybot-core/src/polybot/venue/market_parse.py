"""Market-channel frames → typed messages → domain events. Pure; nothing here raises on bad input.

A frame is the text of one websocket message: a JSON object, a JSON array of objects, or the text ``PONG``
(skipped). Each item that fails validation is returned as an ``InvalidMessage`` (raw text truncated, reason)
and the rest of the frame is still used, so one bad message never stops the stream. The shell counts
``ingestion_msg_invalid`` and logs them.

``parse_rest_book`` reads a REST ``/book`` body (the resync fetch) into a ``VenueBook(source="rest")``.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from pydantic import ValidationError

from polybot.domain.book import Level, LevelChange
from polybot.domain.book_events import (
    BestBidAsk,
    LastTrade,
    MarketEvent,
    MarketResolved,
    NewMarket,
    TickSizeChanged,
    VenueBook,
    VenueDelta,
)
from polybot.venue.schemas import (
    MARKET_MESSAGE,
    MARKET_MESSAGES,
    REST_BOOK,
    BestBidAskMsg,
    BookMsg,
    LastTradePriceMsg,
    MarketMessage,
    MarketResolvedMsg,
    NewMarketMsg,
    PriceChangeV0,
    PriceChangeV1,
    PriceChangeV2,
    RestBook,
    TickSizeChangeMsg,
    WireLevel,
    market_tag,
)

RAW_LIMIT = 500  # characters of a bad message kept for the log
_KEEPALIVE = frozenset({"PONG", "PING", ""})


class MarketParseError(ValueError):
    """A payload the caller required to be valid (a REST book) is not."""


_KINDS = ("price", "size", "timestamp", "id")


@dataclass(frozen=True, slots=True)
class InvalidMessage:
    """One item that could not be used: why, its ``event_type`` if any, and its raw text (truncated).

    ``kind`` is the short reason for the ``ingestion_msg_invalid{reason}`` label: ``not_json``,
    ``unknown_event_type``, ``price``, ``size``, ``timestamp``, ``id`` or ``schema`` (a field missing or of
    the wrong type)."""

    reason: str
    raw: str
    event_type: str | None = None
    kind: str = "schema"


@dataclass(frozen=True, slots=True)
class ParsedFrame:
    events: list[MarketEvent] = field(default_factory=list)
    invalid: list[InvalidMessage] = field(default_factory=list)
    messages: int = 0  # valid venue messages in the frame


def _text(frame: bytes | str) -> str:
    return frame.decode("utf-8", "replace") if isinstance(frame, bytes | bytearray) else frame


def _truncate(raw: Any) -> str:
    if isinstance(raw, str):
        text = raw
    else:
        try:
            text = orjson.dumps(raw).decode()
        except orjson.JSONEncodeError:  # nested deeper than orjson writes (255) though not than it reads (1024)
            text = reprlib.repr(raw)
    return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + "…"


def _kind(exc: Exception) -> str:
    """The short reason of a validation failure (our validators' messages start with it)."""
    if isinstance(exc, ValidationError):
        for error in exc.errors(include_url=False):
            msg = str(error.get("msg", ""))
            for kind in _KINDS:
                if f"{kind}:" in msg:
                    return kind
    return "schema"


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False)
        if not errors:
            return "invalid"
        first = errors[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{first['type']} at {where or '<root>'}: {first['msg']}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def decode_market_frame(frame: bytes | str) -> tuple[list[MarketMessage], list[InvalidMessage]]:
    """Validate a frame into schema messages; invalid items are returned, never raised."""
    stripped = _text(frame).strip()
    if stripped in _KEEPALIVE:
        return [], []
    is_array = stripped[:1] == "["
    # Fast path for the dominant message, then the tagged union for everything valid.
    if not is_array and '"price_changes"' in stripped:
        try:
            return [PriceChangeV2.model_validate_json(stripped)], []
        except ValidationError:
            pass
    try:
        if is_array:
            return list(MARKET_MESSAGES.validate_json(stripped)), []
        return [MARKET_MESSAGE.validate_json(stripped)], []
    except ValidationError:
        pass
    try:
        raw = orjson.loads(stripped)
    except orjson.JSONDecodeError as exc:
        return [], [InvalidMessage(f"not JSON: {exc}"[:300], _truncate(stripped), kind="not_json")]
    items = raw if isinstance(raw, list) else [raw]
    good: list[MarketMessage] = []
    bad: list[InvalidMessage] = []
    for item in items:
        tag = market_tag(item)
        if tag is None:
            event_type = item.get("event_type") if isinstance(item, dict) else None
            bad.append(InvalidMessage(f"unknown event_type {event_type!r}"[:300], _truncate(item),
                                      event_type if isinstance(event_type, str) else None, "unknown_event_type"))
            continue
        try:
            good.append(MARKET_MESSAGE.validate_python(item))
        except ValidationError as exc:
            bad.append(InvalidMessage(_reason(exc), _truncate(item), tag, _kind(exc)))
    return good, bad


def parse_market_frame(frame: bytes | str, recv_ts_ms: int = 0) -> ParsedFrame:
    """Decode a frame and map each message to domain events (``recv_ts_ms`` stamped on each)."""
    messages, invalid = decode_market_frame(frame)
    events: list[MarketEvent] = []
    used = 0
    for msg in messages:
        try:
            events.extend(to_events(msg, recv_ts_ms))
            used += 1
        except (InvalidOperation, ValueError) as exc:
            invalid.append(InvalidMessage(_reason(exc), _truncate(msg.model_dump(mode="json")), market_tag(msg)))
    return ParsedFrame(events, invalid, used)


def _levels(levels: Sequence[WireLevel]) -> tuple[Level, ...]:
    return tuple(Level(Decimal(lv.price), Decimal(lv.size), lv.price, lv.size) for lv in levels)


def _opt_decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text else None


def _book(msg: BookMsg | RestBook, recv_ts_ms: int) -> VenueBook:
    is_rest = isinstance(msg, RestBook)
    return VenueBook(
        asset_id=msg.asset_id, market=msg.market, ts_ms=int(msg.timestamp) if msg.timestamp else 0,
        timestamp=msg.timestamp, bids=_levels(msg.bids), asks=_levels(msg.asks), hash=msg.hash or None,
        source="rest" if is_rest else "ws", tick_size=msg.tick_size or None,
        min_order_size=msg.min_order_size if isinstance(msg, RestBook) else None,
        neg_risk=msg.neg_risk if isinstance(msg, RestBook) else None,
        last_trade_price=msg.last_trade_price, recv_ts_ms=recv_ts_ms,
    )


def to_events(msg: MarketMessage, recv_ts_ms: int = 0) -> list[MarketEvent]:
    """Map one schema message to domain events (a v2 ``price_change`` gives one delta per entry)."""
    if isinstance(msg, PriceChangeV2):
        ts = int(msg.timestamp)
        market, timestamp = msg.market, msg.timestamp
        return [
            VenueDelta(e.asset_id, market, ts, timestamp,
                       (LevelChange(e.side, Decimal(e.price), Decimal(e.size), e.price, e.size),),
                       e.hash or None, "v2", Decimal(e.best_bid) if e.best_bid else None,
                       Decimal(e.best_ask) if e.best_ask else None, recv_ts_ms)
            for e in msg.price_changes
        ]
    if isinstance(msg, BookMsg | RestBook):
        return [_book(msg, recv_ts_ms)]
    if isinstance(msg, PriceChangeV1):
        changes = tuple(LevelChange.of(c.side, c.price, c.size) for c in msg.changes)
        return [VenueDelta(msg.asset_id, msg.market, int(msg.timestamp), msg.timestamp, changes, msg.hash or None,
                           "v1", recv_ts_ms=recv_ts_ms)]
    if isinstance(msg, PriceChangeV0):
        change = LevelChange.of(msg.side, msg.price, msg.size)
        return [VenueDelta(msg.asset_id, msg.market, int(msg.timestamp), msg.timestamp, (change,), msg.hash or None,
                           "v0", recv_ts_ms=recv_ts_ms)]
    if isinstance(msg, TickSizeChangeMsg):
        return [TickSizeChanged(msg.asset_id, msg.market, int(msg.timestamp), msg.old_tick_size, msg.new_tick_size,
                                recv_ts_ms)]
    if isinstance(msg, LastTradePriceMsg):
        return [LastTrade(msg.asset_id, msg.market, int(msg.timestamp), Decimal(msg.price), msg.price, msg.side,
                          _opt_decimal(msg.size), recv_ts_ms)]
    if isinstance(msg, BestBidAskMsg):
        return [BestBidAsk(msg.asset_id, msg.market, int(msg.timestamp), _opt_decimal(msg.best_bid),
                           _opt_decimal(msg.best_ask), _opt_decimal(msg.spread), recv_ts_ms)]
    if isinstance(msg, NewMarketMsg):
        return [NewMarket(msg.market, int(msg.timestamp), msg.assets_ids, msg.question, msg.slug,
                          msg.order_price_min_tick_size, recv_ts_ms)]
    if isinstance(msg, MarketResolvedMsg):
        return [MarketResolved(msg.market, int(msg.timestamp), msg.assets_ids, msg.winning_asset_id,
                               msg.winning_outcome, recv_ts_ms)]
    raise ValueError(f"unmapped message type {type(msg).__name__}")


def parse_rest_book(body: bytes | str, recv_ts_ms: int = 0) -> VenueBook:
    """A REST ``/book`` body as a ``VenueBook(source="rest")``; ``MarketParseError`` if invalid."""
    try:
        return _book(REST_BOOK.validate_json(body), recv_ts_ms)
    except (ValidationError, InvalidOperation, ValueError) as exc:
        raise MarketParseError(_reason(exc)) from exc
