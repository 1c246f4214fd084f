"""A market's initial book: levels around its starting fair value, from the market's own random stream."""

from __future__ import annotations

import random

from polysim.catalog import SimMarket
from polysim.units import ONE, SIZE_SCALE


def crowd_size(rng: random.Random) -> int:
    """A background order size in micro shares: 2 decimals, mostly tens to hundreds of shares."""
    shares = min(5000.0, max(5.0, rng.lognormvariate(4.0, 1.0)))
    return int(shares * 100) * (SIZE_SCALE // 100)


def touch_prices(fair_units: int, tick: int) -> tuple[int, int]:
    """The best bid and best ask a crowd quoting around ``fair_units`` would show (one tick apart at least)."""
    bid = ((fair_units - 1) // tick) * tick
    ask = bid + tick
    if ask <= fair_units:
        ask += tick
    return max(tick, bid), min(ONE - tick, ask)


def initial_levels(market: SimMarket, seed: int) -> list[tuple[bool, int, int]]:
    """(is bid, price units, size micro) of the reference book's starting levels."""
    rng = random.Random(f"polysim-book:{seed}:{market.index}")
    tick = market.tick_units
    fair = int(market.initial_fair * ONE)
    best_bid, best_ask = touch_prices(fair, tick)
    spacing_max = 1 if tick >= 100 else 6
    out: list[tuple[bool, int, int]] = []
    for is_bid, start in ((True, best_bid), (False, best_ask)):
        price = start
        for _ in range(rng.randint(8, 16)):
            if not tick <= price <= ONE - tick:
                break
            out.append((is_bid, price, crowd_size(rng)))
            step = tick * rng.randint(1, spacing_max)
            price = price - step if is_bid else price + step
    return out
