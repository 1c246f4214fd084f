"""A fake ``OrderGateway`` for unit tests of the executor's logic: in memory, scripted, deterministic.

Orders rest until cancelled or filled by ``fill``; FAK / FOK orders never rest and match what ``ioc_fills``
scripts. ``reject_next``, ``unknown_next`` and ``fail_next`` script the venue's moods (a refusal, a lost
answer after which the order *does* rest, an outage).
Every call is recorded in ``calls``. It is the I/O-free twin of the SDK adapter, never a substitute for
the tests against polysim.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

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


@dataclass
class FakeGateway:
    name: str = "fake"
    resting: dict[str, VenueOrder] = field(default_factory=dict)
    fills: list[VenueTrade] = field(default_factory=list)
    calls: list[tuple[str, object]] = field(default_factory=list)
    reject_next: list[str] = field(default_factory=list)  # reasons, one per next place
    unknown_next: int = 0  # the next n places rest but answer "unknown" (a timeout)
    fail_next: list[GatewayError] = field(default_factory=list)  # raised by the next calls, one each
    heartbeats: int = 0
    ioc_fills: list[Decimal] = field(default_factory=list)  # what the next FAK / FOK orders match, one each
    _serial: int = 0

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    def order_id_of(self, req: OrderRequest) -> str:
        """Deterministic, like the venue's hash of the signed order."""
        return "0x" + hashlib.sha256(f"{req.client_id}:{req.asset_id}:{req.price}:{req.size}".encode()).hexdigest()

    async def place(self, orders: Sequence[OrderRequest]) -> list[PlaceAnswer]:
        self.calls.append(("place", tuple(orders)))
        if len(orders) > MAX_PLACE_BATCH:
            raise GatewayError(f"Too many orders in payload: {len(orders)}, max allowed: {MAX_PLACE_BATCH}",
                               status=400)
        self._maybe_fail()
        out: list[PlaceAnswer] = []
        for req in orders:
            if self.reject_next:
                out.append(PlaceAnswer(req.client_id, "rejected", error=self.reject_next.pop(0)))
                continue
            oid = self.order_id_of(req)
            if req.order_type in ("FAK", "FOK"):
                out.append(self._immediate(req, oid))
                continue
            self.resting[oid] = VenueOrder(oid, req.market, req.asset_id, req.side, req.price, req.size,
                                           Decimal(0), "LIVE")
            if self.unknown_next:
                self.unknown_next -= 1
                out.append(PlaceAnswer(req.client_id, "unknown", order_id=oid, error="timed out"))
            else:
                out.append(PlaceAnswer(req.client_id, "live", order_id=oid))
        return out

    def _immediate(self, req: OrderRequest, oid: str) -> PlaceAnswer:
        """An IOC never rests: it matches what ``ioc_fills`` scripts (nothing when unscripted)."""
        matched = min(self.ioc_fills.pop(0) if self.ioc_fills else Decimal(0), req.size)
        if matched <= 0 or (req.order_type == "FOK" and matched < req.size):
            code = "fok_not_filled" if req.order_type == "FOK" else "fak_not_filled"
            return PlaceAnswer(req.client_id, "rejected", oid, f"{code}: nothing to match")
        return PlaceAnswer(req.client_id, "matched", oid, size_matched=matched)

    async def cancel(self, order_ids: Sequence[str]) -> CancelAnswer:
        self.calls.append(("cancel", tuple(order_ids)))
        if len(order_ids) > MAX_CANCEL_BATCH:
            raise GatewayError("too many ids", status=400)
        self._maybe_fail()
        done = [oid for oid in order_ids if self.resting.pop(oid, None) is not None]
        missing = tuple((oid, "order not found or already canceled") for oid in order_ids if oid not in done)
        return CancelAnswer(tuple(done), missing)

    async def cancel_all(self, market: str | None = None) -> CancelAnswer:
        self.calls.append(("cancel_all", market))
        self._maybe_fail()
        ids = [oid for oid, o in self.resting.items() if market is None or o.market == market]
        for oid in ids:
            del self.resting[oid]
        return CancelAnswer(tuple(ids))

    async def open_orders(self, market: str | None = None) -> list[VenueOrder]:
        self.calls.append(("open_orders", market))
        self._maybe_fail()
        return [o for o in self.resting.values() if market is None or o.market == market]

    async def trades(self, after_ms: int) -> list[VenueTrade]:
        self.calls.append(("trades", after_ms))
        self._maybe_fail()
        return [t for t in self.fills if t.match_time_ms > after_ms]

    async def heartbeat(self, heartbeat_id: str | None) -> str:
        self.calls.append(("heartbeat", heartbeat_id))
        self._maybe_fail()
        self.heartbeats += 1
        return f"hb-{self.heartbeats}"

    def fill(self, order_id: str, size: Decimal, ts_ms: int, status: str = "MATCHED") -> VenueTrade:
        """The venue matched ``size`` of a resting order (a test's move)."""
        o = self.resting[order_id]
        self._serial += 1
        trade = VenueTrade(f"t{self._serial}", order_id, o.market, o.asset_id, o.side, o.price, size, status, ts_ms)
        matched = o.size_matched + size
        if matched >= o.original_size:
            del self.resting[order_id]
        else:
            self.resting[order_id] = VenueOrder(o.order_id, o.market, o.asset_id, o.side, o.price, o.original_size,
                                                matched, "LIVE", o.created_s)
        self.fills.append(trade)
        return trade
