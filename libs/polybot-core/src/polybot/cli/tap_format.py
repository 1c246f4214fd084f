"""How ``polybot tap`` prints one bus message: one line of text, or the message's own JSON with ``--json``.

Books are shown as their top of book (best bid and ask with sizes, ``epoch:seq``), not as their levels; plans
as their target orders; acks and fills as side, price and size. Anything else is its type and fields.
Long venue ids are shortened (``123456…7890``) in text; ``--json`` keeps every byte of the message.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from polybot.bus.codec import encode
from polybot.bus.messages import (
    BookDelta,
    BookLevel,
    BookSnapshot,
    BookStatus,
    BusMessage,
    KillSwitch,
    MarketPosition,
    OrderAck,
    OrderFill,
    QuotePlan,
)

_GENERIC_LIMIT = 400


def short(text: str | None, keep: int = 6) -> str:
    if text is None:
        return "-"
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-4:]}"


def _px(value: Decimal | None) -> str:
    return "-" if value is None else str(value)


def _level(levels: tuple[BookLevel, ...]) -> str:
    return f"{levels[0].price}x{levels[0].size}" if levels else "-"


def _clock(ts_ms: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts_ms / 1000)) + f".{ts_ms % 1000:03d}"


def summary(msg: BusMessage) -> str:
    """The text of one message, without time and subject."""
    if isinstance(msg, BookDelta):
        tail = " reset" if msg.reset else ""
        return (f"delta {short(msg.asset_id)} {msg.epoch}:{msg.seq} bid {_px(msg.best_bid)} ask {_px(msg.best_ask)} "
                f"changes {len(msg.changes)}{tail}")
    if isinstance(msg, BookSnapshot):
        tail = "" if msg.verified else " unverified"
        return (f"snapshot {short(msg.asset_id)} {msg.epoch}:{msg.seq} bid {_level(msg.bids)} ask {_level(msg.asks)} "
                f"levels {len(msg.bids)}/{len(msg.asks)} tick {msg.tick_size} ({msg.reason}){tail}")
    if isinstance(msg, BookStatus):
        why = f" ({msg.reason})" if msg.reason else ""
        return f"state {short(msg.asset_id)} {msg.epoch}:{msg.seq} {msg.state}{why}"
    if isinstance(msg, QuotePlan):
        orders = ", ".join(f"{o.side} {o.price}x{o.size} {short(o.asset_id, 4)}" for o in msg.orders) or "none"
        return (f"plan {short(msg.market)} seq {msg.seq} {msg.plan_id} ttl {msg.ttl_ms}ms [{orders}]"
                + (f" ({msg.reason})" if msg.reason else ""))
    if isinstance(msg, OrderAck):
        what = f" {msg.side} {_px(msg.price)}x{_px(msg.size)}" if msg.side else ""
        err = f" error: {msg.error}" if msg.error else ""
        return f"ack {msg.action} {msg.status}{what} order {short(msg.order_id)} plan {msg.plan_id}{err}"
    if isinstance(msg, OrderFill):
        return (f"fill {msg.side} {msg.price}x{msg.size} {short(msg.asset_id)} order {short(msg.order_id)} "
                f"{msg.status}")
    if isinstance(msg, MarketPosition):
        held = ", ".join(f"{short(p.asset_id, 4)} {p.size}" for p in msg.positions) or "none"
        return f"position {short(msg.market)} seq {msg.seq} held [{held}] open orders {len(msg.open_orders)}"
    if isinstance(msg, KillSwitch):
        return f"kill {'ENGAGED' if msg.engaged else 'cleared'}: {msg.reason}"
    fields: dict[str, Any] = msg.model_dump(mode="json", exclude={"type", "schema_version"})
    text = json.dumps(fields, separators=(",", ":"))
    return f"{msg.type} {text if len(text) <= _GENERIC_LIMIT else text[:_GENERIC_LIMIT] + '…'}"


def line(subject: str, msg: BusMessage, as_json: bool, now_ms: int) -> str:
    if as_json:
        return encode(msg).decode()
    ts = getattr(msg, "ts_ms", None)
    where = ".".join(short(t) if len(t) > 16 else t for t in subject.split("."))
    return f"{_clock(ts if isinstance(ts, int) else now_ms)} {where} {summary(msg)}"
