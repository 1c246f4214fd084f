"""The checks a hand-placed order (``polybot market-trade``) passes before anything is sent. Pure.

An IOC order at ``price`` for ``size``, and optionally the reverse order for what filled at ``close_price``
(resting). Each problem is one sentence naming the flag; an empty list means the order may go.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from polybot.domain.book import Side


@dataclass(frozen=True, slots=True)
class ManualOrder:
    side: Side
    price: Decimal
    size: Decimal
    close_price: Decimal | None = None  # set: place the reverse order for what filled, at this price
    force: bool = False  # a close price on the losing side is allowed


@dataclass(frozen=True, slots=True)
class MarketTerms:
    """What the venue requires of an order in this market now."""

    tick_size: Decimal
    min_order_size: Decimal
    accepting_orders: bool
    closed: bool
    active: bool = True


def reverse(side: Side) -> Side:
    return "SELL" if side == "BUY" else "BUY"


def _price_problem(flag: str, price: Decimal, tick: Decimal) -> str | None:
    if not (Decimal(0) < price < Decimal(1)):
        return f"{flag} {price} is outside (0, 1): a price is a probability"
    if price % tick != 0:
        below = (price // tick) * tick
        return f"{flag} {price} is off the market's tick {tick}: use {below} or {below + tick}"
    if not (tick <= price <= 1 - tick):
        return f"{flag} {price} is outside the tradable range [{tick}, {1 - tick}]"
    return None


def order_problems(order: ManualOrder, terms: MarketTerms) -> list[str]:
    """Why the order must not be sent (empty: it may)."""
    problems: list[str] = []
    if terms.closed:
        problems.append("the market is closed: it takes no orders")
    elif not terms.accepting_orders or not terms.active:
        problems.append("the market is not accepting orders now")
    for flag, price in (("--price", order.price), ("--close-price", order.close_price)):
        if price is not None and (why := _price_problem(flag, price, terms.tick_size)) is not None:
            problems.append(why)
    if order.size <= 0:
        problems.append(f"--size {order.size} must be positive")
    elif order.size < terms.min_order_size:
        problems.append(f"--size {order.size} is below the market's minimum order size {terms.min_order_size}")
    if order.close_price is not None and not order.force:
        if order.side == "BUY" and order.close_price <= order.price:
            problems.append(f"--close-price {order.close_price} would sell at or below the buy price {order.price} "
                            f"(a loss): use a higher price, or --force")
        if order.side == "SELL" and order.close_price >= order.price:
            problems.append(f"--close-price {order.close_price} would buy back at or above the sell price "
                            f"{order.price} (a loss): use a lower price, or --force")
    return problems


def close_size_problem(filled: Decimal, terms: MarketTerms) -> str | None:
    """Why no closing order can be placed for ``filled`` shares (None: it can)."""
    if filled <= 0:
        return "nothing filled: no closing order placed"
    if filled < terms.min_order_size:
        return (f"filled {filled} is below the market's minimum order size {terms.min_order_size}: "
                f"no closing order placed")
    return None
