"""Where the SpreadQuoter's orders go and how big they are, in the YES frame. Pure, ``Decimal`` only.

Polymarket's two outcome tokens are one book mirrored: a YES bid at ``p`` is a NO ask at ``1 - p``. Everything
here is worked out in the YES frame and mapped to the tokens at the end.

**The book we quote around** (``others_touch``) is the venue's, seen in the YES frame through both tokens'
books, *without our own resting orders*: a quote must not chase itself (with our bid at the touch, a fair
price read off the touch would follow our skew, and the next skew would follow that).

**Placement: sell what we hold, else buy the complement.** Our bid (in the YES frame) at ``b`` is a SELL of
NO at ``1 - b`` when we hold at least the min order size of NO, otherwise a BUY of YES at ``b``; our ask at
``a`` is a SELL of YES at ``a`` when we hold YES, otherwise a BUY of NO at ``1 - a`` (a maker sells YES it does
not hold by buying NO). Selling first unwinds a position instead of pairing it with its complement, which
would lock the collateral of both until merged; the venue never lets us sell what we lack.

**Prices.** ``centre = fair - skew_ticks_at_cap · tick · clamp(net / max_position, -1, 1)`` with ``net`` the
YES shares held minus the NO shares (long YES: both quotes move down, we buy less eagerly and sell more
eagerly). The bid is the centre minus ``half_spread_ticks`` ticks rounded down to the tick, the ask the centre
plus as many rounded up. Where the market pays liquidity rewards (and ``rewards`` is on), a quote outside
the max spread of the size-cutoff-adjusted midpoint moves in to the first tick inside it, never past the
centre. Post-only: the bid stays below the best ask and the ask above the best bid (never locked); our own
bid stays below our own ask (so our YES bid + our NO bid < 1); if the rewards band would break that, the
band is dropped. Prices are multiples of the tick (``Decimal`` quantisation, any tick) in [tick, 1 - tick]:
a side that would fall outside is dropped.

**Sizes.** ``order_size`` (at least the rewards min size in a rewarded market). A buy that grows a token's
position shrinks linearly to zero at ``max_position`` and never takes the position past it; a sell never
exceeds what we hold. Buys together never take the notional we commit across every market past
``max_notional_usdc`` (``OurState.notional_usdc`` counts this market's resting buys, which the target
replaces). Sizes are rounded down to 0.01 share; a side below the market's min order size is dropped.
Orders come in priority order: the side that reduces our net position first.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import NamedTuple

from polybot.domain.book import Side
from polybot.domain.quote_inputs import FairPrice, OurOrder, OurState, QuoteBook, QuoteMarket, QuoteParams, TargetOrder
from polybot.domain.rewards import max_spread_price, to_yes_frame

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HALF = Decimal("0.5")
_SIZE_STEP = Decimal("0.01")  # the venue's share precision
_FAIR_STEP = Decimal("0.000001")  # a microprice is a ratio: cut it at a millionth


class Touch(NamedTuple):
    """The venue's best bid and ask in the YES frame without our orders; with a rewards min size, also the
    best bid and ask among levels of at least that size (``None``: no such level)."""

    bid: Decimal
    bid_size: Decimal
    ask: Decimal
    ask_size: Decimal
    big_bid: Decimal | None = None
    big_ask: Decimal | None = None


def floor_tick(x: Decimal, tick: Decimal) -> Decimal:
    """The largest multiple of ``tick`` at or below ``x``."""
    return (x / tick).to_integral_value(ROUND_FLOOR) * tick


def ceil_tick(x: Decimal, tick: Decimal) -> Decimal:
    """The smallest multiple of ``tick`` at or above ``x``."""
    return (x / tick).to_integral_value(ROUND_CEILING) * tick


Levels = tuple[tuple[Decimal, Decimal], ...]


def our_levels(orders: Iterable[OurOrder], yes_token: str) -> tuple[Levels, Levels]:
    """Our resting orders as (price, size) in the YES frame: (bids, asks)."""
    bids: list[tuple[Decimal, Decimal]] = []
    asks: list[tuple[Decimal, Decimal]] = []
    for o in orders:
        side, price = to_yes_frame(o.asset_id, o.side, o.price, yes_token)
        (bids if side == "BUY" else asks).append((price, o.size))
    return tuple(bids), tuple(asks)


def _mirror(levels: Levels) -> Levels:
    return tuple((_ONE - p, s) for p, s in levels)


def _first(levels: Levels, ours: Levels, min_size: Decimal = _ZERO) -> tuple[Decimal, Decimal] | None:
    """The best level (of at least ``min_size``) once our sizes at its price are taken out."""
    # A handful of our orders against a few levels: comparing beats hashing (a Decimal's hash is not cached).
    for price, size in levels:
        for p, s in ours:
            if p == price:
                size -= s
        if size > 0 and size >= min_size:
            return price, size
    return None


def _better(a: tuple[Decimal, Decimal] | None, b: tuple[Decimal, Decimal] | None,
            bid: bool) -> tuple[Decimal, Decimal] | None:
    if a is None or b is None:
        return a or b
    if a[0] == b[0]:  # the same level seen in both books: the same orders, not twice as many
        return a[0], max(a[1], b[1])
    return a if (a[0] > b[0]) == bid else b


def others_touch(yes: QuoteBook, no: QuoteBook, ours: OurState, market: QuoteMarket,
                 reward_min_size: Decimal | None) -> Touch | None:
    """The touch of everybody but us in the YES frame (``None``: a side is empty)."""
    our_bids, our_asks = our_levels(ours.open_orders, market.yes_token) if ours.open_orders else ((), ())
    # In the NO book our YES-frame bids are asks at 1 - p, and our asks are bids.
    yb, ya = _first(yes.bids, our_bids), _first(yes.asks, our_asks)
    nb, na = _first(no.bids, _mirror(our_asks)), _first(no.asks, _mirror(our_bids))
    bid = _better(yb, None if na is None else (_ONE - na[0], na[1]), bid=True)
    ask = _better(ya, None if nb is None else (_ONE - nb[0], nb[1]), bid=False)
    if bid is None or ask is None:
        return None
    if reward_min_size is None:
        return Touch(bid[0], bid[1], ask[0], ask[1])
    # The rewards midpoint is the venue's, read off the YES book (the NO book is its mirror).
    big_bid, big_ask = _first(yes.bids, our_bids, reward_min_size), _first(yes.asks, our_asks, reward_min_size)
    return Touch(bid[0], bid[1], ask[0], ask[1], None if big_bid is None else big_bid[0],
                 None if big_ask is None else big_ask[0])


def reward_midpoint(touch: Touch, orders: Iterable[TargetOrder] = (), yes_token: str = "",
                    min_size: Decimal = _ZERO) -> Decimal:
    """The size-cutoff-adjusted midpoint of the book with ``orders`` resting in it (``rewards.adjusted_midpoint``);
    the plain midpoint when a side has no level of the min size."""
    bid, ask, big_bid, big_ask = touch.bid, touch.ask, touch.big_bid, touch.big_ask
    for order in orders:
        side, price = to_yes_frame(order.asset_id, order.side, order.price, yes_token)
        big = order.size >= min_size
        if side == "BUY":
            bid = max(bid, price)
            big_bid = price if big and (big_bid is None or price > big_bid) else big_bid
        else:
            ask = min(ask, price)
            big_ask = price if big and (big_ask is None or price < big_ask) else big_ask
    if big_bid is None or big_ask is None:
        return (bid + ask) * _HALF
    return (big_bid + big_ask) * _HALF


def fair_price(touch: Touch, kind: FairPrice, tick: Decimal) -> Decimal:
    """The midpoint, or the size-weighted microprice, of the touch, clamped to [tick, 1 - tick]."""
    total = touch.bid_size + touch.ask_size
    if kind == "micro" and total > 0:
        # The microprice leans toward the thinner side: that is where the next trade is likelier to go.
        fair = ((touch.bid * touch.ask_size + touch.ask * touch.bid_size) / total).quantize(_FAIR_STEP)
    else:
        fair = (touch.bid + touch.ask) * _HALF
    return min(max(fair, tick), _ONE - tick)


def rewards_band(market: QuoteMarket) -> tuple[Decimal, Decimal] | None:
    """(max spread as a price distance, min size) when the market pays liquidity rewards."""
    v, size = market.rewards_max_spread, market.rewards_min_size
    if v is None or size is None or v <= 0:
        return None
    return max_spread_price(v), size


def _prices(market: QuoteMarket, params: QuoteParams, touch: Touch, centre: Decimal,
            band: Decimal | None) -> tuple[Decimal, Decimal]:
    tick = market.tick_size
    half = params.half_spread_ticks * tick
    bid, ask = floor_tick(centre - half, tick), ceil_tick(centre + half, tick)
    below_ask, above_bid = ceil_tick(touch.ask, tick) - tick, floor_tick(touch.bid, tick) + tick
    plain = min(bid, below_ask), max(ask, above_bid)
    if band is None:
        return plain
    mid = reward_midpoint(touch)
    inner_bid, inner_ask = floor_tick(mid - band, tick) + tick, ceil_tick(mid + band, tick) - tick
    if inner_bid <= centre:
        bid = max(bid, inner_bid)
    if inner_ask >= centre:
        ask = min(ask, inner_ask)
    banded = min(bid, below_ask), max(ask, above_bid)
    return banded if banded[0] < banded[1] else plain


def _floor_size(x: Decimal) -> Decimal:
    return x.quantize(_SIZE_STEP, ROUND_DOWN)


def _buy_size(base: Decimal, held: Decimal, cap: Decimal) -> Decimal:
    room = cap - held
    if room <= 0:
        return _ZERO
    return _floor_size(min(base * room / cap, room))


def resting_buy_cost(orders: Iterable[OurOrder]) -> Decimal:
    return sum((o.price * o.size for o in orders if o.side == "BUY"), _ZERO)


def buy_cost(orders: Iterable[TargetOrder]) -> Decimal:
    return sum((o.price * o.size for o in orders if o.side == "BUY"), _ZERO)


def notional_room(params: QuoteParams, ours: OurState) -> Decimal:
    """What this market's buys may cost: the global cap less what every other market commits."""
    return params.max_notional_usdc - (ours.notional_usdc - resting_buy_cost(ours.open_orders))


