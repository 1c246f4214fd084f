"""Execute one quote plan: reconcile the target against our live orders, cancel, then place.

Cancels go first (a replace must never briefly double our exposure), in batches of at most 1,000; places
follow in batches of at most 15, each checked against the risk limits first (a refused place is acked
``refused`` and never sent). A market halted by a breach gets no places: its orders are cancelled and the
plan ends ``halted``. An unknown order (lost answer) counts as resting and is never placed twice; a
cancel it needs waits for its id to be confirmed (``LiveOrders.cancel_wanted``).

The result is one ``PlanRun``: the audit row (intents, acks, errors, outcome, duration) and the acks to
publish. Outcomes: ``executed`` (every action done), ``partial`` (some refused or rejected), ``failed``
(the venue could not be reached, or paused: nothing is assumed done), ``halted``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from polybot.app.execute.live_orders import LiveOrders, OrderRecord, OrderState
from polybot.bus.messages import OrderAck, QuotePlan
from polybot.domain.inventory import Inventory
from polybot.domain.quote_inputs import TargetOrder
from polybot.domain.reconcile import Reconciliation, Tolerance, reconcile
from polybot.domain.risk import RiskGuard
from polybot.venue.order_gateway import (
    MAX_CANCEL_BATCH,
    MAX_PLACE_BATCH,
    GatewayError,
    OrderGateway,
    OrderRequest,
    PlaceAnswer,
)

PlaceAck = Literal["accepted", "rejected", "unknown", "refused"]


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class PlanRun:
    plan_id: str
    market: str
    plan: dict[str, Any]
    outcome: str = "executed"
    intents: dict[str, Any] = field(default_factory=dict)
    acks: list[OrderAck] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    paused: bool = False  # the venue asked us to wait (425): not an error for the limits


@dataclass(frozen=True, slots=True)
class MarketTerms:
    """What placing an order in the market needs beyond the plan."""

    neg_risk: bool = False


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class PlanRunner:
    def __init__(self, gateway: OrderGateway, orders: LiveOrders, guard: RiskGuard, inventory: Inventory, *,
                 max_open: int, post_only: bool = True, clock_ms: Callable[[], int] = _wall_ms) -> None:
        self.gateway = gateway
        self.orders = orders
        self.guard = guard
        self.inventory = inventory
        self.max_open = max_open
        self.post_only = post_only
        self.clock_ms = clock_ms

    async def run(self, plan: QuotePlan, terms: MarketTerms = MarketTerms()) -> PlanRun:
        started = time.perf_counter()
        out = PlanRun(plan.plan_id, plan.market, plan.model_dump(mode="json"))
        try:
            halt = self.guard.halted(plan.market)
            if halt is not None:
                out.outcome = "halted"
                out.errors.append(halt.reason)
                await self._cancel(plan, [o.order_id for o in self.orders.resting(plan.market)], out)
                return out
            targets = [TargetOrder(o.asset_id, o.side, o.price, o.size) for o in plan.orders]
            live = [o.as_ours() for o in self.orders.resting(plan.market)]
            rec = reconcile(targets, live, Tolerance(plan.tick_size, plan.keep_ticks, plan.keep_size_frac),
                            max_open=self.max_open)
            out.intents = _intents(rec)
            await self._cancel(plan, [o.order_id for o in rec.cancels], out)
            await self._place(plan, terms, rec.places, out)
            if out.outcome == "executed" and (rec.dropped or any(a.status in ("rejected", "refused")
                                                                  for a in out.acks)):
                out.outcome = "partial"
        except GatewayError as exc:
            out.outcome = "failed"
            out.paused = exc.paused
            out.errors.append(str(exc))
            if not exc.paused:  # the venue failing counts toward the error rate; its 425 pause does not
                self.guard.observe_action(False, self.clock_ms())
        finally:
            out.duration_ms = (time.perf_counter() - started) * 1000
        return out

    async def _cancel(self, plan: QuotePlan, order_ids: list[str], out: PlanRun) -> None:
        now = self.clock_ms()
        sendable = []
        for oid in order_ids:
            rec = self.orders.by_id.get(oid)
            if rec is not None and rec.state == "unknown":
                self.orders.want_cancel(oid)  # cancelled as soon as the venue confirms it exists
                continue
            sendable.append(oid)
        for chunk in _chunks(sendable, MAX_CANCEL_BATCH):
            for oid in chunk:
                self.orders.set_state(oid, "canceling")
            try:
                answer = await self.gateway.cancel(list(chunk))
            except GatewayError:
                for oid in chunk:
                    self.orders.set_state(oid, "live")  # not known to be gone: still resting for reconcile
                raise
            gone = {*answer.canceled, *(oid for oid, _ in answer.not_canceled)}
            for rec in self.orders.remove(gone):
                canceled = rec.order_id in answer.canceled
                out.acks.append(OrderAck(plan_id=plan.plan_id, market=plan.market, asset_id=rec.asset_id,
                                         action="cancel", status="canceled" if canceled else "not_canceled",
                                         order_id=rec.order_id, side=rec.side, price=rec.price, size=rec.remaining,
                                         error=None if canceled else dict(answer.not_canceled).get(rec.order_id),
                                         ts_ms=now))
            for oid in chunk:
                if oid not in gone:
                    self.orders.set_state(oid, "live")

    async def _place(self, plan: QuotePlan, terms: MarketTerms, places: Sequence[TargetOrder], out: PlanRun) -> None:
        requests: list[OrderRequest] = []
        now = self.clock_ms()
        notional = self.inventory.cost_usdc() + self.orders.buy_notional_usdc()
        open_now = len(self.orders.of_market(plan.market))
        for t in places:
            why = self.guard.refuse_place(side=t.side, price=t.price, size=t.size,
                                          held=self.inventory.size(t.asset_id),
                                          resting_buys=self.orders.resting_buys(t.asset_id) + _pending_buys(requests,
                                                                                                          t.asset_id),
                                          open_orders=open_now + len(requests), notional_usdc=notional)
            if why is not None:
                out.acks.append(self._ack(plan, t, None, "refused", why, now))
                continue
            if t.side == "BUY":
                notional += t.price * t.size
            requests.append(OrderRequest(f"{plan.plan_id[:12]}-{uuid.uuid4().hex[:8]}", plan.market, t.asset_id,
                                         t.side, t.price, t.size, plan.tick_size, terms.neg_risk,
                                         post_only=self.post_only and plan.post_only))
        for chunk in _chunks(requests, MAX_PLACE_BATCH):
            answers = await self.gateway.place(list(chunk))
            for req, ans in zip(chunk, answers, strict=True):
                self._placed(plan, req, ans, out)

    def _placed(self, plan: QuotePlan, req: OrderRequest, ans: PlaceAnswer, out: PlanRun) -> None:
        now = self.clock_ms()
        target = TargetOrder(req.asset_id, req.side, req.price, req.size)
        if ans.status == "rejected" or ans.order_id is None:
            self.guard.observe_action(False, now)
            out.acks.append(self._ack(plan, target, None, "rejected", ans.error or "no order id", now, req.client_id))
            return
        self.guard.observe_action(True, now)
        state: OrderState = "unknown" if ans.status == "unknown" else "live"
        if ans.size_matched < req.size:
            self.orders.add(OrderRecord(ans.order_id, plan.market, req.asset_id, req.side, req.price, req.size,
                                        ans.size_matched, state, plan.plan_id, req.client_id, now))
        status: PlaceAck = "unknown" if state == "unknown" else "accepted"
        out.acks.append(self._ack(plan, target, ans.order_id, status, ans.error, now, req.client_id))

    @staticmethod
    def _ack(plan: QuotePlan, t: TargetOrder, order_id: str | None, status: PlaceAck, error: str | None, now: int,
             client_id: str | None = None) -> OrderAck:
        return OrderAck(plan_id=plan.plan_id, market=plan.market, asset_id=t.asset_id, action="place",
                        status=status, client_id=client_id, order_id=order_id, side=t.side, price=t.price,
                        size=t.size, error=error, ts_ms=now)


def _pending_buys(requests: Sequence[OrderRequest], asset_id: str) -> Decimal:
    return sum((r.size for r in requests if r.asset_id == asset_id and r.side == "BUY"), Decimal(0))


def _intents(rec: Reconciliation) -> dict[str, Any]:
    return {
        "cancels": [{"order_id": o.order_id, "asset_id": o.asset_id, "side": o.side, "price": str(o.price),
                     "size": str(o.size)} for o in rec.cancels],
        "places": [{"asset_id": t.asset_id, "side": t.side, "price": str(t.price), "size": str(t.size)}
                   for t in rec.places],
        "kept": [o.order_id for o, _ in rec.kept],
        "dropped": [{"asset_id": t.asset_id, "side": t.side, "price": str(t.price), "size": str(t.size)}
                    for t in rec.dropped],
    }
