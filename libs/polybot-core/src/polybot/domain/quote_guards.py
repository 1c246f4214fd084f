"""Why a market must not be quoted now, if it must not: the SpreadQuoter's guards. Pure.

``market_problem`` checks, in this order, and returns the first reason that applies (``None``: quotable):

1. ``kill_switch`` — the operator's kill switch is on; ``risk_halted`` — an executor's risk breach holds the
   market (or every market) until an operator clears it (its orders are cancelled there: quoting is futile);
2. ``market_closed`` — the market is closed, inactive, or not accepting orders;
3. ``too_close_to_end`` — it ends within ``min_time_to_end_ms`` (or has ended);
4. ``no_book`` — nothing received yet for either token;
5. each token's book, YES first, then NO: ``tick_changed`` (the publisher's reason is ``tick_size``, or the tick of
   the snapshot the book stands on differs from the market's), ``resyncing`` (the feed has no trusted book;
   a state the quoter does not know counts as this), ``unverified`` (its hash is pending), ``stale_book``
   (the feed says stale, or the book is older than ``stale_after_ms``, or its age is unknown);
6. ``crossed`` — the venue's book is crossed or locked: either token's own best bid ≥ its best ask, or the
   two mirrored books seen together in the YES frame (a NO ask at ``q`` is a YES bid at ``1 - q``).
"""

from __future__ import annotations

from decimal import Decimal

from polybot.domain.quote_inputs import (
    CROSSED,
    KILL_SWITCH,
    MARKET_CLOSED,
    NO_BOOK,
    RESYNCING,
    RISK_HALTED,
    STALE_BOOK,
    TICK_CHANGED,
    TOO_CLOSE_TO_END,
    UNVERIFIED,
    OurState,
    QuoteBook,
    QuoteMarket,
    QuoteParams,
)

_ONE = Decimal(1)


def book_problem(book: QuoteBook, market: QuoteMarket, params: QuoteParams) -> str | None:
    """Why one token's book cannot be quoted from (``None``: it can)."""
    if book.reason == "tick_size" or (book.tick_size is not None and book.tick_size != market.tick_size):
        return TICK_CHANGED
    if book.state == "unverified":
        return UNVERIFIED
    if book.state == "stale":
        return STALE_BOOK
    if book.state != "live":
        return RESYNCING
    if book.age_ms is None or book.age_ms > params.stale_after_ms:
        return STALE_BOOK
    return None


def venue_crossed(yes: QuoteBook, no: QuoteBook) -> bool:
    """The venue's book (both tokens, seen in the YES frame) is crossed or locked."""
    for book in (yes, no):
        if book.bids and book.asks and book.bids[0][0] >= book.asks[0][0]:
            return True
    # A YES bid at p and a NO bid at q lock the one book when p + q >= 1 (and likewise for the asks).
    if yes.bids and no.bids and yes.bids[0][0] + no.bids[0][0] >= _ONE:
        return True
    return bool(yes.asks and no.asks and yes.asks[0][0] + no.asks[0][0] <= _ONE)


def market_problem(market: QuoteMarket, yes: QuoteBook | None, no: QuoteBook | None, ours: OurState,
                   params: QuoteParams, now_ms: int) -> str | None:
    """The first reason (in the module's order) not to quote ``market`` at ``now_ms``, or ``None``."""
    if ours.kill_switch:
        return KILL_SWITCH
    if ours.risk_halted:
        return RISK_HALTED
    if market.closed or not market.active or not market.accepting_orders:
        return MARKET_CLOSED
    if market.end_ms is not None and market.end_ms - now_ms < params.min_time_to_end_ms:
        return TOO_CLOSE_TO_END
    if yes is None or no is None:
        return NO_BOOK
    problem = book_problem(yes, market, params) or book_problem(no, market, params)
    if problem is not None:
        return problem
    if venue_crossed(yes, no):
        return CROSSED
    return None
