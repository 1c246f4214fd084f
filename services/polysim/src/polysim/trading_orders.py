"""Turning one POST /order item into an engine order, with the venue's checks in the venue's order.

Checks (each with the venue's message, protocol note §3 and docs "Error Codes"): payload shape, owner = API key,
V1 layout only when enabled, signer = the key's wallet (its deposit wallet for signature type 3), maker
consistent with signatureType (``wallets``: the signer's proxy / Safe / deposit wallet, or a whitelisted pair),
EIP-712 signature (the POLY_1271 form for type 3), duplicate, price on tick and inside [tick, 1 - tick], size >=
the market's minimum (resting orders), GTD expiration at least ``gtd_min_ahead_s`` ahead. Balance, post-only
crossing and FOK/FAK outcomes are the engine's.

Since 2026-07-24 an accepted order's answer lists ``tradeIDs`` (the trades of its immediate fills), no longer
``transactionsHashes``: settlement is followed on the user channel or ``/data/trades``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, cast

from polysim.auth import ApiCreds
from polysim.exchange_api import NewOrder, OrderType
from polysim.order_signing import (
    InvalidPayload,
    SignedOrder,
    on_tick,
    order_digest,
    order_domain,
    order_id,
    order_struct_hash,
    parse_order,
    signer_of,
    snap_to_tick,
)
from polysim.trading_eip712 import same_address
from polysim.trading_state import TradingState
from polysim.trading_wire import amount
from polysim.wallets import owns_maker, poly1271_signer

INVALID_PAYLOAD = "Invalid order payload"
OWNER_MISMATCH = "the order owner has to be the owner of the API KEY"
SIGNER_MISMATCH = "the order signer address has to be the address of the API KEY"
INVALID_SIGNATURE = "invalid signature"
VERSION_MISMATCH = "order_version_mismatch"
INVALID_EXPIRATION = "invalid expiration"
DEPOSIT_WALLET_ONLY = "maker address not allowed, please use the deposit wallet flow"
POLY_1271 = 3
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


def _whitelisted(state: TradingState, wallet: str, owner: str) -> bool:
    return state.config.proxy_wallets.get(wallet.lower()) == owner.lower()


def _check_maker(state: TradingState, order: SignedOrder, owner: str) -> None:
    """The maker must be the signer (type 0) or a wallet of the key's EOA ``owner`` (types 1, 2, 3)."""
    kind = order.signature_type
    if state.config.require_deposit_wallet and kind != POLY_1271:
        raise OrderRejected(DEPOSIT_WALLET_ONLY)
    if kind == 0:
        if not same_address(order.maker, order.signer):
            raise OrderRejected(INVALID_SIGNATURE)
    elif kind in (1, 2) or (kind == POLY_1271 and order.version == 2):
        # On chain a proxy / Safe / deposit wallet belongs to the EOA it was derived from; the simulator also
        # accepts whitelisted (wallet, EOA) pairs for wallets it cannot derive.
        if kind == POLY_1271 and not same_address(order.maker, order.signer):
            raise OrderRejected(INVALID_SIGNATURE)
        if not (owns_maker(kind, order.maker, owner) or _whitelisted(state, order.maker, owner)):
            raise OrderRejected(INVALID_SIGNATURE)
    else:
        raise OrderRejected(INVALID_SIGNATURE)


def _signed_by(state: TradingState, order: SignedOrder, digest: bytes, neg_risk: bool, owner: str) -> bool:
    if order.signature_type == POLY_1271:
        signer = poly1271_signer(order.signature, order_domain(order, state.chain_id, neg_risk),
                                 order_struct_hash(order), order.signer, state.chain_id)
        return signer is not None and same_address(signer, owner)
    signer = signer_of(order, digest)
    return signer is not None and same_address(signer, order.signer)


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
    if order.signature_type == POLY_1271:
        # The deposit wallet signs (ERC-1271); the API key belongs to its owner EOA.
        if not (owns_maker(POLY_1271, order.signer, creds.address) or
                _whitelisted(state, order.signer, creds.address)):
            raise OrderRejected(SIGNER_MISMATCH)
    elif not same_address(order.signer, creds.address):
        raise OrderRejected(SIGNER_MISMATCH)
    _check_maker(state, order, creds.address)

    exchange = state.exchange
    asset_id = str(order.token_id)
    if exchange.market_of(asset_id) is None:
        raise OrderRejected(INVALID_PAYLOAD)
    neg_risk = exchange.neg_risk(asset_id)
    digest = order_digest(order, state.chain_id, neg_risk)
    oid = order_id(digest)
    if not _signed_by(state, order, digest, neg_risk, creds.address):
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
    expiration = live_until = 0
    if order_type == "GTD":
        if order.expiration < now_s + state.config.gtd_min_ahead_s:
            raise OrderRejected(INVALID_EXPIRATION, oid)
        expiration = order.expiration
        live_until = max(now_s, int(expiration - state.config.gtd_security_threshold_s))

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
        live_until_s=live_until,
    )


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
            "tradeIDs": list(result.trade_ids),
            "status": status,
            "takingAmount": amount(result.taking_amount),
            "makingAmount": amount(result.making_amount),
        },
    )


def is_post_only(item: Any) -> bool:
    """Whether a POST /order(s) item asks for post-only (what the post-only window lets through)."""
    return isinstance(item, dict) and item.get("postOnly") is True


def batch_item(placement: Placement) -> dict[str, Any]:
    """An entry of the POST /orders answer: failures are reported inline with ``success: false``."""
    if placement.status == 200:
        return placement.body
    return {
        "errorMsg": placement.body.get("error", ""),
        "orderID": "",
        "takingAmount": "",
        "makingAmount": "",
        "status": "",
        "success": False,
    }


def post_only_mode_item(message: str) -> dict[str, Any]:
    """A non-post-only entry of POST /orders during the post-only window, exactly the documented example."""
    return {"errorMsg": message, "orderID": "", "takingAmount": "", "makingAmount": "", "status": "",
            "success": True}
