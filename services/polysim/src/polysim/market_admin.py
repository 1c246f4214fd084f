"""Changes to a market while the simulator runs: field patches (both Gamma and CLOB views) and tick sizes.

A market that closes or stops accepting orders has its accounts' orders canceled. A tick-size change emits
``tick_size_change`` for both tokens and re-quantizes the book: crowd levels off the new grid move outwards
(bids down, asks up, so the book never crosses), accounts' orders off the grid are canceled; then both
tokens' ``book`` is sent so a client can resynchronize.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from polysim.book import Entry, Side
from polysim.catalog import position_ids_for
from polysim.units import price_units

if TYPE_CHECKING:
    from polysim.engine import Engine
    from polysim.orders import SimOrder

# Gamma (camelCase) and CLOB (snake_case) names of the patchable fields → SimMarket attribute.
_FIELDS = {
    "question": "question", "closed": "closed", "active": "active", "archived": "archived",
    "acceptingOrders": "accepting_orders", "accepting_orders": "accepting_orders",
    "enableOrderBook": "enable_order_book", "enable_order_book": "enable_order_book",
    "endDate": "end_date", "end_date_iso": "end_date", "description": "description", "slug": "slug",
    "negRisk": "neg_risk", "neg_risk": "neg_risk", "version": "version",
    "orderMinSize": "min_order_size", "minimum_order_size": "min_order_size", "min_order_size": "min_order_size",
    "rewardsMinSize": "rewards_min_size", "rewardsMaxSpread": "rewards_max_spread",
    "rewardsDailyRate": "rewards_daily_rate",
}
_REWARD_ATTRS = ("rewards_min_size", "rewards_max_spread", "rewards_daily_rate")  # a number, or null: none
_TICK_FIELDS = ("orderPriceMinTickSize", "minimum_tick_size", "tick_size")


class PatchError(ValueError):
    """A patch names an unknown field or carries a bad value."""


def patch_market(engine: Engine, condition_id: str, patch: dict[str, Any], ts: int) -> None:
    """Apply ``patch`` to a market (unknown condition id: KeyError; bad field: PatchError)."""
    market = engine.catalog.by_condition[condition_id]
    unknown = [k for k in patch if k not in _FIELDS and k not in _TICK_FIELDS]
    if unknown:
        raise PatchError(f"unknown market fields: {', '.join(sorted(unknown))}")
    for key, value in patch.items():
        if key in _TICK_FIELDS:
            change_tick(engine, condition_id, price_units(Decimal(str(value))), ts)
            continue
        attr = _FIELDS[key]
        if attr == "min_order_size":
            value = Decimal(str(value))
        elif attr in _REWARD_ATTRS:
            value = _reward_value(key, value)
        elif attr == "version":
            if value not in ("v1", "v2"):
                raise PatchError("version must be v1 or v2")
            if value == "v2" and not market.position_ids:  # a v2 market always has its position ids
                market.position_ids = position_ids_for(engine.config.seed, market.index)
        elif isinstance(getattr(market, attr), bool):
            if not isinstance(value, bool):
                raise PatchError(f"{key} must be true or false")
        else:
            value = str(value)
        setattr(market, attr, value)
    if market.closed or not market.active or not market.accepting_orders:
        for order in list(engine.all_orders.values()):
            if order.market is market and order.status == "LIVE":
                engine._cancel_order(order, ts)
    engine.wire.flush()


def _reward_value(key: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PatchError(f"{key} must be a number or null")
    try:
        amount = Decimal(str(value))
    except ArithmeticError as exc:
        raise PatchError(f"{key} must be a number or null") from exc
    if not amount.is_finite() or amount <= 0:
        raise PatchError(f"{key} must be positive (null: no rewards)")
    return amount


def change_tick(engine: Engine, condition_id: str, new_tick: int, ts: int) -> None:
    """Change a market's tick size (units of 1/10,000)."""
    if new_tick <= 0 or 10_000 % new_tick:
        raise PatchError(f"bad tick size units {new_tick}")
    market = engine.catalog.by_condition[condition_id]
    book = engine.book(condition_id)
    old = market.tick_units
    if old == new_tick:
        return
    market.tick_units = new_tick
    for side in (book.bids, book.asks):
        for order in _requantize(side, new_tick):
            engine._cancel_order(order, ts, quiet=True)
    book.updated_ms = ts
    engine.wire.tick_size_change(book, old, new_tick, ts)
    engine.wire.post_trade_books(book, ts)
    engine.wire.flush()


def _requantize(side: Side, tick: int) -> list[SimOrder]:
    """Move crowd size off the grid outwards; return accounts' orders that are off the grid."""
    off_grid_orders: list[SimOrder] = []
    for price in list(side.prices):
        if price % tick == 0:
            continue
        target = (price // tick) * tick if side.is_bid else -(-price // tick) * tick
        lvl = side.levels[price]
        crowd = sum(e.size for e in lvl.entries if e.order is None)
        off_grid_orders.extend(e.order for e in lvl.entries if e.order is not None)
        lvl.entries.clear()
        side.touched(lvl)
        if crowd and tick <= target <= 10_000 - tick:
            dest = side.level(target)
            dest.entries.append(Entry(None, crowd))
            side.touched(dest)
    return off_grid_orders
