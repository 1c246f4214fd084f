"""JSON shapes of orders and trades exactly as the venue sends them (REST ``/data/*`` and the user channel).

Shapes follow the recorded payloads in ``shared/fixtures/polymarket/ws_user/`` and
``rest_clob/data_trades_item_2024-09.json``: decimals as plain strings ("5", "0.513"), ``created_at`` /
``match_time`` in seconds, ``timestamp`` in milliseconds as a string. The top-level ``owner`` and
``maker_address`` of a trade describe the taker order; an account finds its own fills in ``maker_orders``.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from eth_utils.crypto import keccak

from polysim.exchange_api import MakerFill, OrderEvent, OrderView, TradeEvent, TradeView

END_CURSOR = "LTE="
START_CURSOR = "MA=="


def dec(value: Decimal) -> str:
    """A decimal as the venue prints it: no exponent, no trailing zeros ("5", "0.513", "247.68")."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def amount(value: Decimal) -> str:
    """Amounts in a placement answer: "" when nothing matched."""
    return "" if value == 0 else dec(value)


def derived_transaction_hash(trade_id: str) -> str:
    """The settlement hash the simulated chain gives a trade that has none of its own."""
    return "0x" + keccak(text=trade_id).hex()


def transaction_hash(trade: TradeView) -> str:
    """The settlement hash of a trade: the engine's, else derived from the trade id."""
    return trade.transaction_hash or derived_transaction_hash(trade.trade_id)


def order_json(view: OrderView) -> dict[str, Any]:
    """One OpenOrder as ``GET /data/orders`` and ``GET /data/order/{id}`` return it."""
    return {
        "id": view.order_id,
        "status": view.status,
        "owner": view.owner,
        "maker_address": view.maker_address,
        "market": view.market,
        "asset_id": view.asset_id,
        "side": view.side,
        "original_size": dec(view.original_size),
        "size_matched": dec(view.size_matched),
        "price": dec(view.price),
        "outcome": view.outcome,
        "expiration": str(view.expiration_s),
        "order_type": view.order_type,
        "associate_trades": list(view.associate_trades),
        "created_at": view.created_at_s,
    }


def order_event_json(event: OrderEvent) -> dict[str, Any]:
    """A user-channel ``order`` event."""
    view = event.order
    return {
        "asset_id": view.asset_id,
        "associate_trades": list(view.associate_trades) or None,
        "created_at": str(view.created_at_s),
        "event_type": "order",
        "expiration": str(view.expiration_s),
        "id": view.order_id,
        "maker_address": view.maker_address,
        "market": view.market,
        "order_owner": view.owner,
        "order_type": view.order_type,
        "original_size": dec(view.original_size),
        "outcome": view.outcome,
        "owner": view.owner,
        "price": dec(view.price),
        "side": view.side,
        "size_matched": dec(view.size_matched),
        "status": view.status,
        "timestamp": str(event.ts_ms),
        "type": event.kind,
    }


def _maker_json(fill: MakerFill) -> dict[str, Any]:
    return {
        "order_id": fill.order_id,
        "owner": fill.owner,
        "maker_address": fill.maker_address,
        "matched_amount": dec(fill.matched_amount),
        "price": dec(fill.price),
        "fee_rate_bps": str(fill.fee_rate_bps),
        "asset_id": fill.asset_id,
        "outcome": fill.outcome,
        "side": fill.side,
    }


def trader_side(trade: TradeView, owner: str) -> str:
    """TAKER when ``owner`` sent the taker order, else MAKER."""
    return "TAKER" if trade.taker_owner and trade.taker_owner == owner else "MAKER"


def trade_json(trade: TradeView, owner: str, last_update_s: int | None = None) -> dict[str, Any]:
    """One TradeReport as ``GET /data/trades`` returns it, seen by ``owner``."""
    return {
        "id": trade.trade_id,
        "taker_order_id": trade.taker_order_id,
        "market": trade.market,
        "asset_id": trade.asset_id,
        "side": trade.side,
        "size": dec(trade.size),
        "fee_rate_bps": "0",
        "price": dec(trade.price),
        "status": trade.status,
        "match_time": str(trade.match_time_s),
        "last_update": str(last_update_s if last_update_s is not None else trade.match_time_s),
        "outcome": trade.outcome,
        "bucket_index": 0,
        "owner": trade.taker_owner,
        "maker_address": trade.taker_address,
        "transaction_hash": transaction_hash(trade),
        "maker_orders": [_maker_json(m) for m in trade.maker_orders],
        "trader_side": trader_side(trade, owner),
    }


def match_time_spelling(mode: str, status: str) -> str:
    """The key a trade event's match time goes under: ``match_time`` (the recordings), ``matchtime`` (also seen
    in 2026) or, ``mixed``, ``matchtime`` on MATCHED events and ``match_time`` on the later ones."""
    if mode == "matchtime" or (mode == "mixed" and status == "MATCHED"):
        return "matchtime"
    return "match_time"


def trade_event_json(event: TradeEvent, owner: str, match_time_key: str = "match_time") -> dict[str, Any]:
    """A user-channel ``trade`` event for subscriber ``owner``."""
    body = trade_json(event.trade, owner, last_update_s=event.ts_ms // 1000)
    if match_time_key != "match_time":
        body = {(match_time_key if k == "match_time" else k): v for k, v in body.items()}
    body.update(
        {
            "event_type": "trade",
            "type": "TRADE",
            "trade_owner": event.trade.taker_owner,
            "timestamp": str(event.ts_ms),
        }
    )
    return body


def encode_cursor(offset: int) -> str:
    """Cursor for the page starting at ``offset`` (base64 of the decimal offset, like the venue's "MA==")."""
    return base64.b64encode(str(offset).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """Offset of a cursor; raises ValueError on garbage. ``LTE=`` (end) decodes to -1."""
    if not cursor:
        return 0
    offset = int(base64.b64decode(cursor, validate=True).decode())
    if offset < -1:
        raise ValueError("negative cursor")
    return offset


def page(items: list[dict[str, Any]], cursor: str | None, size: int) -> dict[str, Any]:
    """One page of a cursor-paginated listing; the last page's ``next_cursor`` is ``LTE=``."""
    offset = decode_cursor(cursor)
    if offset < 0:
        return {"data": [], "next_cursor": END_CURSOR, "limit": size, "count": 0}
    chunk = items[offset : offset + size]
    end = offset + len(chunk)
    next_cursor = encode_cursor(end) if end < len(items) else END_CURSOR
    return {"data": chunk, "next_cursor": next_cursor, "limit": size, "count": len(chunk)}
