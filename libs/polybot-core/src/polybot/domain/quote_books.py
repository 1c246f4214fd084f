"""The books the SpreadQuoter reads (``QuoteBook``): built from an L2 book, mirrored, their common tick, and
whether a target crosses them. Pure, ``Decimal`` only.

Both the quoter (from the feed's ``BookView``) and the replay (from its own ``BookSync``) build their
``QuoteBook``s here, so that both hand the SpreadQuoter the same thing for the same book.

Polymarket's two outcome tokens are one book mirrored: a YES bid at ``p`` is a NO ask at ``1 - p``.
``mirrored`` is the other token's book as the venue serves it beside one (a recording often holds one token
only). ``target_crosses`` is an audit of a decision against the books it was made from, written apart from the
SpreadQuoter's own pricing rules so that it can catch them out.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from polybot.domain.book import L2Book
from polybot.domain.quote_inputs import QuoteBook, TargetOrder
from polybot.domain.rewards import to_yes_frame

_ONE = Decimal(1)


def quote_book(asset_id: str, state: str, book: L2Book, tick_size: Decimal | None, age_ms: int | None,
               reason: str | None) -> QuoteBook:
    """One token's ``QuoteBook``: both sides best first; the reason only while the book is not live."""
    return QuoteBook(
        asset_id=asset_id, state=state,
        bids=book.bid_pairs(), asks=book.ask_pairs(),
        tick_size=tick_size, age_ms=age_ms, reason=None if state == "live" else reason)


def mirrored(book: QuoteBook, asset_id: str) -> QuoteBook:
    """The complement token's book: ``book``'s asks at ``1 - p`` are its bids, its bids its asks (best first
    stays best first); the same state, tick, age and reason."""
    return QuoteBook(asset_id, book.state, tuple((_ONE - p, s) for p, s in book.asks),
                     tuple((_ONE - p, s) for p, s in book.bids), book.tick_size, book.age_ms, book.reason)


def agreed_tick(books: Iterable[QuoteBook], fallback: Decimal | None) -> Decimal | None:
    """The tick every book's snapshot agrees on; else ``fallback``; else any book's."""
    ticks = {b.tick_size for b in books}
    if len(ticks) == 1 and None not in ticks:
        return next(iter(ticks))
    return fallback if fallback is not None else next((t for t in ticks if t is not None), None)


def yes_touch(yes: QuoteBook, no: QuoteBook) -> tuple[Decimal | None, Decimal | None]:
    """The best bid and ask of the one book both tokens show, in the YES frame (``None``: an empty side)."""
    bids = [p for p in (yes.bids[0][0] if yes.bids else None, _ONE - no.asks[0][0] if no.asks else None)
            if p is not None]
    asks = [p for p in (yes.asks[0][0] if yes.asks else None, _ONE - no.bids[0][0] if no.bids else None)
            if p is not None]
    return (max(bids) if bids else None), (min(asks) if asks else None)


def target_crosses(orders: Iterable[TargetOrder], yes: QuoteBook, no: QuoteBook, yes_token: str) -> bool:
    """Some order, seen in the YES frame, would cross or lock the books (a bid at or above the best ask, an
    ask at or below the best bid), or the orders cross or lock each other."""
    best_bid, best_ask = yes_touch(yes, no)
    bids: list[Decimal] = []
    asks: list[Decimal] = []
    for order in orders:
        side, price = to_yes_frame(order.asset_id, order.side, order.price, yes_token)
        if side == "BUY":
            if best_ask is not None and price >= best_ask:
                return True
            bids.append(price)
        else:
            if best_bid is not None and price <= best_bid:
                return True
            asks.append(price)
    return bool(bids and asks and max(bids) >= min(asks))
