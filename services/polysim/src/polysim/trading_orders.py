"""Turning one POST /order item into an engine order, with the venue's checks in the venue's order.

Checks (each with the venue's message, protocol note §3 and docs "Error Codes"): payload shape, owner = API key,
V1 layout only when enabled, signer = the key's wallet, maker consistent with signatureType, EIP-712 signature,
duplicate, price on tick and inside [tick, 1 - tick], size >= the market's minimum (resting orders), GTD
expiration in the future. Balance, post-only crossing and FOK/FAK outcomes are the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, cast

from polysim.auth import ApiCreds
from polysim.exchange_api import NewOrder, OrderType, PlaceResult
from polysim.order_signing import (
    InvalidPayload,
    SignedOrder,
    on_tick,
    order_digest,
    order_id,
    parse_order,
    signer_of,
    snap_to_tick,
)
from polysim.trading_eip712 import same_address
from polysim.trading_state import TradingState
from polysim.trading_wire import amount, derived_transaction_hash, transaction_hash

INVALID_PAYLOAD = "Invalid order payload"
OWNER_MISMATCH = "the order owner has to be the owner of the API KEY"
SIGNER_MISMATCH = "the order signer address has to be the address of the API KEY"
INVALID_SIGNATURE = "invalid signature"
VERSION_MISMATCH = "order_version_mismatch"
INVALID_EXPIRATION = "invalid expiration"
_ORDER_TYPES = ("GTC", "GTD", "FOK", "FAK")
_RESTING = ("GTC", "GTD")


class OrderRejected(Exception):
    """An order refused before reaching the engine (HTTP 400 with the venue's message)."""

    def __init__(self, message: str, order_id_: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.order_id = order_id_


@dataclass(frozen=True, slots=True)
class Placement:
    """Outcome of one placement: HTTP status and the JSON body the venue would send."""

    status: int
    body: dict[str, Any]


def _fmt_price(price: Decimal) -> str:
    # The venue prints the implied price as a float would ("0.8400114241553685").
    return format(price.normalize(), ".16g")


def _check_maker(state: TradingState, order: SignedOrder) -> None:
    if order.signature_type == 0:
        if not same_address(order.maker, order.signer):
            raise OrderRejected(INVALID_SIGNATURE)
    elif order.signature_type in (1, 2):
        # On chain a proxy/safe belongs to its signer; the simulator whitelists those pairs instead.
        owner = state.config.proxy_wallets.get(order.maker.lower())
        if owner is None or owner != order.signer.lower():
            raise OrderRejected(INVALID_SIGNATURE)
    else:
        raise OrderRejected(INVALID_SIGNATURE)


def build_order(state: TradingState, creds: ApiCreds, item: Any, now_s: int) -> NewOrder:
    """Validate one ``{"order", "owner", "orderType", "postOnly"}`` item; raise ``OrderRejected`` if invalid."""
    if not isinstance(item, dict):
        raise OrderRejected(INVALID_PAYLOAD)
    order_type = item.get("orderType", "GTC")
    post_only = item.get("postOnly", False)
    if order_type not in _ORDER_TYPES or not isinstance(post_only, bool):
        raise OrderRejected(INVALID_PAYLOAD)
    if post_only and order_type not in _RESTING:
        raise OrderRejected(INVALID_PAYLOAD)
    try:
        order = parse_order(item.get("order"))
    except InvalidPayload as exc:
        raise OrderRejected(INVALID_PAYLOAD) from exc
    if item.get("owner") != creds.api_key:
        raise OrderRejected(OWNER_MISMATCH)
    if order.version == 1 and not state.accept_v1_orders:
        raise OrderRejected(VERSION_MISMATCH)
    if not same_address(order.signer, creds.address):
        raise OrderRejected(SIGNER_MISMATCH)
    _check_maker(state, order)

    exchange = state.exchange
    asset_id = str(order.token_id)
    if exchange.market_of(asset_id) is None:
        raise OrderRejected(INVALID_PAYLOAD)
    digest = order_digest(order, state.chain_id, exchange.neg_risk(asset_id))
    oid = order_id(digest)
    signer = signer_of(order, digest)
    if signer is None or not same_address(signer, order.signer):
        raise OrderRejected(INVALID_SIGNATURE, oid)
    if exchange.order(creds.api_key, oid) is not None:
        raise OrderRejected(f"order {oid} is invalid. Duplicated.", oid)

    tick = exchange.tick_size(asset_id)
    raw_price = order.price
    price: Decimal | None = raw_price if on_tick(raw_price, tick) else None
    if price is None and order_type not in _RESTING:
        price = snap_to_tick(raw_price, tick, state.config.market_order_tick_tolerance)
    if price is None or price < tick or price > 1 - tick:
        raise OrderRejected(
            f"order {oid} is invalid. Price ({_fmt_price(raw_price)}) breaks minimum tick size rule: {tick}", oid
        )
    size = order.shares
    min_size = exchange.min_order_size(asset_id)
    if order_type in _RESTING and size < min_size:
        raise OrderRejected(
            f"order {oid} is invalid. Size ({size.normalize()}) lower than the minimum: {min_size}", oid
        )
    expiration = 0
    if order_type == "GTD":
        if order.expiration <= now_s:
            raise OrderRejected(INVALID_EXPIRATION, oid)
        expiration = order.expiration

    return NewOrder(
        order_id=oid,
        owner=creds.api_key,
        maker_address=order.maker,
        asset_id=asset_id,
        side=order.side,
        price=price,
        size=size,
        order_type=cast(OrderType, order_type),
        post_only=post_only,
        expiration_s=expiration,
    )


def _trade_hashes(state: TradingState, result: PlaceResult) -> list[str]:
    # An engine with a by-id lookup may carry real hashes; otherwise the hash is derived from the trade id,
    # exactly as /data/trades derives it, without scanning the account's whole trade history.
    lookup = getattr(state.exchange, "trade", None)
    hashes = []
    for trade_id in result.trade_ids:
        view = lookup(trade_id) if lookup is not None else None
        hashes.append(transaction_hash(view) if view is not None else derived_transaction_hash(trade_id))
    return hashes


def place_one(state: TradingState, creds: ApiCreds, item: Any) -> Placement:
    """Validate and place one order; the answer the venue gives for it."""
    now_ms = state.now_ms()
    try:
        new = build_order(state, creds, item, now_ms // 1000)
    except OrderRejected as exc:
        return Placement(400, {"error": exc.message})
    result = state.exchange.place(new, now_ms)
    if not result.ok:
        return Placement(400, {"error": result.error or "could not insert order"})
    status = cast(Literal["live", "matched", "delayed", "unmatched", "canceled"], result.status.lower())
    return Placement(
        200,
        {
            "success": True,
            "errorMsg": "",
            "orderID": new.order_id,
            "transactionsHashes": _trade_hashes(state, result),
            "tradeIDs": list(result.trade_ids),
            "status": status,
            "takingAmount": amount(result.taking_amount),
            "makingAmount": amount(result.making_amount),
        },
    )


def batch_item(placement: Placement) -> dict[str, Any]:
    """An entry of the POST /orders answer: failures are reported inline with ``success: false``."""
    if placement.status == 200:
        return placement.body
    return {
        "success": False,
        "errorMsg": placement.body.get("error", ""),
        "orderID": "",
        "transactionsHashes": [],
        "status": "",
        "takingAmount": "",
        "makingAmount": "",
    }
