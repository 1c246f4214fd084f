"""From a ``Decision`` to the ``QuotePlan`` published for it, and the plans' per-market ``seq``.

``seq`` must rise strictly per market, across restarts too: the executor ignores a plan whose ``seq`` is not
above the newest it has seen (``domain.plan_inbox``). It is clock-floored, like the executor's position
``seq``: ``max(previous + 1, now_ms × 1000)``. A fresh run starts at its clock (in µs-sized steps), above
every ``seq`` an earlier run published unless that run outpaced the clock by 1,000 plans per millisecond in
one market (its token bucket allows a handful a second) or the wall clock stepped back by more than the
restart took. No state is stored. ``plan_id`` is ``<condition_id>:<seq>``: unique, and the ``Nats-Msg-Id``.
"""

from __future__ import annotations

from decimal import Decimal

from polybot.bus.messages import QuoteOrder, QuotePlan
from polybot.domain.quote_inputs import Decision, QuoteMarket, QuoteParams


class PlanSeq:
    """The next ``seq`` of each market's plans."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def next(self, market: str, now_ms: int) -> int:
        seq = max(self._last.get(market, 0) + 1, now_ms * 1000)
        self._last[market] = seq
        return seq


def plan_for(decision: Decision, market: QuoteMarket, params: QuoteParams, seq: int, now_ms: int,
             reason: str | None = None) -> QuotePlan:
    """The target ``decision`` publishes (a ``pull`` publishes no orders)."""
    orders = () if decision.action == "pull" else tuple(
        QuoteOrder(asset_id=o.asset_id, side=o.side, price=o.price, size=o.size) for o in decision.orders)
    return QuotePlan(plan_id=f"{market.condition_id}:{seq}", market=market.condition_id, seq=seq,
                     created_ts_ms=now_ms, ttl_ms=params.plan_ttl_ms, orders=orders, tick_size=market.tick_size,
                     keep_ticks=params.keep_ticks, keep_size_frac=params.keep_size_frac,
                     reason=reason or decision.reason)


def pull_plan(market: str, tick_size: Decimal, params: QuoteParams, seq: int, now_ms: int,
              reason: str) -> QuotePlan:
    """An empty target outside any decision (a market that left the quoted set)."""
    return QuotePlan(plan_id=f"{market}:{seq}", market=market, seq=seq, created_ts_ms=now_ms,
                     ttl_ms=params.plan_ttl_ms, tick_size=tick_size, keep_ticks=params.keep_ticks,
                     keep_size_frac=params.keep_size_frac, reason=reason)
