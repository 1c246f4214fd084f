"""The quoter: published books, markets, positions, the kill switch and risk halts in; quote plans (targets) out.

``Quoter`` holds what it has read and runs the pure ``SpreadQuoter`` (``polybot.domain.quoting``) market by
market; its I/O is two protocols (``ports.BookSource``, ``ports.PlanSink``) and a queue of inputs, so it runs
the same against NATS (``quoter_on_bus``) and in memory.

When it decides:

* a book changed (``BookSource.wait_changed``): the markets of the changed tokens (task ``quote-books``);
* every ``timer_interval_ms``: every quoted market (``quote-timer``, ``TIMER_ROUND_CHUNK`` at a time), which is
  how a book that went quiet turns stale and is pulled, and how an unchanged target is re-published before its
  TTL ends;
* an input changed (``quote-inputs``): the market of a ``MarketInfo`` or ``MarketPosition`` (every market
  when the notional we hold moved: the cap is across markets), every market on a kill-switch change, the
  markets an executor's risk halt (``RiskState``) starts or stops holding (every market for a ``*`` halt).

Decisions and their publishing are serialized (one lock): a plan's ``seq`` is taken in decision order and the
plans go out in that order. A plan JetStream did not acknowledge is counted and its market decided afresh
(``SpreadQuoter.reset``), so the next decision publishes again. A market that leaves the quoted set (no
longer selected for making, closed at Gamma, gone) gets one last empty target (``deselected``) if it had
quotes out, and so does every market when the quoter stops (``shutdown``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from polybot.app.quote.inputs import (
    binary_tokens,
    halted_scopes,
    market_tick,
    our_state,
    position_notional,
    quote_book,
    quote_market,
    yes_inventory,
)
from polybot.app.quote.metrics import DESELECTED, SHUTDOWN, QuoteMetrics
from polybot.app.quote.plans import PlanSeq, plan_for, pull_plan
from polybot.app.quote.ports import BookSource, BusPlanSink, Input, InputFollower, PlanSink
from polybot.bus.book_feed import BookFeed
from polybot.bus.client import Bus
from polybot.bus.messages import KillSwitch, MarketInfo, MarketPosition, QuotePlan, RiskState
from polybot.domain.quote_inputs import NO_BOOK, WOULD_CROSS, Decision, QuoteBook, QuoteMarket, RewardScore
from polybot.domain.quoting import SpreadQuoter
from polybot.domain.risk import ALL
from polybot.runtime.clock import now_ms as wall_ms
from polybot.runtime.metrics import Metrics
from polybot.runtime.quoter_settings import QuoterSettings
from polybot.runtime.supervise import Supervisor

log = logging.getLogger(__name__)

TASKS = ("quote-books", "quote-timer", "quote-inputs")
TIMER_ROUND_CHUNK = 10  # markets the timer decides per turn of the lock (≈ 0.1-0.3 ms of decisions)
_ZERO = Decimal(0)


@dataclass(slots=True)
class _Slot:
    """One quoted market."""

    info: MarketInfo
    tokens: tuple[str, str]  # (YES, NO)
    last_plan: QuotePlan | None = None
    last_action: str | None = None
    last_reason: str | None = None
    decided_ms: int | None = None
    fair: Decimal | None = None
    score: RewardScore | None = None
    market: QuoteMarket | None = None  # of ``info`` on the tick of the last decision (rebuilt when either changes)


MARKET_STATES = ("waiting", "quoting", "pulled", "expired")


def _state_of(slot: _Slot, now: int) -> str:
    plan = slot.last_plan
    if plan is None:
        return "waiting"  # nothing published yet
    if not plan.orders:
        return "pulled"
    return "quoting" if now < plan.expires_ts_ms else "expired"


class Quoter:
    """See the module docstring. ``apply`` inputs, ``decide`` markets, or ``run`` the three loops."""

    def __init__(self, settings: QuoterSettings, metrics: Metrics, books: BookSource, sink: PlanSink, *,
                 clock_ms: Callable[[], int] = wall_ms, supervisor: Supervisor | None = None) -> None:
        self.settings = settings
        self.books = books
        self.sink = sink
        self.clock_ms = clock_ms
        self.metrics = QuoteMetrics.register(metrics)
        self.supervisor = supervisor or Supervisor(metrics)
        self.quoter = SpreadQuoter(settings.default_params(), settings.per_market_params())
        self.seq = PlanSeq()
        self.extra = frozenset(settings.condition_ids)
        self.markets: dict[str, _Slot] = {}
        self.market_of: dict[str, str] = {}  # token → condition id
        self.positions: dict[str, MarketPosition] = {}  # every market's, quoted or not (the notional cap)
        self.notional: dict[str, Decimal] = {}
        self.total_notional = _ZERO
        self.kill: KillSwitch | None = None
        self.risk: dict[str, RiskState] = {}  # each executor's last
        self.halted: frozenset[str] = frozenset()  # what their breaches hold: condition ids, or "*" (every market)
        self._lock = asyncio.Lock()

    # --- inputs -------------------------------------------------------------------------------------------
    @property
    def kill_engaged(self) -> bool:
        return self.kill is not None and self.kill.engaged

    def quotes(self, info: MarketInfo) -> bool:
        """Whether ``info``'s market is quoted: selected for making (unless ``quote_selected`` is off) or in
        ``condition_ids``, still listed at Gamma, and binary."""
        chosen = info.condition_id in self.extra or (info.selected_for_making and self.settings.quote_selected)
        return chosen and not info.missing and binary_tokens(info) is not None

    def apply(self, item: Input) -> tuple[set[str], list[str]]:
        """Take one input; return (markets to decide now, markets that left the quoted set)."""
        if isinstance(item, KillSwitch):
            if self.kill is not None and item.ts_ms < self.kill.ts_ms:
                return set(), []
            changed = self.kill_engaged != item.engaged
            self.kill = item
            return (set(self.markets) if changed else set()), []
        if isinstance(item, RiskState):
            last = self.risk.get(item.executor)
            if last is not None and item.ts_ms < last.ts_ms:
                return set(), []
            self.risk[item.executor] = item
            was, self.halted = self.halted, halted_scopes(self.risk.values())
            moved = was ^ self.halted
            return (set(self.markets) if ALL in moved else set(moved & self.markets.keys())), []
        if isinstance(item, MarketPosition):
            have = self.positions.get(item.market)
            if have is not None and item.seq <= have.seq:
                return set(), []
            self.positions[item.market] = item
            before = self.total_notional
            self.notional[item.market] = position_notional(item)
            self.total_notional = sum(self.notional.values(), _ZERO)
            slot = self.markets.get(item.market)
            if slot is not None:
                self.metrics.inventory.labels(item.market).set(float(yes_inventory(item, slot.tokens)))
            if self.total_notional != before:
                return set(self.markets), []
            return ({item.market} if slot is not None else set()), []
        return self._apply_market(item)

    def _apply_market(self, info: MarketInfo) -> tuple[set[str], list[str]]:
        cid = info.condition_id
        slot = self.markets.get(cid)
        if not self.quotes(info):
            return (set(), [cid]) if slot is not None else (set(), [])
        tokens = binary_tokens(info)
        assert tokens is not None  # quotes() checked it
        if slot is None:
            slot = self.markets[cid] = _Slot(info, tokens)
            self.metrics.inventory.labels(cid).set(float(yes_inventory(self.positions.get(cid), tokens)))
            self.metrics.last_plan.labels(cid).set(self.clock_ms() / 1000)  # "no plan since" counts from here
        else:
            for t in slot.tokens:
                self.market_of.pop(t, None)
            slot.info, slot.tokens, slot.market = info, tokens, None
        for t in tokens:
            self.market_of[t] = cid
        return {cid}, []

    # --- deciding -----------------------------------------------------------------------------------------
    async def decide(self, cids: Iterable[str], received_ns: Mapping[str, int] | None = None,
                     removed: Iterable[str] = ()) -> list[QuotePlan]:
        """Decide ``cids`` now and publish what they need; ``received_ns``: when the book change that triggered
        a market's decision reached us (its plan's latency is measured from there). ``removed`` markets
        left the quoted set. Returns the plans published."""
        async with self._lock:
            now = self.clock_ms()
            plans = [p for cid in removed if (p := self._remove(cid, now)) is not None]
            plans += [p for cid in cids if (p := self._decide_one(cid, now)) is not None]
            if not plans:
                return []
            return await self._publish(plans, received_ns or {})

    def _decide_one(self, cid: str, now: int) -> QuotePlan | None:
        slot = self.markets.get(cid)
        if slot is None:
            return None
        books: dict[str, QuoteBook] = {}
        for token in slot.tokens:
            view = self.books.view(token)
            if view is not None:
                books[token] = quote_book(view)
        tick = market_tick(slot.info, books.values())
        if tick is None:  # neither a snapshot nor Gamma says the tick: nothing can be priced
            self._record(slot, Decision("hold", NO_BOOK), now)
            return None
        market = slot.market
        if market is None or market.tick_size is not tick:  # the same tick object while on the same snapshot
            market = slot.market = quote_market(slot.info, slot.tokens, tick)
        ours = our_state(self.positions.get(cid), self.total_notional, self.kill_engaged,
                         ALL in self.halted or cid in self.halted)
        decision = self.quoter.decide(market, books, ours, now)
        self._record(slot, decision, now)
        if decision.action == "hold":
            return None
        return plan_for(decision, market, self.quoter.params(cid), self.seq.next(cid, now), now)

    def _record(self, slot: _Slot, decision: Decision, now: int) -> None:
        slot.last_action, slot.last_reason, slot.decided_ms = decision.action, decision.reason, now
        slot.fair = decision.fair
        slot.score = decision.score
        if decision.action != "quote":
            self.metrics.suppressed.inc(reason=decision.reason)
        if decision.reason == WOULD_CROSS:
            self.metrics.crossed.inc()
            log.error("a target would have crossed the book or itself: pulled instead",
                      extra={"market": slot.info.condition_id})
        score = decision.score
        self.metrics.reward_score.labels(slot.info.condition_id).set(
            float(score.q_min) if score is not None and score.qualifying else 0.0)

    def _remove(self, cid: str, now: int) -> QuotePlan | None:
        slot = self.markets.pop(cid, None)
        if slot is None:
            return None
        for t in slot.tokens:
            self.market_of.pop(t, None)
        self.quoter.reset(cid)
        self.metrics.forget(cid)
        last = slot.last_plan
        if last is None or not last.orders:
            return None
        return pull_plan(cid, last.tick_size, self.quoter.params(cid), self.seq.next(cid, now), now, DESELECTED)

    async def _publish(self, plans: list[QuotePlan], received_ns: Mapping[str, int]) -> list[QuotePlan]:
        try:
            await self.sink.publish(plans)
        except Exception as exc:
            self.metrics.publish_failures.inc(len(plans))
            log.warning("plans not published; their markets are decided afresh",
                        extra={"plans": len(plans), "error": repr(exc)})
            for p in plans:
                self.quoter.reset(p.market)
            return []
        done_ns = time.perf_counter_ns()
        for p in plans:
            slot = self.markets.get(p.market)
            if slot is not None:
                slot.last_plan = p
                self.metrics.last_plan.labels(p.market).set(p.created_ts_ms / 1000)
            if p.orders:
                self.metrics.emitted.inc()
            else:
                self.metrics.pulled.inc(reason=p.reason)
            at = received_ns.get(p.market)
            if at is not None:
                self.metrics.latency_ms.observe((done_ns - at) / 1e6)
        return plans

    # --- loops --------------------------------------------------------------------------------------------
    async def run(self, inputs: asyncio.Queue[Input], stopping: asyncio.Event) -> None:
        """Run the three loops (supervised) until ``stopping`` is set."""
        self.supervisor.start("quote-books", self._books_loop)
        self.supervisor.start("quote-timer", self._timer_loop)
        self.supervisor.start("quote-inputs", lambda: self._inputs_loop(inputs))
        log.info("quoter started", extra={"markets": len(self.markets), "kill_switch": self.kill_engaged})
        try:
            await stopping.wait()
        finally:
            await self.supervisor.stop()
            await self.pull_all(SHUTDOWN)

    async def pull_all(self, reason: str) -> list[QuotePlan]:
        """Publish an empty target for every market with quotes out (a stop must not leave them to the TTL,
        nor to an executor that may keep the last target); nothing is published for the others."""
        async with self._lock:
            now = self.clock_ms()
            plans = []
            for cid, slot in sorted(self.markets.items()):
                last = slot.last_plan
                if last is not None and last.orders:
                    plans.append(pull_plan(cid, last.tick_size, self.quoter.params(cid), self.seq.next(cid, now),
                                           now, reason))
            for cid in {p.market for p in plans}:
                self.quoter.reset(cid)
            return await self._publish(plans, {}) if plans else []

    def load(self, inputs: asyncio.Queue[Input]) -> None:
        """Apply every input already queued (the cold start's backlog), deciding nothing yet."""
        while not inputs.empty():
            self.apply(inputs.get_nowait())

    async def _books_loop(self) -> None:
        while True:
            changed = await self.books.wait_changed(timeout_s=1.0)
            if not changed:
                continue
            received = self.books.received_ns
            first: dict[str, int] = {}
            for token in changed:
                cid = self.market_of.get(token)
                at = received.get(token)
                if cid is not None and at is not None:
                    first[cid] = min(first.get(cid, at), at)
            if first:
                await self.decide(list(first), first)

    async def _timer_loop(self) -> None:
        interval_s = self.settings.timer_interval_ms / 1000
        while True:
            await asyncio.sleep(interval_s)
            cids = list(self.markets)
            for i in range(0, len(cids), TIMER_ROUND_CHUNK):
                # Decided a few markets at a time, the lock let go in between: a round over every market
                # costs milliseconds, and a book change arriving meanwhile must not wait for all of it.
                await self.decide(cids[i:i + TIMER_ROUND_CHUNK])
                await asyncio.sleep(0)
            self.export_states(self.clock_ms())

    async def _inputs_loop(self, inputs: asyncio.Queue[Input]) -> None:
        while True:
            item = await inputs.get()
            cids, removed = self.apply(item)
            while not inputs.empty():  # a burst (a refresh of many markets) is decided once
                more, gone = self.apply(inputs.get_nowait())
                cids |= more
                removed += gone
            if cids or removed:
                await self.decide(sorted(cids), removed=removed)

    # --- reporting ----------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        now = self.clock_ms()
        markets = {cid: self._market_status(slot, now) for cid, slot in sorted(self.markets.items())}
        states = self.export_states(now)
        return {
            "markets": markets,
            "quoting": states,
            "kill_switch": None if self.kill is None else {"engaged": self.kill.engaged, "reason": self.kill.reason,
                                                           "ts_ms": self.kill.ts_ms},
            "risk_halted": sorted(self.halted),
            "notional_usdc": str(self.total_notional),
            "counters": {"quotes_emitted": int(self.metrics.emitted.value()),
                         "quotes_pulled": int(self.metrics.pulled.value()),
                         "quote_publish_failures": int(self.metrics.publish_failures.value()),
                         "quotes_crossed": int(self.metrics.crossed.value())},
            "tasks_down": self.supervisor.down(),
        }

    def export_states(self, now: int) -> dict[str, int]:
        """How many markets are in each state, into ``quote_markets{state}`` (after every timer round)."""
        states: dict[str, int] = {}
        for slot in self.markets.values():
            state = _state_of(slot, now)
            states[state] = states.get(state, 0) + 1
        for state in MARKET_STATES:
            self.metrics.markets.labels(state).set(states.get(state, 0))
        return {k: v for k, v in states.items() if v}

    def _market_status(self, slot: _Slot, now: int) -> dict[str, Any]:
        plan = slot.last_plan
        state = _state_of(slot, now)
        score = slot.score
        pos = self.positions.get(slot.info.condition_id)
        return {
            "state": state,
            "question": slot.info.question,
            "last_action": slot.last_action,
            "last_reason": slot.last_reason,
            "decided_age_ms": None if slot.decided_ms is None else now - slot.decided_ms,
            "fair": None if slot.fair is None else str(slot.fair),
            "inventory": str(yes_inventory(pos, slot.tokens)),
            "position_seq": None if pos is None else pos.seq,
            "books": {t: (v.state.value if (v := self.books.view(t)) is not None else None) for t in slot.tokens},
            "last_plan": None if plan is None else {
                "plan_id": plan.plan_id, "seq": plan.seq, "reason": plan.reason, "age_ms": now - plan.created_ts_ms,
                "ttl_ms": plan.ttl_ms, "tick_size": str(plan.tick_size),
                "orders": [{"asset_id": o.asset_id, "side": o.side, "price": str(o.price), "size": str(o.size)}
                           for o in plan.orders]},
            "score": None if score is None else {
                "midpoint": str(score.midpoint), "max_spread": str(score.max_spread), "q_one": str(score.q_one),
                "q_two": str(score.q_two), "q_min": str(score.q_min), "qualifying": score.qualifying},
        }


@contextlib.asynccontextmanager
async def quoter_on_bus(bus: Bus, settings: QuoterSettings, metrics: Metrics, *,
                        clock_ms: Callable[[], int] = wall_ms
                        ) -> AsyncIterator[tuple[Quoter, asyncio.Queue[Input]]]:
    """A ``Quoter`` on NATS: books from ``BookFeed``, inputs from JetStream (their backlog applied before it is
    yielded), plans to JetStream. Yields the quoter and its input queue for ``Quoter.run``."""
    inputs: asyncio.Queue[Input] = asyncio.Queue()
    follower = InputFollower(bus, inputs)
    # The feed's own staleness is off: each market's stale_after_ms is the SpreadQuoter's to apply.
    async with BookFeed(bus, stale_after_ms=None, clock_ms=clock_ms) as feed:
        try:
            await follower.start()
            await follower.caught_up(settings.markets_load_timeout_s)
            quoter = Quoter(settings, metrics, feed, BusPlanSink(bus, settings.publish_timeout_s), clock_ms=clock_ms)
            quoter.load(inputs)
            yield quoter, inputs
        finally:
            await follower.close()
