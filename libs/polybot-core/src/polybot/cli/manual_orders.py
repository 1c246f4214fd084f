"""Orders a person places by hand (``polybot market-trade``): sent through the executor's ``OrderGateway``
and written to ``orders`` and ``exec_audit`` as the executor writes its own.

Each order is its own "plan" in the audit, ``plan_id`` = ``manual-<ms>-<random>`` (the closing order adds
``-close``), so an operator's trades are told apart from the quoter's and each one's row exists even when a
later step fails. The order's row carries the id computed before it was posted, also when the venue refused
it (an IOC that found nothing to match) or its answer was lost (``unknown``: look it up at the venue).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from polybot.bus.messages import OrderAck
from polybot.store import exec_repo
from polybot.store.exec_repo import AuditRow, OrderRow
from polybot.venue.order_gateway import GatewayError, OrderGateway, OrderRequest, OrderType, PlaceAnswer

if TYPE_CHECKING:
    import asyncpg

    from polybot.domain.book import Side

SOURCE = "market-trade"
_ACK_STATUS: dict[str, Literal["accepted", "rejected", "unknown"]] = {
    "live": "accepted", "matched": "accepted", "delayed": "accepted", "rejected": "rejected", "unknown": "unknown"}
_ROW_STATUS = {"live": "live", "matched": "matched", "delayed": "unknown", "rejected": "rejected",
               "unknown": "unknown"}


def new_plan_id() -> str:
    return f"manual-{time.time_ns() // 1_000_000}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class Ticket:
    """One order to send: what, where, and under which plan id it is audited."""

    plan_id: str
    market: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal
    tick_size: Decimal
    neg_risk: bool
    order_type: OrderType
    context: dict[str, Any] = field(default_factory=dict)  # the market and outcome, for the audit's plan

    def request(self) -> OrderRequest:
        return OrderRequest(f"{self.plan_id}-{self.order_type.lower()}", self.market, self.asset_id, self.side,
                            self.price, self.size, self.tick_size, self.neg_risk, order_type=self.order_type,
                            post_only=False)  # an IOC must take; a close may fill at once rather than be refused


@dataclass(frozen=True, slots=True)
class Sent:
    """What became of one order: the venue's answer, or the error that kept the request from it."""

    ticket: Ticket
    answer: PlaceAnswer | None
    error: str | None = None

    @property
    def status(self) -> str:
        return self.answer.status if self.answer is not None else "failed"

    @property
    def filled(self) -> Decimal:
        return self.answer.size_matched if self.answer is not None else Decimal(0)

    def summary(self) -> dict[str, Any]:
        t, a = self.ticket, self.answer
        return {"plan_id": t.plan_id, "order_id": a.order_id if a else None, "type": t.order_type, "side": t.side,
                "price": str(t.price), "size": str(t.size), "status": self.status, "size_matched": str(self.filled),
                "trade_ids": list(a.trade_ids) if a else [], "error": self.error or (a.error if a else None)}


async def send(gateway: OrderGateway, pool: asyncpg.Pool, ticket: Ticket) -> Sent:
    """Place the ticket's order and write its ``orders`` and ``exec_audit`` rows; never raises for the venue."""
    req = ticket.request()
    started = time.perf_counter()
    try:
        answer: PlaceAnswer | None = (await gateway.place([req]))[0]
        sent = Sent(ticket, answer)
    except GatewayError as exc:  # the venue took no order (signing refused, auth, HTTP 425/429…)
        sent = Sent(ticket, None, str(exc))
    await _record(pool, gateway.name, sent, (time.perf_counter() - started) * 1000)
    return sent


async def _record(pool: asyncpg.Pool, backend: str, sent: Sent, duration_ms: float) -> None:
    t, a, req = sent.ticket, sent.answer, sent.ticket.request()
    now = time.time_ns() // 1_000_000
    acks = []
    rows = []
    if a is not None:
        acks.append(OrderAck(plan_id=t.plan_id, market=t.market, asset_id=t.asset_id, action="place",
                             status=_ACK_STATUS[a.status], client_id=req.client_id, order_id=a.order_id,
                             side=t.side, price=t.price, size=t.size, error=a.error, ts_ms=now))
        if a.order_id is not None:
            end = None
            if a.status == "rejected":
                end = "unfilled" if (a.error or "").startswith(("fak_not_filled", "fok_not_filled")) else "rejected"
            elif t.order_type in ("FAK", "FOK") and a.status == "matched":
                end = "filled" if a.size_matched >= t.size else "ioc_rest_dropped"
            rows.append(OrderRow(a.order_id, t.market, t.asset_id, t.side, t.price, t.size, a.size_matched,
                                 _ROW_STATUS[a.status], backend, t.plan_id, req.client_id, end, a.error,
                                 post_only=False, order_type=t.order_type))
    outcome = {"accepted": "executed", "rejected": "rejected", "unknown": "unknown"}.get(
        acks[0].status if acks else "", "failed")
    plan = {"source": SOURCE, "order_type": t.order_type, "asset_id": t.asset_id, "side": t.side,
            "price": str(t.price), "size": str(t.size), **t.context}
    intents = {"places": [{"asset_id": t.asset_id, "side": t.side, "price": str(t.price), "size": str(t.size),
                           "order_type": t.order_type}]}
    async with pool.acquire() as conn, conn.transaction():
        await exec_repo.upsert_orders(conn, rows)
        await exec_repo.insert_audit(conn, AuditRow(t.plan_id, t.market, plan, intents,
                                                    [x.model_dump(mode="json") for x in acks],
                                                    [sent.error] if sent.error else [], outcome, duration_ms))
