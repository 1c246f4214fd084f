"""Paper matching: our orders rest in memory and fill against the venue's real books and trades.

No order reaches a venue. Each resting order remembers how much venue size was ahead of it at its price
(it joined the back of the level). That queue shrinks when trades print at our price (they take the
front first) and when the level shrinks for other reasons (cancels, assumed spread evenly through the
queue, so ahead of us in proportion). We fill:

* when a trade at our price is bigger than the queue ahead of us (the rest of it reaches us);
* when the venue's opposite side reaches our price (a venue ask at or below our bid: in the real book
  that seller would have matched us), up to the size offered there. The venue never learns that we took
  it, so the size stays in its book: what we took is remembered per level (``taken``) and never fills us
  again — only size added there since does (a level that shrinks gives back our share of it last). Our
  orders of a side take such liquidity best price first, then oldest first.

Makers always fill at their own limit price; a taker (an order that crosses when placed, allowed only when
not post-only) walks the opposite levels at their prices. Nothing ever fills better than the touch. The
clock is passed in; there is no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from polybot.domain.book import Side

_ZERO = Decimal(0)
Levels = Sequence[tuple[Decimal, Decimal]]  # (price, size), best first
OrderType = Literal["GTC", "GTD", "FAK", "FOK"]
_FOK_KILLED = "order couldn't be fully filled. FOK orders are fully filled or killed."  # the venue's words


@dataclass(frozen=True, slots=True)
class PaperFill:
    order_id: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal
    maker: bool
    ts_ms: int


@dataclass(slots=True)
class PaperOrder:
    order_id: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal
    remaining: Decimal
    queue_ahead: Decimal
    placed_ms: int
    level_seen: Decimal = _ZERO  # the venue size at our price when we last looked
    traded_since: Decimal = _ZERO  # trades at our price since then (already taken from the queue)


@dataclass(frozen=True, slots=True)
class PaperAnswer:
    order_id: str
    accepted: bool
    error: str | None = None
    fills: tuple[PaperFill, ...] = ()
    resting: bool = False


def _level(levels: Levels, price: Decimal) -> Decimal:
    return next((size for p, size in levels if p == price), _ZERO)


def _crosses(side: Side, price: Decimal, opposite_price: Decimal) -> bool:
    return opposite_price <= price if side == "BUY" else opposite_price >= price


@dataclass(slots=True)
class PaperVenue:
    """Resting paper orders across assets; feed it books and trades, read fills."""

    orders: dict[str, PaperOrder] = field(default_factory=dict)
    # (asset, our side) → opposite-side price → venue size there we already filled against
    taken: dict[tuple[str, Side], dict[Decimal, Decimal]] = field(default_factory=dict)

    def place(self, order_id: str, asset_id: str, side: Side, price: Decimal, size: Decimal, *, bids: Levels,
              asks: Levels, now_ms: int, post_only: bool = True, order_type: OrderType = "GTC") -> PaperAnswer:
        if size <= 0 or not 0 < price < 1:
            return PaperAnswer(order_id, False, "invalid order: size must be positive and price inside (0, 1)")
        if order_id in self.orders:
            return PaperAnswer(order_id, False, "duplicate order id")
        opposite = asks if side == "BUY" else bids
        crossing = [(p, s) for p, s in opposite if _crosses(side, price, p)]
        if crossing and post_only:
            return PaperAnswer(order_id, False, "invalid post-only order: order crosses book")
        fills: list[PaperFill] = []
        left = size
        taken = self._taken(asset_id, side, opposite)
        crossing = [(p, s - taken.get(p, _ZERO)) for p, s in crossing if s > taken.get(p, _ZERO)]
        if order_type == "FOK" and sum((s for _, s in crossing), _ZERO) < size:
            return PaperAnswer(order_id, False, _FOK_KILLED)
        for p, s in crossing:  # best first: never better than the touch, never past our limit
            take = min(left, s)
            fills.append(PaperFill(order_id, asset_id, side, p, take, False, now_ms))
            taken[p] = taken.get(p, _ZERO) + take
            left -= take
            if not left:
                break
        if not left or order_type in ("FAK", "FOK"):
            return PaperAnswer(order_id, True, None, tuple(fills), resting=False)
        own = bids if side == "BUY" else asks
        ahead = _level(own, price)
        self.orders[order_id] = PaperOrder(order_id, asset_id, side, price, size, left, ahead, now_ms, ahead)
        return PaperAnswer(order_id, True, None, tuple(fills), resting=True)

    def cancel(self, order_id: str) -> bool:
        return self.orders.pop(order_id, None) is not None

    def on_trade(self, asset_id: str, price: Decimal, size: Decimal, now_ms: int) -> list[PaperFill]:
        """A trade printed on the venue at ``price``: it takes the queue ahead of us first."""
        fills: list[PaperFill] = []
        for o in self._of(asset_id):
            if o.price != price:
                continue
            through = size - o.queue_ahead
            o.queue_ahead = max(_ZERO, o.queue_ahead - size)
            o.traded_since += size
            if through > 0:
                fills.append(self._fill(o, min(through, o.remaining), now_ms))
        self._drop_done()
        return fills

    def on_book(self, asset_id: str, bids: Levels, asks: Levels, now_ms: int) -> list[PaperFill]:
        """The venue's book of ``asset_id`` now: shrink queues, fill what the other side reached."""
        fills: list[PaperFill] = []
        sides: tuple[tuple[Side, Levels], ...] = (("BUY", asks), ("SELL", bids))
        for side, opposite in sides:
            fills.extend(self._reached(asset_id, side, opposite, now_ms))
        for o in self._of(asset_id):
            if not o.remaining:
                continue
            level = _level(bids if o.side == "BUY" else asks, o.price)
            shrink = o.level_seen - level - o.traded_since  # what left the level other than by trades we saw
            if shrink > 0 and o.level_seen > 0:
                o.queue_ahead = max(_ZERO, o.queue_ahead - shrink * o.queue_ahead / o.level_seen)
            o.queue_ahead = min(o.queue_ahead, level)  # never more ahead of us than the level holds
            o.level_seen, o.traded_since = level, _ZERO
        self._drop_done()
        return fills

    def open_orders(self, asset_id: str | None = None) -> list[PaperOrder]:
        return [o for o in self.orders.values() if asset_id is None or o.asset_id == asset_id]

    def _taken(self, asset_id: str, side: Side, opposite: Levels) -> dict[Decimal, Decimal]:
        """What we took of each opposite level, cut to what the level still holds (gone levels forgotten)."""
        now = dict(opposite)
        taken = {p: min(t, now[p]) for p, t in self.taken.get((asset_id, side), {}).items() if now.get(p, _ZERO) > 0}
        self.taken[(asset_id, side)] = taken
        return taken

    def _reached(self, asset_id: str, side: Side, opposite: Levels, now_ms: int) -> list[PaperFill]:
        """Our ``side`` orders filled by the untaken opposite liquidity at or through their prices."""
        taken = self._taken(asset_id, side, opposite)
        free = [[p, s - taken.get(p, _ZERO)] for p, s in opposite]  # best first
        mine = sorted((o for o in self._of(asset_id) if o.side == side),
                      key=lambda o: (-o.price if side == "BUY" else o.price, o.placed_ms))
        fills: list[PaperFill] = []
        for o in mine:
            got = _ZERO
            for level in free:
                if not _crosses(side, o.price, level[0]) or got == o.remaining:
                    break
                take = min(level[1], o.remaining - got)
                if take > 0:
                    level[1] -= take
                    taken[level[0]] = taken.get(level[0], _ZERO) + take
                    got += take
            if got > 0:
                fills.append(self._fill(o, got, now_ms))
        return fills

    def _of(self, asset_id: str) -> list[PaperOrder]:
        return sorted((o for o in self.orders.values() if o.asset_id == asset_id), key=lambda o: o.placed_ms)

    @staticmethod
    def _fill(o: PaperOrder, size: Decimal, now_ms: int) -> PaperFill:
        o.remaining -= size
        return PaperFill(o.order_id, o.asset_id, o.side, o.price, size, True, now_ms)

    def _drop_done(self) -> None:
        for oid in [oid for oid, o in self.orders.items() if not o.remaining]:
            del self.orders[oid]
