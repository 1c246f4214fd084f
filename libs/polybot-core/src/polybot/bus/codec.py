"""JSON codec for bus messages: orjson on the wire, readable by ``nats sub 'pb.>'``.

Decimals travel as strings so no amount ever passes through a float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from polybot.bus.messages import BusMessage

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


def decode(data: bytes) -> BusMessage:
    """Parse bytes into the message class named by its ``type`` tag."""
    try:
        return _ADAPTER.validate_json(data)
    except ValidationError as exc:
        raise DecodeError(str(exc)) from exc
