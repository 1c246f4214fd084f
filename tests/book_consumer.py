"""What a consumer of the book messages does, written apart from ``polybot.domain.book`` so that tests check
the ingestor's output against a second implementation: load a snapshot's levels, then apply the changes of
each later message (size 0 removes the level). Imported by name: the tests folder is on ``sys.path``."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

Sides = dict[Decimal, Decimal]


def apply_changes(bids: Sides, asks: Sides, changes: Iterable[Any]) -> None:
    """Apply level changes (``side``, ``price``, ``size``) to price → size maps."""
    for c in changes:
        side = bids if c.side == "BUY" else asks
        if c.size == 0:
            side.pop(c.price, None)
        else:
            side[c.price] = c.size


def rebuild(snapshot: Any | None, messages: Iterable[Any]) -> tuple[Sides, Sides]:
    """The book from ``snapshot`` (or an empty one) and the ``messages`` (``seq``, ``changes``) above its seq."""
    bids: Sides = {lv.price: lv.size for lv in snapshot.bids} if snapshot is not None else {}
    asks: Sides = {lv.price: lv.size for lv in snapshot.asks} if snapshot is not None else {}
    floor = snapshot.seq if snapshot is not None else 0
    for message in messages:
        if message.seq > floor:
            apply_changes(bids, asks, message.changes)
    return bids, asks
