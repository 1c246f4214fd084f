"""The SpreadQuoter: from one market's books and our state to a target, or a reason not to quote. Pure.

No I/O, no clock, no logging: the caller passes ``now_ms`` and publishes what ``decide`` returns. The inputs
and the ``Decision`` are in ``quote_inputs``, the guards in ``quote_guards``, prices and sizes (the placement
scheme: sell what we hold, else buy the complement) in ``quote_pricing``, the rewards score in ``rewards``.

Rules, per market and decision:

1. **A bad market is pulled once.** When a guard fails (``quote_guards.market_problem``; ``one_sided`` when
   the book without our orders lacks a side), or every side is capped (``inventory_cap``), ``decide`` returns
   ONE ``pull`` (an empty target) if something was quoted since, or on first sight (a restart clears what a
   previous run left), then ``hold`` with the current reason while the market stays bad. A tick size that
   differs from the last target's is bad once (``tick_changed``) even when the books are already on it.
   A pull is never held back, neither by the min interval nor by the bucket: it takes a token when there
   is one, so the quotes after it pay for it.
2. **A new target only on a change** since the last plan: our state changed (``ours.version``: a fill or a
   cancel) or the notional committed elsewhere leaves no room for the last target's buys (both act at once);
   the fair price moved ``move_fair_ticks`` ticks or more, the best bid or ask ``move_touch_ticks`` or more,
   the last target would now cross or lock the book, or the market's terms changed (min order size, rewards);
   the last plan was a pull, or there was none. A change whose target equals the last one publishes nothing
   (``unchanged``).
3. **Min requote interval**: a new target waits until ``min_requote_interval_ms`` after the last plan
   (``min_interval``), unless our state changed.
4. **Refresh**: plans are targets with a TTL, and a live market's must never lapse. The last target is
   re-published unchanged (reason ``refresh``) from ``refresh_before_ttl_ms`` before its TTL ends. The call
   that notices must come in time: ``refresh_due_ms`` says when.
5. **Token bucket**: every quote, new or refresh, takes a token from the market's bucket
   (``rate_limited`` when it is empty). ``check_params`` makes sure a refresh always finds one.

A ``quote`` or ``pull`` is recorded as emitted (time, fair, touch, state version, the bucket token); a
``hold`` changes nothing. ``reset`` forgets what was emitted for a market (after a failed publish), not the
tokens it spent. ``Decision.score`` is the rewards score of the target that rests (the one published, or
the last one on a hold; nothing after a pull) in a market that pays rewards; ``None`` without a book to
trust, and in a market that pays none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from polybot.domain.quote_guards import market_problem
from polybot.domain.quote_inputs import (
    INVENTORY_CAP,
    MIN_INTERVAL,
    NO_BOOK,
    ONE_SIDED,
    QUOTE,
    RATE_LIMITED,
    REFRESH,
    TICK_CHANGED,
    UNCHANGED,
    WOULD_CROSS,
    Decision,
    OurState,
    QuoteBook,
    QuoteMarket,
    QuoteParams,
    RewardScore,
    TargetOrder,
)
from polybot.domain.quote_pricing import (
    Touch,
    buy_cost,
    crosses,
    crosses_itself,
    fair_price,
    notional_room,
    others_touch,
    plan_orders,
    reward_midpoint,
    rewards_band,
)
from polybot.domain.ratelimit import TokenBucket
from polybot.domain.rewards import score


def check_params(params: QuoteParams, where: str = "[quoter]") -> None:
    """Refuse parameters the quoter cannot honour, naming the field (``ValueError``)."""
    def bad(field: str, rule: str) -> ValueError:
        return ValueError(f"{where}: {field} = {getattr(params, field)!r} — {rule}")

    positive = ("half_spread_ticks", "order_size", "max_position", "stale_after_ms", "plan_ttl_ms",
                "bucket_capacity", "bucket_refill", "bucket_period_ms")
    for name in positive:
        if getattr(params, name) <= 0:
            raise bad(name, "must be positive")
    not_negative = ("move_fair_ticks", "move_touch_ticks", "keep_ticks", "keep_size_frac", "max_notional_usdc",
                    "skew_ticks_at_cap", "min_requote_interval_ms", "refresh_before_ttl_ms", "min_time_to_end_ms")
    for name in not_negative:
        if getattr(params, name) < 0:
            raise bad(name, "must not be negative")
    if params.fair_price not in ("mid", "micro"):
        raise bad("fair_price", "must be 'mid' or 'micro'")
    gap = params.plan_ttl_ms - params.refresh_before_ttl_ms
    if gap < max(1, params.min_requote_interval_ms):
        raise bad("refresh_before_ttl_ms", "must leave at least min_requote_interval_ms of plan_ttl_ms")
    if params.bucket_refill * gap < params.bucket_period_ms:
        raise bad("bucket_refill", "must refill a token within plan_ttl_ms - refresh_before_ttl_ms, or refreshes "
                  "could find the bucket empty and let a target lapse")


def _orders_of(plan: _Plan | None) -> tuple[TargetOrder, ...]:
    return () if plan is None else plan.orders


@dataclass(frozen=True, slots=True)
class _Plan:
    """The last plan emitted for a market."""

    at_ms: int
    orders: tuple[TargetOrder, ...]  # empty: a pull
    fair: Decimal | None
    touch: Touch | None
    version: int
    notional_usdc: Decimal  # committed across every market when the plan was made
    market: QuoteMarket


class _Market:
    __slots__ = ("bucket", "last", "scored")

    def __init__(self, params: QuoteParams) -> None:
        self.bucket = TokenBucket(params.bucket_capacity, params.bucket_refill, params.bucket_period_ms)
        self.last: _Plan | None = None
        # The last score computed, by (orders, touch): a score is a pure function of them.
        self.scored: tuple[tuple[TargetOrder, ...], Touch, RewardScore] | None = None


class SpreadQuoter:
    """Decide, market by market, the orders that should rest (see the module docstring for the rules)."""

    def __init__(self, default: QuoteParams = QuoteParams(),
                 per_market: Mapping[str, QuoteParams] | None = None) -> None:
        check_params(default)
        for condition_id, params in (per_market or {}).items():
            check_params(params, f"[quoter.markets.{condition_id}]")
        self._default = default
        self._per_market = dict(per_market or {})
        self._markets: dict[str, _Market] = {}

    def params(self, condition_id: str) -> QuoteParams:
        """The market's parameters: its own, else the defaults."""
        return self._per_market.get(condition_id, self._default)

    def reset(self, condition_id: str) -> None:
        """Forget what was emitted for a market: the next ``decide`` decides afresh (the bucket stays)."""
        state = self._markets.get(condition_id)
        if state is not None:
            state.last = None

    def refresh_due_ms(self, condition_id: str) -> int | None:
        """When the market's last target falls due for its refresh (``None``: nothing quoted)."""
        state = self._markets.get(condition_id)
        if state is None or state.last is None or not state.last.orders:
            return None
        params = self.params(condition_id)
        return state.last.at_ms + params.plan_ttl_ms - params.refresh_before_ttl_ms

    def decide(self, market: QuoteMarket, books: Mapping[str, QuoteBook], ours: OurState, now_ms: int) -> Decision:
        """What to publish for ``market`` now: a target (``quote``), an empty one (``pull``), or nothing (``hold``)."""
        params = self.params(market.condition_id)
        state = self._markets.get(market.condition_id)
        if state is None:
            state = self._markets[market.condition_id] = _Market(params)
        yes, no = books.get(market.yes_token), books.get(market.no_token)
        problem = market_problem(market, yes, no, ours, params, now_ms)
        if problem is not None or yes is None or no is None:
            return self._bad(state, market, problem or NO_BOOK, ours, now_ms)
        last = state.last
        if last is not None and last.orders and last.market.tick_size != market.tick_size:
            # Books already on the new tick: what rests was priced on the old one, so it is pulled first and
            # the next decision quotes afresh (the pull says why; a re-target would not).
            return self._bad(state, market, TICK_CHANGED, ours, now_ms)
        band = rewards_band(market)
        touch = others_touch(yes, no, ours, market, None if band is None else band[1])
        if touch is None:
            return self._bad(state, market, ONE_SIDED, ours, now_ms)
        tick = market.tick_size
        fair = fair_price(touch, params.fair_price, tick)

        if last is not None and last.orders:
            urgent = ours.version != last.version or (ours.notional_usdc != last.notional_usdc
                                                      and buy_cost(last.orders) > notional_room(params, ours))
            terms_changed = market is not last.market and market != last.market
            if not (urgent or terms_changed or self._moved(last, fair, touch, params, tick)
                    or crosses(last.orders, touch, market.yes_token)):
                return self._refresh(state, last, market, touch, fair, ours, now_ms)
        else:  # first sight, or after a pull
            urgent = last is None or ours.version != last.version
        target = plan_orders(market, params, touch, ours, fair)
        if not target:
            return self._bad(state, market, INVENTORY_CAP, ours, now_ms, fair, touch)
        if crosses(target, touch, market.yes_token) or crosses_itself(target, market.yes_token):
            return self._bad(state, market, WOULD_CROSS, ours, now_ms, fair, touch)
        if last is not None and target == last.orders:
            return self._refresh(state, last, market, touch, fair, ours, now_ms)
        if last is not None and not urgent and now_ms - last.at_ms < params.min_requote_interval_ms:
            return Decision("hold", MIN_INTERVAL, fair=fair, score=self._score(state, market, touch, last.orders))
        if not state.bucket.try_acquire(now_ms):
            return Decision("hold", RATE_LIMITED, fair=fair,
                            score=self._score(state, market, touch, _orders_of(last)))
        state.last = _Plan(now_ms, target, fair, touch, ours.version, ours.notional_usdc, market)
        return Decision("quote", QUOTE, target, fair, self._score(state, market, touch, target))

    def _refresh(self, state: _Market, last: _Plan, market: QuoteMarket, touch: Touch, fair: Decimal,
                 ours: OurState, now_ms: int) -> Decision:
        """Nothing new to publish: re-publish the last target if its TTL is running out, else hold."""
        params = self.params(market.condition_id)
        reward = self._score(state, market, touch, last.orders)
        if now_ms < last.at_ms + params.plan_ttl_ms - params.refresh_before_ttl_ms:
            return Decision("hold", UNCHANGED, fair=fair, score=reward)
        if not state.bucket.try_acquire(now_ms):
            return Decision("hold", RATE_LIMITED, fair=fair, score=reward)
        state.last = _Plan(now_ms, last.orders, last.fair, last.touch, ours.version, ours.notional_usdc, market)
        return Decision("quote", REFRESH, last.orders, last.fair, reward)

    @staticmethod
    def _moved(last: _Plan, fair: Decimal, touch: Touch, params: QuoteParams, tick: Decimal) -> bool:
        if last.fair is None or last.touch is None:
            return True
        if abs(fair - last.fair) >= params.move_fair_ticks * tick:
            return True
        j = params.move_touch_ticks * tick
        return abs(touch.bid - last.touch.bid) >= j or abs(touch.ask - last.touch.ask) >= j

    def _bad(self, state: _Market, market: QuoteMarket, reason: str, ours: OurState, now_ms: int,
             fair: Decimal | None = None, touch: Touch | None = None) -> Decision:
        """Pull once when the market goes bad, then hold; the score (nothing rests) only with a book to read."""
        reward = None if touch is None else self._score(state, market, touch, ())
        last = state.last
        if last is not None and not last.orders:
            return Decision("hold", reason, fair=fair, score=reward)
        state.bucket.try_acquire(now_ms)  # a pull is never held back; a token it finds is one quote fewer
        state.last = _Plan(now_ms, (), fair, touch, ours.version, ours.notional_usdc, market)
        return Decision("pull", reason, fair=fair, score=reward)

    @staticmethod
    def _score(state: _Market, market: QuoteMarket, touch: Touch,
               resting: tuple[TargetOrder, ...]) -> RewardScore | None:
        band = rewards_band(market)
        if band is None:
            return None
        cached = state.scored
        if cached is not None and cached[0] == resting and cached[1] == touch:  # holds re-read the same
            return cached[2]
        v, min_size = band
        mid = reward_midpoint(touch, resting, market.yes_token, min_size)
        reward = score(resting, market.yes_token, mid, v, min_size)
        state.scored = (resting, touch, reward)
        return reward
