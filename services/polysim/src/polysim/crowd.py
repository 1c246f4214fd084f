"""Background liquidity: how the simulated crowd (or a replay) changes levels of a book.

Crowd size at a level is kept as anonymous entries queued with accounts' orders (time priority holds).
Adding appends an entry; removing takes from the newest crowd entries first; an absolute set (replay) makes
the crowd's share of the level whatever the recorded level size leaves after accounts' orders.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from polysim.book import Entry, Level, MarketBook, Side
from polysim.units import ONE

if TYPE_CHECKING:
    from polysim.catalog import SimMarket
    from polysim.engine import Engine


def _crowd_size(lvl: Level) -> int:
    return sum(e.size for e in lvl.entries if e.order is None)


def _remove_crowd(lvl: Level, amount: int) -> int:
    removed = 0
    for entry in reversed(lvl.entries):
        if removed >= amount:
            break
        if entry.order is None:
            n = min(entry.size, amount - removed)
            entry.size -= n
            removed += n
    if removed:
        lvl.entries = deque(e for e in lvl.entries if e.size > 0)
    return removed


def _would_cross(book: MarketBook, is_bid: bool, price: int) -> bool:
    other = book.side(not is_bid).best()
    return other is not None and (price >= other if is_bid else price <= other)


def change_levels(engine: Engine, market: SimMarket, changes: list[tuple[bool, int, int]], ts: int,
                  absolute: bool = False) -> None:
    """Apply crowd changes (is bid, reference price, size delta or absolute size); emit one price_change.

    Changes that would cross the book or remove nothing are skipped; a change to a level that did not move
    is skipped too, so every emitted entry reflects a real change.
    """
    book = engine.book(market.condition_id)
    entries: list[tuple[str, str]] = []
    for is_bid, price, amount in changes:
        side = book.side(is_bid)
        lvl = side.levels.get(price)
        before = lvl.size if lvl is not None else 0
        if absolute:
            crowd = _crowd_size(lvl) if lvl is not None else 0
            delta = max(0, amount - (before - crowd)) - crowd
        else:
            delta = amount
        if delta > 0:
            if _would_cross(book, is_bid, price):
                continue
            lvl = side.level(price)
            lvl.entries.append(Entry(None, delta))
        elif delta < 0 and lvl is not None:
            if not _remove_crowd(lvl, -delta):
                continue
        else:
            continue
        side.touched(lvl)
        book.updated_ms = ts
        entries.append(engine.wire.entry(book, 0, is_bid, price, ts))
        entries.append(engine.wire.entry(book, 1, is_bid, price, ts))
    if entries:
        engine.wire.price_change(book, entries, ts)


def reset_book(engine: Engine, market: SimMarket, token_index: int, bids: list[tuple[int, int]],
               asks: list[tuple[int, int]], ts: int) -> None:
    """Replace the crowd's liquidity with a recorded snapshot of one token; emit both tokens' ``book``.

    ``bids``/``asks`` are (price, size) in that token's own prices. Accounts' orders stay where they are.
    """
    book = engine.book(market.condition_id)
    if token_index == 1:  # the complement's bids are the reference asks, mirrored
        bids, asks = [(ONE - p, s) for p, s in asks], [(ONE - p, s) for p, s in bids]
    for side, levels in ((book.bids, bids), (book.asks, asks)):
        _reset_side(side, dict(levels))
    book.updated_ms = ts
    engine.wire.post_trade_books(book, ts)


def _reset_side(side: Side, target: dict[int, int]) -> None:
    for price in list(side.prices):
        lvl = side.levels[price]
        lvl.entries = deque(e for e in lvl.entries if e.order is not None)
        side.touched(lvl)
    for price, size in target.items():
        if size <= 0:
            continue
        lvl = side.level(price)
        real = sum(e.size for e in lvl.entries)
        if size > real:
            lvl.entries.append(Entry(None, size - real))
        side.touched(lvl)
