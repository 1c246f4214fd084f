"""Reading what the ingestor published with the production consumer (``polybot.domain.book_follow``), from bus
messages or from the state machine's own effects. Imported by name: the tests folder is on ``sys.path``."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from polybot.bus.book_feed import feed_delta, feed_snapshot
from polybot.bus.messages import BookDelta, BookSnapshot
from polybot.domain.book_effects import Snapshot
from polybot.domain.book_follow import FeedDelta, FeedSnapshot, follow

Sides = tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]


def as_feed_delta(m: Any) -> FeedDelta:
    """A bus ``BookDelta``, or anything shaped like the state machine's ``Applied`` (epoch, seq, changes, reset)."""
    if isinstance(m, BookDelta):
        return feed_delta(m)
    return FeedDelta(m.epoch, m.seq, getattr(m, "ts_ms", 0), tuple((c.side, c.price, c.size) for c in m.changes),
                     m.reset, getattr(m, "hash", None))


def as_feed_snapshot(m: Any) -> FeedSnapshot:
    if isinstance(m, BookSnapshot):
        return feed_snapshot(m)
    assert isinstance(m, Snapshot)
    return FeedSnapshot(m.epoch, m.seq, m.ts_ms, tuple((lv.price, lv.size) for lv in m.bids),
                        tuple((lv.price, lv.size) for lv in m.asks), m.verified, m.hash)


def rebuild(snapshot: Any | None, messages: Iterable[Any]) -> Sides:
    """The book a consumer holds after ``snapshot`` (or nothing) and ``messages``; it must be trusted."""
    fb = follow(None if snapshot is None else as_feed_snapshot(snapshot), (as_feed_delta(m) for m in messages))
    assert fb.trusted, f"the consumer lost the book (gaps {fb.gaps}, at {fb.position})"
    return fb.book.sizes()