def plan_orders(market: QuoteMarket, params: QuoteParams, touch: Touch, ours: OurState,
                fair: Decimal) -> tuple[TargetOrder, ...]:
    """The target for one market (empty: every side dropped by a cap or the price range)."""
    tick, yes, no = market.tick_size, market.yes_token, market.no_token
    held_yes, held_no = ours.positions.get(yes, _ZERO), ours.positions.get(no, _ZERO)
    net, cap = held_yes - held_no, params.max_position
    lean = min(max(net / cap, -_ONE), _ONE)
    centre = fair - params.skew_ticks_at_cap * tick * lean
    band = rewards_band(market) if params.rewards else None
    base = params.order_size if band is None else max(params.order_size, band[1])
    bid, ask = _prices(market, params, touch, centre, None if band is None else band[0])

    sides: list[tuple[str, Side, Decimal, Decimal]] = []  # (asset, side, price, size), in priority order
    if bid >= tick:
        if held_no >= market.min_order_size:
            sides.append((no, "SELL", _ONE - bid, _floor_size(min(base, held_no))))
        else:
            sides.append((yes, "BUY", bid, _buy_size(base, held_yes, cap)))
    if ask <= _ONE - tick:
        if held_yes >= market.min_order_size:
            sides.append((yes, "SELL", ask, _floor_size(min(base, held_yes))))
        else:
            sides.append((no, "BUY", _ONE - ask, _buy_size(base, held_no, cap)))
    if net > 0:
        sides.reverse()  # long YES: the ask side unwinds it, so it goes first

    room = notional_room(params, ours)
    orders: list[TargetOrder] = []
    for asset, side, price, size in sides:
        if side == "BUY" and price * size > room:
            size = _floor_size(room / price) if room > 0 else _ZERO
        if size < market.min_order_size or size <= 0:
            continue
        if side == "BUY":
            room -= price * size
        orders.append(TargetOrder(asset, side, price, size))
    return tuple(orders)


def crosses(orders: Iterable[TargetOrder], touch: Touch, yes_token: str) -> bool:
    """Some order would cross or lock the touch (its bid at or above the best ask, its ask at or below the bid)."""
    for order in orders:
        side, price = to_yes_frame(order.asset_id, order.side, order.price, yes_token)
        if (price >= touch.ask) if side == "BUY" else (price <= touch.bid):
            return True
    return False


def crosses_itself(orders: Iterable[TargetOrder], yes_token: str) -> bool:
    """Our own bids and asks, seen in the YES frame, cross or lock (a YES bid and a NO bid summing to 1 or more
    is one such case)."""
    bids: list[Decimal] = []
    asks: list[Decimal] = []
    for order in orders:
        side, price = to_yes_frame(order.asset_id, order.side, order.price, yes_token)
        (bids if side == "BUY" else asks).append(price)
    return bool(bids and asks and max(bids) >= min(asks))
