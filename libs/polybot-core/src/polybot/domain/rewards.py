"""Polymarket's liquidity-rewards score of our orders in one market, by the venue's published rule. Pure.

The rule (docs.polymarket.com/market-makers/liquidity-rewards, "Methodology" and "Equations" 1-4):

1. An order ``s`` away from the size-cutoff-adjusted midpoint, in a market whose max spread is ``v``, scores
   ``S(v, s) = ((v - s) / v)² · b``. Equations 2 and 3 multiply ``S`` by the order's share size, so an order
   scores ``((v - s) / v)² × size`` (the "in-game multiplier" ``b`` is 1: the docs publish no other value).
   Only orders within the max spread and of at least the min size count ("each market configures a max
   spread and min size cutoff within which orders are considered"); ``S`` is 0 at ``s = v``.
2. ``Q_one`` sums the bids on the market ``m`` (YES) and the asks on its complement ``m'`` (NO);
3. ``Q_two`` sums the asks on ``m`` and the bids on ``m'``. The two tokens are one book mirrored (a NO ask at
   ``q`` is a YES bid at ``1 - q``, the same distance from the mirrored midpoint), so in the YES frame
   ``Q_one`` is every bid and ``Q_two`` every ask: ``to_yes_frame`` maps an order there.
4. With the midpoint in [0.10, 0.90], ``Q_min = max(min(Q_one, Q_two), max(Q_one / c, Q_two / c))``, ``c = 3``
   (single-sided liquidity scores a third); outside it ``Q_min = min(Q_one, Q_two)`` (two-sided required).

Equations 5-7 (normalising against the other makers per sample and per epoch) need everybody's orders; we
report ``Q_min``, our side of that ratio. The venue samples once a minute and counts only orders that
rested at least 3.5 s, which is why the quoter keeps orders rather than churn them.

The size-cutoff-adjusted midpoint: the docs name it ("s: spread from size-cutoff-adjusted midpoint") but
give no formula. We take the plain reading: the midpoint of the best bid and the best ask after ignoring
every level smaller than the market's min size (``adjusted_midpoint``); a side with no such level has no
adjusted midpoint, and the caller falls back to the plain midpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from polybot.domain.book import Side
from polybot.domain.quote_inputs import RewardScore, TargetOrder

C = Decimal(3)  # "scaling factor (currently 3.0 on all markets)"
SINGLE_SIDED_RANGE = (Decimal("0.10"), Decimal("0.90"))  # inclusive: single-sided liquidity scores inside it
_CENT = Decimal(100)
_ONE = Decimal(1)
_ZERO = Decimal(0)
_HALF = Decimal("0.5")
_REPORT = Decimal("0.000001")  # scores reported to a millionth of a share-point


def max_spread_price(cents: Decimal) -> Decimal:
    """The max spread as a price distance: Gamma gives it in cents (3.5 → 0.035)."""
    return cents / _CENT


def to_yes_frame(asset_id: str, side: Side, price: Decimal, yes_token: str) -> tuple[Side, Decimal]:
    """An order's side and price seen in the YES book: a NO bid at ``q`` is a YES ask at ``1 - q``."""
    if asset_id == yes_token:
        return side, price
    return ("SELL" if side == "BUY" else "BUY"), _ONE - price


def best_at_least(levels: Iterable[tuple[Decimal, Decimal]], min_size: Decimal) -> Decimal | None:
    """The price of the first level (best first) of at least ``min_size``."""
    return next((p for p, s in levels if s >= min_size), None)


def adjusted_midpoint(bids: Iterable[tuple[Decimal, Decimal]], asks: Iterable[tuple[Decimal, Decimal]],
                      min_size: Decimal) -> Decimal | None:
    """The midpoint of the best bid and best ask among levels of at least ``min_size`` (levels best first).

    ``None`` when a side has no such level.
    """
    bid, ask = best_at_least(bids, min_size), best_at_least(asks, min_size)
    if bid is None or ask is None:
        return None
    return (bid + ask) * _HALF


def order_score(distance: Decimal, max_spread: Decimal, size: Decimal, min_size: Decimal) -> Decimal:
    """``((v - s) / v)² × size`` for an order ``distance`` from the midpoint; 0 outside the spread or below min size."""
    if size < min_size or distance >= max_spread:
        return _ZERO
    r = (max_spread - distance) / max_spread
    return r * r * size


def q_min(q_one: Decimal, q_two: Decimal, midpoint: Decimal) -> Decimal:
    """Equation 4: two-sided liquidity in full, single-sided at ``1/c``, and only inside [0.10, 0.90]."""
    both = min(q_one, q_two)
    lo, hi = SINGLE_SIDED_RANGE
    if lo <= midpoint <= hi:
        return max(both, max(q_one, q_two) / C)
    return both


def score(orders: Sequence[TargetOrder], yes_token: str, midpoint: Decimal, max_spread: Decimal,
          min_size: Decimal) -> RewardScore:
    """Our score around the YES-frame ``midpoint``; ``max_spread`` a price distance (``max_spread_price``)."""
    q_one = q_two = _ZERO
    for order in orders:
        side, price = to_yes_frame(order.asset_id, order.side, order.price, yes_token)
        s = order_score(abs(price - midpoint), max_spread, order.size, min_size)
        if side == "BUY":
            q_one += s
        else:
            q_two += s
    qm = q_min(q_one, q_two, midpoint)
    return RewardScore(midpoint=midpoint, max_spread=max_spread, q_one=q_one.quantize(_REPORT),
                       q_two=q_two.quantize(_REPORT), q_min=qm.quantize(_REPORT), qualifying=qm > 0)
