"""Helpers of the quoter tests: polysim markets on the bus, a quoter running on NATS, the plans it publishes,
and a sink that checks every plan against the books the quoter saw when it published it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from nats.aio.msg import Msg

from polybot.app.quote.pipeline import Quoter, quoter_on_bus
from polybot.app.quote.ports import BookSource, PlanSink
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.codec import decode
from polybot.bus.messages import (
    KillSwitch,
    MarketInfo,
    MarketPosition,
    OutcomeToken,
    QuotePlan,
    RiskBreachInfo,
    RiskState,
    TokenPosition,
)
from polybot.bus.streams import CONTROL
from polybot.runtime.clock import now_ms
from polybot.runtime.metrics import Metrics
from polybot.runtime.quoter_settings import QuoterSettings
from polysim.catalog import pays_rewards, tick_of
from polysim.harness import RunningSim

ONE = Decimal(1)


def market_info(sim: RunningSim, cid: str, *, selected: bool = True, **changes: Any) -> MarketInfo:
    """The ``MarketInfo`` gamma-sync would publish for one of the simulator's markets."""
    m = sim.ctx.catalog.by_condition[cid]
    fields: dict[str, Any] = dict(
        condition_id=cid, question=m.question, slug=m.slug,
        tokens=tuple(OutcomeToken(token_id=t.token_id, outcome=t.outcome, index=t.index) for t in m.tokens),
        tick_size=tick_of(m), min_order_size=m.min_order_size, neg_risk=m.neg_risk, end_date=m.end_date,
        selected_for_making=selected, ts_ms=now_ms(),
        rewards_max_spread=m.rewards_max_spread if pays_rewards(m) else None,
        rewards_min_size=m.rewards_min_size if pays_rewards(m) else None,
        rewards_daily_rate=m.rewards_daily_rate if pays_rewards(m) else None)
    fields.update(changes)
    return MarketInfo(**fields)


async def publish_markets(bus: Bus, infos: Sequence[MarketInfo]) -> None:
    for info in infos:
        await bus.publish(subjects.gamma_market(info.condition_id), info,
                          msg_id=f"test:{info.condition_id}:{info.ts_ms}:{info.selected_for_making}")


async def set_kill(bus: Bus, engaged: bool, reason: str = "test") -> None:
    ts = now_ms()
    await bus.publish(subjects.CTL_KILL, KillSwitch(engaged=engaged, reason=reason, ts_ms=ts),
                      msg_id=f"test-kill:{ts}:{engaged}")


async def set_risk(bus: Bus, executor: str, halted: Sequence[str] = ()) -> RiskState:
    """An executor's risk state as ``RiskDesk`` publishes it: ``halted`` scopes (condition ids, or "*")."""
    ts = now_ms()
    state = RiskState(executor=executor, ts_ms=ts, breaches=tuple(
        RiskBreachInfo(scope=s, limit="position", value=Decimal(30), threshold=Decimal(20), ts_ms=ts) for s in halted))
    await bus.publish(subjects.ctl_risk(executor), state, msg_id=f"test-risk:{executor}:{ts}:{len(halted)}")
    return state


async def publish_position(bus: Bus, cid: str, sizes: dict[str, Decimal], avg_price: Decimal = Decimal("0.5")
                           ) -> MarketPosition:
    ts = now_ms()
    pos = MarketPosition(market=cid, seq=ts * 1000, ts_ms=ts,
                         positions=tuple(TokenPosition(asset_id=a, size=s, avg_price=avg_price)
                                         for a, s in sizes.items()))
    await bus.publish(subjects.position(cid), pos, msg_id=f"{cid}:{pos.seq}")
    return pos


def settings(cids: Sequence[str], **overrides: Any) -> QuoterSettings:
    """Quick-reacting settings quoting exactly ``cids`` (other tests' markets on the bus are left alone)."""
    base: dict[str, Any] = dict(
        condition_ids=tuple(cids), quote_selected=False, stale_after_ms=1_500, timer_interval_ms=100,
        min_requote_interval_ms=100, plan_ttl_ms=3_000, refresh_before_ttl_ms=1_000, bucket_capacity=20,
        bucket_refill=10, min_time_to_end_ms=0, max_notional_usdc=Decimal(10**9), markets_load_timeout_s=10)
    base.update(overrides)
    return QuoterSettings(**base)


def yes_frame(plan: QuotePlan, yes: str) -> tuple[list[Decimal], list[Decimal]]:
    """Our (bids, asks) seen in the YES frame: a NO buy at q is a YES sell at 1 - q, a NO sell a YES buy."""
    bids: list[Decimal] = []
    asks: list[Decimal] = []
    for o in plan.orders:
        on_yes = o.asset_id == yes
        price = o.price if on_yes else ONE - o.price
        (bids if (o.side == "BUY") == on_yes else asks).append(price)
    return bids, asks


