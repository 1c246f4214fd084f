"""The ``clob`` backend: ``OrderGateway`` over Polymarket's unified SDK (``polymarket-client``, pinned).

Every order call into the SDK is in this module (its market and quote reads are in
``polybot.venue.sdk_markets``), so an SDK upgrade touches few files. Live mode uses the SDK's
own ``PRODUCTION`` environment unchanged; sim mode points it at polysim through
``polybot.venue.sdk_environment`` (the only user of the SDK's private hook). What the adapter adds:

* the order id of every signed order is computed before it is posted (``polybot.venue.order_hash``), so a
  post that times out or loses its answer comes back ``unknown`` with the id, never as a rejection;
* orders are signed here and posted in batches of at most 15 (``post_orders``): GTC and GTD as limit
  orders, FAK and FOK (the venue's IOC, ``polybot market-trade``) as the SDK's price-protected market
  orders; the SDK's ``place_*`` helpers, which may send an on-chain approval when the venue answers
  "allowance is not enough", are never used, and an allowance refusal is a plain rejection
  (``allow_approvals`` stays a decision for a person);
* a heartbeat whose id the venue no longer expects is resent with the id the venue names;
* HTTP 425 (the matching engine restarting) and rate limits raise ``GatewayError`` marked ``paused``
  with the venue's retry-after: a pause, not an error rate event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from polymarket import AsyncSecureClient, OrderHeartbeatMismatchError, RateLimitError, RequestRejectedError
from polymarket.errors import PolymarketError, TransportError
from polymarket.models.clob.order_response import AcceptedOrder
from polymarket.models.clob.orders import SignedOrder

from polybot.venue.order_gateway import (
    MAX_CANCEL_BATCH,
    MAX_PLACE_BATCH,
    CancelAnswer,
    GatewayError,
    OrderRequest,
    PlaceAnswer,
    VenueOrder,
    VenueTrade,
)
from polybot.venue.order_hash import OrderFields, order_id


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _gateway_error(exc: Exception) -> GatewayError:
    if isinstance(exc, RateLimitError):
        return GatewayError(f"rate limited: {exc}", status=429, retry_after_s=exc.retry_after, paused=True)
    if isinstance(exc, RequestRejectedError):
        paused = exc.status == 425 or exc.restriction is not None
        return GatewayError(f"HTTP {exc.status}: {exc}", status=exc.status, retry_after_s=exc.retry_after,
                            paused=paused)
    return GatewayError(f"{type(exc).__name__}: {exc}")


class ClobGateway:
    name = "clob"

    def __init__(self, client: AsyncSecureClient, *, chain_id: int = 137, timeout_s: float = 5.0) -> None:
        self.client = client
        self.chain_id = chain_id
        self.timeout_s = timeout_s
        self.owner = client.wallet.lower()

    async def place(self, orders: Sequence[OrderRequest]) -> list[PlaceAnswer]:
        if len(orders) > MAX_PLACE_BATCH:
            raise GatewayError(f"at most {MAX_PLACE_BATCH} orders a batch", status=400)
        signed = []
        for req in orders:
            try:
                signed.append(await self._sign(req))
            except PolymarketError as exc:
                raise _gateway_error(exc) from exc
        ids = [order_id(OrderFields(s.salt, s.maker, s.signer, int(s.token_id), s.maker_amount, s.taker_amount,
                                    s.side, s.signature_type, s.timestamp, s.metadata, s.builder),
                        chain_id=self.chain_id, neg_risk=req.neg_risk) for s, req in zip(signed, orders, strict=True)]
        try:
            answers = await asyncio.wait_for(self.client.post_orders(signed), self.timeout_s)
        except (TimeoutError, TransportError, OSError) as exc:  # it may have reached the venue: unknown, with ids
            return [PlaceAnswer(req.client_id, "unknown", oid, f"{type(exc).__name__}: {exc}")
                    for req, oid in zip(orders, ids, strict=True)]
        except PolymarketError as exc:
            raise _gateway_error(exc) from exc
        out = []
        for req, oid, ans in zip(orders, ids, answers, strict=True):
            if isinstance(ans, AcceptedOrder):
                matched = Decimal(0)
                if ans.status == "matched":  # the size that filled on arrival: shares bought, or sold
                    matched = ans.taking_amount if req.side == "BUY" else ans.making_amount
                out.append(PlaceAnswer(req.client_id, ans.status, ans.order_id or oid, None, tuple(ans.trade_ids),
                                       matched))
            else:
                # the id it would have had: an IOC that found nothing to match is still an order sent
                out.append(PlaceAnswer(req.client_id, "rejected", oid, f"{ans.code}: {ans.message}"))
        return out

    async def _sign(self, req: OrderRequest) -> SignedOrder:
        """A limit order (GTC, GTD) or an immediate one (FAK, FOK: the venue's IOC, never resting).

        An immediate order is the SDK's market order with its price protected at ``req.price``: a BUY
        spends at most price × size USDC (the SDK keeps whole cents, so a sub-cent notional buys a little
        less), a SELL sells ``size`` shares at ``req.price`` or better.
        """
        if req.order_type in ("FAK", "FOK"):
            if req.side == "BUY":
                return await self.client.create_market_order(
                    token_id=req.asset_id, side="BUY", amount=req.price * req.size, max_price=req.price,
                    order_type=req.order_type)
            return await self.client.create_market_order(
                token_id=req.asset_id, side="SELL", shares=req.size, min_price=req.price, order_type=req.order_type)
        return await self.client.create_limit_order(
            token_id=req.asset_id, price=req.price, size=req.size, side=req.side, post_only=req.post_only,
            expiration=req.expiration_s if req.order_type == "GTD" else None)

    async def cancel(self, order_ids: Sequence[str]) -> CancelAnswer:
        if not order_ids:
            return CancelAnswer()
        if len(order_ids) > MAX_CANCEL_BATCH:
            raise GatewayError(f"at most {MAX_CANCEL_BATCH} ids a cancel", status=400)
        try:
            ans = await asyncio.wait_for(self.client.cancel_orders(order_ids=list(order_ids)), self.timeout_s)
        except (PolymarketError, TimeoutError, OSError) as exc:
            raise _gateway_error(exc) from exc
        return CancelAnswer(tuple(ans.canceled), tuple(ans.not_canceled.items()))

    async def cancel_all(self, market: str | None = None) -> CancelAnswer:
        try:
            call = self.client.cancel_all() if market is None else self.client.cancel_market_orders(market=market)
            ans = await asyncio.wait_for(call, self.timeout_s)
        except (PolymarketError, TimeoutError, OSError) as exc:
            raise _gateway_error(exc) from exc
        return CancelAnswer(tuple(ans.canceled), tuple(ans.not_canceled.items()))

    async def open_orders(self, market: str | None = None) -> list[VenueOrder]:
        try:
            listed = [o async for o in self.client.list_open_orders(market=market).iter_items()]
        except (PolymarketError, OSError) as exc:
            raise _gateway_error(exc) from exc
        return [VenueOrder(o.id, o.condition_id, o.asset_id, o.side, o.price, o.original_size, o.size_matched,
                           o.status, int(o.created_at.timestamp())) for o in listed]

    async def trades(self, after_ms: int) -> list[VenueTrade]:
        try:
            listed = [t async for t in self.client.list_account_trades(after=str(after_ms // 1000)).iter_items()]
        except (PolymarketError, OSError) as exc:
            raise _gateway_error(exc) from exc
        out: list[VenueTrade] = []
        for t in listed:
            when = _ms(t.matched_at)
            if t.trader_side == "TAKER":
                out.append(VenueTrade(t.id, t.taker_order_id, t.condition_id, t.asset_id, t.side, t.price, t.size,
                                      t.status, when, _fee(t.price, t.size, t.fee_rate_bps)))
            for m in t.maker_orders:  # our resting orders that were hit, at their own price
                if m.maker_address.lower() == self.owner:
                    out.append(VenueTrade(t.id, m.order_id, t.condition_id, m.asset_id, m.side, m.price,
                                          m.matched_amount, t.status, when))
        return out

    async def heartbeat(self, heartbeat_id: str | None) -> str:
        try:
            try:
                beat = await self.client.send_order_heartbeat(heartbeat_id=heartbeat_id or "")
            except OrderHeartbeatMismatchError as mismatch:  # a restarted sender: join the venue's chain
                beat = await self.client.send_order_heartbeat(heartbeat_id=mismatch.heartbeat_id)
        except (PolymarketError, OSError) as exc:
            raise _gateway_error(exc) from exc
        return beat.heartbeat_id

    async def close(self) -> None:
        await self.client.close()


def _fee(price: Decimal, size: Decimal, fee_rate_bps: Decimal | None) -> Decimal:
    """A taker's fee in USDC: the venue's rate on min(p, 1 − p) × size (makers pay none)."""
    if not fee_rate_bps:
        return Decimal(0)
    return (fee_rate_bps / Decimal(10_000)) * min(price, 1 - price) * size
