"""The random market: per market a fair value on a random walk with jumps, a crowd of liquidity providers
and takers arriving as Poisson processes. Reproducible: each market draws from its own seeded stream and
events happen at scheduled sim times, so how often ``advance`` is called does not change the output.

* Fair value: a random walk in log-odds (volatility per √s) plus rare jumps.
* Liquidity providers add size a geometric number of ticks away from the touch around the fair value, or
  take size away (preferring levels the fair value has moved through).
* Takers sweep the opposite side up to a couple of ticks through the touch; they lean towards quotes the
  fair value has left behind, and randomly express themselves on either token. Accounts' resting orders in
  their way are filled exactly like crowd liquidity.
"""

from __future__ import annotations

import heapq
import math
import random
from typing import TYPE_CHECKING

from polysim.crowd import change_levels
from polysim.seeding import crowd_size, touch_prices
from polysim.units import ONE

if TYPE_CHECKING:
    from polysim.catalog import SimMarket
    from polysim.config import SimConfig
    from polysim.engine import Engine

_VOL_PER_SQRT_S = 0.03
_JUMP_SIGMA = 0.5
_MIN_LEVELS = 5
_MAX_LEVELS = 28


class _MarketState:
    __slots__ = ("last_ms", "logit", "market", "rng")

    def __init__(self, market: SimMarket, seed: int, start_ms: int) -> None:
        self.market = market
        self.rng = random.Random(f"polysim-flow:{seed}:{market.index}")
        p = min(0.96, max(0.04, market.initial_fair))
        self.logit = math.log(p / (1 - p))
        self.last_ms = start_ms

    def fair_units(self) -> int:
        p = 1 / (1 + math.exp(-self.logit))
        return int(min(0.97, max(0.03, p)) * ONE)


class RandomFlow:
    """Drives the active markets' books between ``advance`` calls."""

    def __init__(self, engine: Engine, markets: list[SimMarket], config: SimConfig, start_ms: int) -> None:
        self.engine = engine
        self.lp_rate = max(0.0, config.lp_rate_hz)
        self.taker_rate = max(0.0, config.taker_rate_hz)
        self.jump_rate = max(0.0, config.jump_rate_hz)
        self.total_rate = self.lp_rate + self.taker_rate + self.jump_rate
        self.seed = config.seed
        self.states = [_MarketState(m, config.seed, start_ms) for m in markets]
        self._heap: list[tuple[int, int]] = []
        if self.total_rate > 0:
            for i, st in enumerate(self.states):
                heapq.heappush(self._heap, (self._next(st, start_ms), i))

    def add_market(self, market: SimMarket, now_ms: int) -> None:
        """Start moving a market created at run time (its own stream: the others' output is unchanged)."""
        st = _MarketState(market, self.seed, now_ms)
        self.states.append(st)
        if self.total_rate > 0:
            heapq.heappush(self._heap, (self._next(st, now_ms), len(self.states) - 1))

    def _next(self, st: _MarketState, after_ms: int) -> int:
        return after_ms + max(1, round(st.rng.expovariate(self.total_rate) * 1000))

    def advance(self, now_ms: int) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now_ms:
            due, i = heapq.heappop(heap)
            st = self.states[i]
            self._act(st, due)
            heapq.heappush(heap, (self._next(st, due), i))

    def skip_to(self, now_ms: int) -> None:
        self._heap = [(max(due, now_ms), i) for due, i in self._heap]
        heapq.heapify(self._heap)
        for st in self.states:
            st.last_ms = max(st.last_ms, now_ms)

    def _act(self, st: _MarketState, ts: int) -> None:
        rng = st.rng
        dt_s = (ts - st.last_ms) / 1000
        st.last_ms = ts
        st.logit += rng.gauss(0.0, _VOL_PER_SQRT_S * math.sqrt(max(dt_s, 0.0)))
        u = rng.random() * self.total_rate
        m = st.market
        if m.closed or not m.active:
            return
        if u < self.jump_rate:
            st.logit += rng.gauss(0.0, _JUMP_SIGMA)
        elif u < self.jump_rate + self.taker_rate:
            self._take(st, ts)
        else:
            self._provide(st, ts)

    def _provide(self, st: _MarketState, ts: int) -> None:
        rng = st.rng
        m = st.market
        book = self.engine.book(m.condition_id)
        tick = m.tick_units
        fair = st.fair_units()
        is_bid = rng.random() < 0.5
        side = book.side(is_bid)
        n_levels = len(side.prices)
        add = n_levels < _MIN_LEVELS or (n_levels < _MAX_LEVELS and rng.random() < 0.55)
        changes: list[tuple[bool, int, int]] = []
        if add:
            best_bid, best_ask = touch_prices(fair, tick)
            for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
                k = min(int(rng.expovariate(0.3)), 40) * (1 if tick >= 100 else rng.randint(1, 6))
                price = best_bid - k * tick if is_bid else best_ask + k * tick
                if tick <= price <= ONE - tick:
                    changes.append((is_bid, price, crowd_size(rng)))
        elif side.prices:
            stale = [p for p in side.prices if (p >= fair if is_bid else p <= fair)]
            price = rng.choice(stale) if stale and rng.random() < 0.7 else rng.choice(side.prices)
            size = side.levels[price].size
            cut = size if rng.random() < 0.5 else max(10_000, int(size * rng.uniform(0.2, 0.8)) // 10_000 * 10_000)
            changes.append((is_bid, price, -cut))
        if changes:
            change_levels(self.engine, m, changes, ts)

    def _take(self, st: _MarketState, ts: int) -> None:
        rng = st.rng
        m = st.market
        book = self.engine.book(m.condition_id)
        fair = st.fair_units()
        bid, ask = book.bids.best(), book.asks.best()
        if ask is not None and ask < fair:
            buy = rng.random() < 0.85
        elif bid is not None and bid > fair:
            buy = rng.random() >= 0.85
        else:
            buy = rng.random() < 0.5
        touch = ask if buy else bid
        if touch is None:
            return
        through = rng.randint(0, 2) * m.tick_units
        limit = min(ONE - m.tick_units, touch + through) if buy else max(m.tick_units, touch - through)
        size = crowd_size(rng) // 2 or 5_000_000
        if rng.random() < 0.5:  # as a YES order
            self.engine.sim_take(m, 0, "BUY" if buy else "SELL", limit, size, ts)
        else:  # the same intent on the complement: buying YES ≡ selling NO at 1 − p
            self.engine.sim_take(m, 1, "SELL" if buy else "BUY", ONE - limit, size, ts)