@dataclass
class Published:
    plan: QuotePlan
    books: dict[str, tuple[Decimal | None, Decimal | None]]  # token → (best bid, best ask) when published
    problems: list[str]


@dataclass
class CheckingSink:
    """Publishes through ``inner``; first checks each plan against the books the quoter reads, right then:
    no order at or through the other side of its own book, none through the mirrored book, ours never crossed
    or locked in the YES frame, and our YES bid + NO bid < 1."""

    inner: PlanSink
    books: BookSource
    tokens: dict[str, tuple[str, str]]  # market → (YES, NO)
    published: list[Published] = field(default_factory=list)

    async def publish(self, plans: Sequence[QuotePlan]) -> None:
        for plan in plans:
            self.published.append(self._check(plan))
        await self.inner.publish(plans)

    def _top(self, token: str) -> tuple[Decimal | None, Decimal | None]:
        view = self.books.view(token)
        if view is None:
            return None, None
        return view.book.best_bid_price(), view.book.best_ask_price()

    def _check(self, plan: QuotePlan) -> Published:
        yes, no = self.tokens[plan.market]
        tops = {yes: self._top(yes), no: self._top(no)}
        problems: list[str] = []
        for o in plan.orders:
            bid, ask = tops[o.asset_id]
            if o.side == "BUY" and ask is not None and o.price >= ask:
                problems.append(f"BUY {o.asset_id[:6]} at {o.price} >= its best ask {ask}")
            if o.side == "SELL" and bid is not None and o.price <= bid:
                problems.append(f"SELL {o.asset_id[:6]} at {o.price} <= its best bid {bid}")
            if (o.price / plan.tick_size) % 1:
                problems.append(f"{o.price} off the tick {plan.tick_size}")
        ours_bids, ours_asks = yes_frame(plan, yes)
        book_bids = [p for p in (tops[yes][0], None if tops[no][1] is None else ONE - tops[no][1]) if p is not None]
        book_asks = [p for p in (tops[yes][1], None if tops[no][0] is None else ONE - tops[no][0]) if p is not None]
        if ours_bids and book_asks and max(ours_bids) >= min(book_asks):
            problems.append(f"our YES-frame bid {max(ours_bids)} crosses the book's ask {min(book_asks)}")
        if ours_asks and book_bids and min(ours_asks) <= max(book_bids):
            problems.append(f"our YES-frame ask {min(ours_asks)} crosses the book's bid {max(book_bids)}")
        if ours_bids and ours_asks and max(ours_bids) >= min(ours_asks):
            problems.append("our own quotes cross or lock")
        yes_buys = [o.price for o in plan.orders if o.asset_id == yes and o.side == "BUY"]
        no_buys = [o.price for o in plan.orders if o.asset_id == no and o.side == "BUY"]
        if yes_buys and no_buys and max(yes_buys) + max(no_buys) >= ONE:
            problems.append("YES bid + NO bid >= 1")
        return Published(plan, tops, problems)


class PlanTap:
    """Every plan on ``pb.quote.plan.*`` as it arrives (core NATS: what JetStream accepted)."""

    def __init__(self) -> None:
        self.plans: list[QuotePlan] = []
        self._sub: Any = None

    async def start(self, bus: Bus) -> PlanTap:
        async def on_msg(msg: Msg) -> None:
            plan = decode(msg.data)
            assert isinstance(plan, QuotePlan)
            self.plans.append(plan)

        self._sub = await bus.nc.subscribe(subjects.QUOTE_PLAN_ALL, cb=on_msg)
        return self

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    def of(self, cid: str) -> list[QuotePlan]:
        return [p for p in self.plans if p.market == cid]

    async def wait(self, cond: Callable[[], Any], timeout_s: float, what: str) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            found = cond()
            if found:
                return found
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}; plans: "
                                     f"{[(p.market[:8], p.reason, len(p.orders)) for p in self.plans[-8:]]}")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running_quoter(bus: Bus, sim: RunningSim, qs: QuoterSettings, metrics: Metrics | None = None
                         ) -> AsyncIterator[tuple[Quoter, CheckingSink]]:
    """The quoter on NATS (as the service wires it) with a ``CheckingSink`` in front of its publisher. The
    executors' risk states are forgotten first: an executor test on the shared server (a drill that trips the
    error rate) leaves its last ``RiskState``, whose halt of every market would hold this quoter too."""
    await bus.js.purge_stream(CONTROL.name, subject=subjects.CTL_RISK_ALL)
    stopping = asyncio.Event()
    async with quoter_on_bus(bus, qs, metrics or Metrics()) as (quoter, inputs):
        tokens = {cid: (sim.token_ids(cid)[0], sim.token_ids(cid)[1]) for cid in qs.condition_ids}
        sink = CheckingSink(quoter.sink, quoter.books, tokens)
        quoter.sink = sink
        task = asyncio.create_task(quoter.run(inputs, stopping))
        try:
            yield quoter, sink
        finally:
            stopping.set()
            await asyncio.wait_for(task, 10)
