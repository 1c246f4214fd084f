"""The executor's record of our orders on the venue: what rests, what is unknown, what is being cancelled.

An order is ``live`` once the venue accepted it, ``unknown`` when the answer was lost (a timeout: it may
rest; its id is the signed order's hash, so the user channel or the venue's open orders resolve it),
``canceling`` while a cancel is in flight, and leaves the record when it is cancelled, filled or found
absent by reconciliation. Reconcile against a target counts ``live`` and ``unknown`` orders as resting
(an unknown order must never be placed twice), and a cancel of an unknown order waits until its fate is
known (``cancel_wanted``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from polybot.domain.book import Side
from polybot.domain.quote_inputs import OurOrder

OrderState = Literal["live", "unknown", "canceling"]


@dataclass(frozen=True, slots=True)
class OrderRecord:
    order_id: str
    market: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal  # original
    size_matched: Decimal
    state: OrderState
    plan_id: str | None = None
    client_id: str | None = None
    placed_ms: int = 0
    cancel_wanted: bool = False

    @property
    def remaining(self) -> Decimal:
        return self.size - self.size_matched

    def as_ours(self) -> OurOrder:
        return OurOrder(self.order_id, self.asset_id, self.side, self.price, self.remaining)


class LiveOrders:
    def __init__(self) -> None:
        self.by_id: dict[str, OrderRecord] = {}

    def add(self, rec: OrderRecord) -> None:
        self.by_id[rec.order_id] = rec

    def of_market(self, market: str) -> list[OrderRecord]:
        return [o for o in self.by_id.values() if o.market == market]

    def resting(self, market: str) -> list[OrderRecord]:
        """Orders that count as resting for reconcile: live or unknown, not being cancelled."""
        return [o for o in self.of_market(market) if o.state != "canceling" and not o.cancel_wanted]

    def markets(self) -> set[str]:
        return {o.market for o in self.by_id.values()}

    def set_state(self, order_id: str, state: OrderState) -> None:
        rec = self.by_id.get(order_id)
        if rec is not None:
            self.by_id[order_id] = replace(rec, state=state)

    def want_cancel(self, order_id: str) -> None:
        rec = self.by_id.get(order_id)
        if rec is not None:
            self.by_id[order_id] = replace(rec, cancel_wanted=True)

    def matched(self, order_id: str, size_matched: Decimal) -> OrderRecord | None:
        """The venue says ``size_matched`` of the order has filled in total; the record after it."""
        rec = self.by_id.get(order_id)
        if rec is None:
            return None
        new = replace(rec, size_matched=max(rec.size_matched, size_matched),
                      state="live" if rec.state == "unknown" else rec.state)
        if new.remaining <= 0:
            del self.by_id[order_id]
        else:
            self.by_id[order_id] = new
        return new

    def remove(self, order_ids: Iterable[str]) -> list[OrderRecord]:
        return [rec for oid in order_ids if (rec := self.by_id.pop(oid, None)) is not None]

    def resting_buys(self, asset_id: str) -> Decimal:
        return sum((o.remaining for o in self.by_id.values() if o.asset_id == asset_id and o.side == "BUY"),
                   Decimal(0))

    def buy_notional_usdc(self) -> Decimal:
        return sum((o.remaining * o.price for o in self.by_id.values() if o.side == "BUY"), Decimal(0))
