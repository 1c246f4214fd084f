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
  with the venue's retry-after: a pause, not an error rate event;
* our copy of the signer's order and cancel buckets (``polybot.domain.venue_limits``), sized from
  ``GET /v1/user/rate-limit-tier`` (read before the first order or cancel, and again after a 429 or a header
  naming another tier) and corrected by every answer's ``Poly-RateLimit-*`` headers: a batch the bucket does
  not cover whole is refused here, before signing, as a pause with the wait. ``cancel_all`` is never refused
  here (the kill switch must reach the venue); its cost is charged afterwards. The SDK has no call for the
  tier and sets its header listener only at ``create``: both are reached through its private transport
  (``_sdk_clob``), which fails loudly if it moves.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from polymarket import (
    AsyncSecureClient,
    OrderHeartbeatMismatchError,
    RateLimitError,
    RateLimitUpdate,
    RequestRejectedError,
)
from polymarket.errors import PolymarketError, TransportError
from polymarket.models.clob.order_response import AcceptedOrder
from polymarket.models.clob.orders import SignedOrder

from polybot.domain.venue_limits import Kind, RateLimitHeaders, TierParseError, VenueLimits, tier_from_json
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


TIER_PATH = "/v1/user/rate-limit-tier"
TIER_RETRY_MS = 30_000  # a tier read that failed is tried again after this; the lowest tier meanwhile


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _sdk_clob(client: AsyncSecureClient) -> Any:
    """The SDK's authenticated CLOB transport (private: ``_ctx.secure_clob``)."""
    transport = getattr(getattr(client, "_ctx", None), "secure_clob", None)
    if transport is None or not hasattr(transport, "_on_rate_limit_update"):
        raise RuntimeError("polymarket-client moved its private CLOB transport (_ctx.secure_clob): "
                           "the rate-limit tier and headers cannot be read")
    return transport


def _headers(update: RateLimitUpdate | None) -> RateLimitHeaders:
    if update is None:
        return RateLimitHeaders()
    return RateLimitHeaders(None if update.remaining is None else int(update.remaining // 1),
                            None if update.reset is None else int(update.reset), update.tier, update.warning)


class ClobGateway:
    name = "clob"

    def __init__(self, client: AsyncSecureClient, *, chain_id: int = 137, timeout_s: float = 5.0,
                 clock_ms: Callable[[], int] = _wall_ms, local_limits: bool = True) -> None:
        self.client = client
        self.chain_id = chain_id
        self.timeout_s = timeout_s
        self.owner = client.wallet.lower()
        self.limits = VenueLimits()
        self.local_refusals = 0  # batches our buckets refused before sending
        self.local_limits = local_limits  # off only where the venue's are off too (benches against polysim)
        self._clock_ms = clock_ms
        self._tier_retry_at = 0
        self._inflight: Counter[Kind] = Counter()
        self._corrections = 0
        self._clob = _sdk_clob(client)
        chained = self._clob._on_rate_limit_update

        def listen(update: RateLimitUpdate) -> None:
            self._on_rate_limit(update)
            if chained is not None:
                chained(update)

        self._clob._on_rate_limit_update = listen

    def _on_rate_limit(self, update: RateLimitUpdate) -> None:
        # The SDK does not say which request answered: only when one kind is in flight is it unambiguous.
        kinds = [k for k, n in self._inflight.items() if n > 0]
        if len(kinds) == 1:
            self._corrections += 1
            self.limits.correct(kinds[0], _headers(update), self._clock_ms())

    async def _read_tier(self) -> None:
        now = self._clock_ms()
        if not self.limits.tier_stale or now < self._tier_retry_at:
            return
        try:
            body = await asyncio.wait_for(self._clob.get_json(TIER_PATH), self.timeout_s)
            self.limits.set_tier(tier_from_json(body), self._clock_ms())
        except (PolymarketError, TimeoutError, OSError, TierParseError, TypeError):
            self._tier_retry_at = now + TIER_RETRY_MS  # the current (at first the lowest) tier stays

    async def _take(self, kind: Kind, n: int) -> None:
        """Refuse the whole request here unless our bucket covers every entry."""
        if not self.local_limits:
            return
        await self._read_tier()
        now = self._clock_ms()
        if self.limits.try_take(kind, n, now):
            return
        self.local_refusals += 1
        wait = self.limits.wait_ms(kind, n, now)
        if wait is None:
            raise GatewayError(f"{n} {kind}s exceed the {self.limits.tier.name} tier's burst of "
                               f"{self.limits.burst(kind)}: split the batch", status=400)
        raise GatewayError(f"local rate limit: {n} {kind} tokens not available ({self.limits.tier.name} tier)",
                           retry_after_s=wait / 1000, paused=True)

    def _rate_limited(self, kind: Kind, exc: Exception) -> None:
        if isinstance(exc, RateLimitError):
            self.limits.correct(kind, _headers(exc.rate_limit), self._clock_ms())
            self.limits.tier_stale = True
            self._tier_retry_at = 0

    async def place(self, orders: Sequence[OrderRequest]) -> list[PlaceAnswer]:
        if len(orders) > MAX_PLACE_BATCH:
            raise GatewayError(f"at most {MAX_PLACE_BATCH} orders a batch", status=400)
        if not orders:
            return []
        await self._take("order", len(orders))
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
            self._inflight["order"] += 1
            answers = await asyncio.wait_for(self.client.post_orders(signed), self.timeout_s)
        except (TimeoutError, TransportError, OSError) as exc:  # it may have reached the venue: unknown, with ids
            return [PlaceAnswer(req.client_id, "unknown", oid, f"{type(exc).__name__}: {exc}")
                    for req, oid in zip(orders, ids, strict=True)]
        except PolymarketError as exc:
            self._rate_limited("order", exc)
            raise _gateway_error(exc) from exc
        finally:
            self._inflight["order"] -= 1
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
        await self._take("cancel", len(order_ids))
        try:
            self._inflight["cancel"] += 1
            ans = await asyncio.wait_for(self.client.cancel_orders(order_ids=list(order_ids)), self.timeout_s)
        except (PolymarketError, TimeoutError, OSError) as exc:
            self._rate_limited("cancel", exc)
            raise _gateway_error(exc) from exc
        finally:
            self._inflight["cancel"] -= 1
        return CancelAnswer(tuple(ans.canceled), tuple(ans.not_canceled.items()))

    async def cancel_all(self, market: str | None = None) -> CancelAnswer:
        heard = self._corrections
        try:
            self._inflight["cancel"] += 1
            call = self.client.cancel_all() if market is None else self.client.cancel_market_orders(market=market)
            ans = await asyncio.wait_for(call, self.timeout_s)
        except (PolymarketError, TimeoutError, OSError) as exc:
            self._rate_limited("cancel", exc)
            raise _gateway_error(exc) from exc
        finally:
            self._inflight["cancel"] -= 1
        if self._corrections == heard:  # no header to follow: charge what the venue charged, into debt if need be
            self.limits.charge("cancel", 1 + len(ans.canceled), self._clock_ms())
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
