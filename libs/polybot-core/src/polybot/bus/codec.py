"""JSON codec for bus messages: orjson on the wire, readable by ``nats sub 'pb.>'``.

Decimals travel as strings so no amount ever passes through a float.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from polybot.bus.messages import BookDelta, BusMessage

_ADAPTER: TypeAdapter[BusMessage] = TypeAdapter(BusMessage)


class DecodeError(ValueError):
    """A payload on the bus is not a known, valid message."""


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def encode(msg: BusMessage) -> bytes:
    """Serialize a message to compact JSON bytes."""
    return orjson.dumps(msg.model_dump(mode="python"), default=_default)


_DELTA_VERSION = BookDelta.model_fields["schema_version"].default


def encode_book_delta(asset_id: str, market: str, seq: int, ts_ms: int, recv_ts_ms: int,
                      changes: Iterable[tuple[str, Decimal, Decimal]], hash_: str | None,
                      best_bid: Decimal | None, best_ask: Decimal | None, epoch: int = 0,
                      reset: bool = False) -> bytes:
    """Exactly ``encode(BookDelta(...))`` without building the models: the ingestor sends thousands a second,
    and validating what it has just computed would cost more than publishing it."""
    return orjson.dumps({
        "schema_version": _DELTA_VERSION, "type": "book.delta", "asset_id": asset_id, "market": market, "seq": seq,
        "ts_ms": ts_ms, "recv_ts_ms": recv_ts_ms,
        "changes": [{"side": side, "price": str(price), "size": str(size)} for side, price, size in changes],
        "hash": hash_, "best_bid": None if best_bid is None else str(best_bid),
        "best_ask": None if best_ask is None else str(best_ask), "epoch": epoch, "reset": reset,
    })


def decode(data: bytes) -> BusMessage:
    """Parse bytes into the message class named by its ``type`` tag."""
    try:
        return _ADAPTER.validate_json(data)
    except ValidationError as exc:
        raise DecodeError(str(exc)) from exc
