"""What the quoter reads, turned into the SpreadQuoter's inputs (``polybot.domain.quote_inputs``): plain
conversions, no I/O.

* ``MarketInfo`` → ``QuoteMarket``: YES is outcome index 0, NO index 1; rewards only when the market pays them
  (a size floor, a spread ceiling and a daily rate, all positive); the end date as epoch ms.
* ``BookView`` → ``QuoteBook``: the feed's state, both sides best first, the tick of the snapshot the book
  stands on, its age, and the publisher's reason while it is not live (``tick_size`` after a tick change);
  the conversion itself is ``polybot.domain.quote_books``'s, which the replay shares.
* ``MarketPosition`` → ``OurState``: shares per token, resting orders, ``version`` = its ``seq``.

The market's tick is the one its books stand on when both tokens' snapshots agree: the venue announces a tick
change on the market channel, and the ingestor's next snapshot carries it long before gamma-sync's next
refresh does. ``MarketInfo``'s tick is the fallback (no snapshot yet, or the two tokens disagree, which the
SpreadQuoter's guard then refuses as ``tick_changed``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from polybot.bus.book_feed import BookView
from polybot.bus.messages import MarketInfo, MarketPosition, RiskState
from polybot.domain import quote_books
from polybot.domain.quote_inputs import OurOrder, OurState, QuoteBook, QuoteMarket

DEFAULT_MIN_ORDER_SIZE = Decimal(5)  # the venue's usual minimum, when neither Gamma nor the CLOB says
_ZERO = Decimal(0)
_ONE = Decimal(1)


def binary_tokens(info: MarketInfo) -> tuple[str, str] | None:
    """(YES, NO) token ids of a two-outcome market by outcome index; ``None`` for any other shape."""
    by_index = {t.index: t.token_id for t in info.tokens}
    if len(info.tokens) != 2 or set(by_index) != {0, 1}:
        return None
    return by_index[0], by_index[1]


def end_ms(end_date: str | None) -> int | None:
    """Gamma's end date (ISO 8601) as epoch ms; ``None`` when absent, unreadable or without a zone."""
    if not end_date:
        return None
    try:
        at = datetime.fromisoformat(end_date.replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return int(at.timestamp() * 1000)


def pays_rewards(info: MarketInfo) -> bool:
    return all(v is not None and v > 0 for v in (info.rewards_max_spread, info.rewards_min_size,
                                                 info.rewards_daily_rate))


def market_tick(info: MarketInfo, books: Iterable[QuoteBook]) -> Decimal | None:
    """The tick to quote on: the books' snapshot tick when every token's agrees, else ``MarketInfo``'s."""
    return quote_books.agreed_tick(books, info.tick_size)


def quote_market(info: MarketInfo, tokens: tuple[str, str], tick_size: Decimal) -> QuoteMarket:
    rewarded = pays_rewards(info)
    return QuoteMarket(
        condition_id=info.condition_id, yes_token=tokens[0], no_token=tokens[1], tick_size=tick_size,
        min_order_size=info.min_order_size if info.min_order_size is not None else DEFAULT_MIN_ORDER_SIZE,
        neg_risk=info.neg_risk, end_ms=end_ms(info.end_date), closed=info.closed or info.missing,
        active=info.active, accepting_orders=info.accepting_orders and info.enable_order_book,
        rewards_max_spread=info.rewards_max_spread if rewarded else None,
        rewards_min_size=info.rewards_min_size if rewarded else None)


def quote_book(view: BookView) -> QuoteBook:
    return quote_books.quote_book(view.asset_id, view.state.value, view.book, view.tick_size, view.age_ms,
                                  view.publisher_reason)


def position_notional(position: MarketPosition) -> Decimal:
    """What a market's holdings and resting buys cost (USDC): shares at their average price (at 1, the most a
    share can cost, when the executor does not know it) plus price × size of every resting BUY."""
    held = sum((p.size * (p.avg_price if p.avg_price is not None else _ONE) for p in position.positions), _ZERO)
    resting = sum((o.price * o.size for o in position.open_orders if o.side == "BUY"), _ZERO)
    return held + resting


def our_state(position: MarketPosition | None, notional_usdc: Decimal, kill_switch: bool,
              risk_halted: bool = False) -> OurState:
    if position is None:
        return OurState(notional_usdc=notional_usdc, kill_switch=kill_switch, risk_halted=risk_halted)
    return OurState(
        positions={p.asset_id: p.size for p in position.positions},
        open_orders=tuple(OurOrder(o.order_id, o.asset_id, o.side, o.price, o.size) for o in position.open_orders),
        version=position.seq, notional_usdc=notional_usdc, kill_switch=kill_switch, risk_halted=risk_halted)


def halted_scopes(states: Iterable[RiskState]) -> frozenset[str]:
    """What the executors' risk breaches hold: condition ids, and ``*`` when one holds every market."""
    return frozenset(b.scope for s in states for b in s.breaches)


def yes_inventory(position: MarketPosition | None, tokens: tuple[str, str]) -> Decimal:
    """Our inventory in the YES frame: YES shares minus NO shares (a NO share is a short YES share)."""
    if position is None:
        return _ZERO
    sizes: Mapping[str, Decimal] = {p.asset_id: p.size for p in position.positions}
    return sizes.get(tokens[0], _ZERO) - sizes.get(tokens[1], _ZERO)
