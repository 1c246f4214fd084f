"""Following one asset's published book feed, as a consumer must: pure, no I/O, time passed in.

The feed's contract (``docs/book-feed.md``): per asset, ``(epoch, seq)`` never goes back; within an epoch
``seq`` is strictly +1 per delta; a new epoch begins with a ``reset`` delta that carries the whole book (and a
snapshot at the same position). ``FollowedBook`` holds a book only when it can prove it equals the
publisher's at its position:

- a ``reset`` delta newer than the book *replaces* it (no level of the old epoch survives);
- a delta at ``seq + 1`` of the book's epoch is applied; anything at or before the position is old news;
- any other delta is a **gap** (or an epoch begun without our seeing its reset): the book is no longer
  trusted, deltas are buffered, and the next snapshot at or beyond the first missing position reloads it
  (the buffered deltas after it are then applied in order);
- a snapshot newer than the book loads it (cold start, gap, or simply the newest state).

``state`` is what a quoter may rely on: ``live`` only for a trusted, verified book that the publisher says
is live and that is not older than ``stale_after_ms``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from polybot.domain.book import L2Book, Level, LevelChange, Side

Position = tuple[int, int]  # (epoch, seq)
NOWHERE: Position = (-1, -1)


class FeedState(StrEnum):
    LIVE = "live"  # trusted, verified, the publisher says live, fresh
    UNVERIFIED = "unverified"  # trusted, but its hash is still pending at the publisher
    STALE = "stale"  # trusted and live, but nothing newer for longer than the staleness threshold
    RESYNCING = "resyncing"  # no trusted book: waiting for a snapshot, or the publisher is resyncing


@dataclass(frozen=True, slots=True)
class FeedDelta:
    epoch: int
    seq: int
    ts_ms: int
    changes: tuple[tuple[Side, Decimal, Decimal], ...]  # (side, price, new absolute size; 0 removes)
    reset: bool = False
    hash: str | None = None


@dataclass(frozen=True, slots=True)
class FeedSnapshot:
    epoch: int
    seq: int
    ts_ms: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    verified: bool = True
    hash: str | None = None
    tick_size: Decimal | None = None


def _level(price: Decimal, size: Decimal) -> Level:
    return Level(price, size, str(price), str(size))


def _change(side: Side, price: Decimal, size: Decimal) -> LevelChange:
    return LevelChange(side, price, size, str(price), str(size))


class FollowedBook:
    """One asset's book as rebuilt from the feed; feed it with ``delta``, ``snapshot`` and ``publisher_state``."""

    def __init__(self, asset_id: str, *, max_buffered: int = 10_000) -> None:
        self.asset_id = asset_id
        self.book = L2Book()
        self.position: Position = NOWHERE
        self.trusted = False  # the book equals the publisher's current one (at ``position``)
        self.confirmed_at: Position = NOWHERE  # newest position the publisher said was verified
        self.hash: str | None = None
        self.ts_ms = 0  # venue time of the newest change applied
        self.tick_size: Decimal | None = None
        self.publisher_state = "unknown"  # the last BookState the publisher sent
        self.publisher_reason: str | None = None  # and its reason (``tick_size``: the tick changed)
        self.gaps = 0
        self.reloads = 0
        self.max_buffered = max_buffered
        self._buffer: list[FeedDelta] = []

    # --- inputs -------------------------------------------------------------------------------------------
    def delta(self, d: FeedDelta) -> bool:
        """Apply one delta if it continues or resets the book; returns whether the book changed."""
        at = (d.epoch, d.seq)
        if at <= self.position:
            return False  # already included
        if d.reset:
            self._replace_with(d)
            self._drain()
            return True
        if self.trusted and d.epoch == self.position[0] and d.seq == self.position[1] + 1:
            self._apply(d)
            return True
        if self.trusted:
            self.gaps += 1
            self.trusted = False
        self._hold(d)
        return False

    def snapshot(self, s: FeedSnapshot) -> bool:
        """Load a snapshot newer than the book (or the one a gap waits for); returns whether it was taken."""
        at = (s.epoch, s.seq)
        if s.verified:
            self.confirmed_at = max(self.confirmed_at, at)
        if at <= self.position:  # the book we hold already is (or includes) this one
            if at == self.position and s.tick_size is not None:
                # a reset delta took us here first (a resync, a tick change): the snapshot of the same position
                # still says the tick that book stands on, which the delta could not
                self.tick_size = s.tick_size
            return False
        self.book.replace((_level(p, q) for p, q in s.bids), (_level(p, q) for p, q in s.asks))
        self.position = at
        self.trusted = True
        self.hash = s.hash
        self.ts_ms = max(self.ts_ms, s.ts_ms)
        if s.tick_size is not None:
            self.tick_size = s.tick_size
        self.reloads += 1
        self._drain()
        return True

    def set_publisher_state(self, state: str, position: Position, reason: str | None = None) -> None:
        """The publisher's ``BookState`` (``live`` confirms the book from ``position`` on, within its epoch)."""
        self.publisher_state = state
        self.publisher_reason = reason
        if state == "live":
            self.confirmed_at = max(self.confirmed_at, position)

    @property
    def verified(self) -> bool:
        """The publisher confirmed a book of this epoch at or before our position (later deltas keep it)."""
        c = self.confirmed_at
        return c[0] == self.position[0] and c <= self.position

    # --- what consumers read ------------------------------------------------------------------------------
    def state(self, now_ms: int, stale_after_ms: int | None) -> FeedState:
        if not self.trusted or self.publisher_state not in ("live", "unverified"):
            return FeedState.RESYNCING
        if not self.verified or self.publisher_state == "unverified":
            return FeedState.UNVERIFIED
        if stale_after_ms is not None and now_ms - self.ts_ms > stale_after_ms:
            return FeedState.STALE
        return FeedState.LIVE

    def age_ms(self, now_ms: int) -> int | None:
        return now_ms - self.ts_ms if self.trusted else None

    @property
    def waiting_for(self) -> Position | None:
        """The first position a gap needs (None: not waiting)."""
        if self.trusted or not self._buffer:
            return None
        return (self._buffer[0].epoch, self._buffer[0].seq - 1)

    # --- internals ----------------------------------------------------------------------------------------
    def _replace_with(self, d: FeedDelta) -> None:
        self.book.replace(
            (_level(p, q) for side, p, q in d.changes if side == "BUY" and q != 0),
            (_level(p, q) for side, p, q in d.changes if side == "SELL" and q != 0))
        self._took(d)
        self.trusted = True
        self._buffer = [b for b in self._buffer if (b.epoch, b.seq) > self.position]

    def _apply(self, d: FeedDelta) -> None:
        apply = self.book.apply
        for side, price, size in d.changes:
            apply(_change(side, price, size))
        self._took(d)

    def _took(self, d: FeedDelta) -> None:
        self.position = (d.epoch, d.seq)
        self.hash = d.hash
        self.ts_ms = max(self.ts_ms, d.ts_ms)

    def _hold(self, d: FeedDelta) -> None:
        if len(self._buffer) >= self.max_buffered:
            del self._buffer[0]  # the snapshot that ends the gap will be newer than these
        self._buffer.append(d)

    def _drain(self) -> None:
        """Apply the buffered deltas that now continue the book, drop those it already includes."""
        pending = sorted(self._buffer, key=lambda b: (b.epoch, b.seq))
        self._buffer = []
        for i, d in enumerate(pending):
            at = (d.epoch, d.seq)
            if at <= self.position:
                continue
            if d.reset:
                self._replace_with(d)
            elif d.epoch == self.position[0] and d.seq == self.position[1] + 1:
                self._apply(d)
            else:
                self.trusted = False
                self._buffer = pending[i:]
                return


def levels(book: L2Book) -> tuple[Sequence[Level], Sequence[Level]]:
    """Both sides best first (bids, asks)."""
    return book.bids_best_first(), book.asks_best_first()


def follow(snapshot: FeedSnapshot | None, deltas: Iterable[FeedDelta], asset_id: str = "") -> FollowedBook:
    """A book followed from ``snapshot`` (or nothing) through ``deltas`` in order (replays, tests, tools)."""
    fb = FollowedBook(asset_id)
    if snapshot is not None:
        fb.snapshot(snapshot)
    for d in deltas:
        fb.delta(d)
    return fb
