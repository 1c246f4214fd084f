"""``BookFeed``: the one way to read the published books (the quoter, ``polybot tap``, the demo view, tests).

It follows three JetStream streams with ordered push consumers, started in this order so a cold start has
no hole: the deltas (``pb.book.delta.*``, new messages from now on), then every asset's last state and last
snapshot (``pb.book.state.*``, ``pb.book.snapshot.*``: last per subject, then live). Deltas that arrive
before their asset's snapshot wait for it; a snapshot taken after the delta subscription began covers
everything before it. The per-asset logic (reset, gap, reload) is ``polybot.domain.book_follow``.

Per asset it exposes the book, ``state`` (live / unverified / stale / resyncing), ``age_ms`` and the venue
hash, and ``wait_changed`` lets a caller await the next change of any followed asset. ``received_ns`` says,
for each asset ``wait_changed`` just returned, when the oldest message of that change reached us
(``time.perf_counter_ns``): what the quoter's ``quote_latency_ms`` is measured from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import DeliverPolicy

from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.codec import DecodeError, decode
from polybot.bus.messages import BookDelta, BookSnapshot, BookStatus
from polybot.domain.book import L2Book
from polybot.domain.book_follow import FeedDelta, FeedSnapshot, FeedState, FollowedBook, Position

log = logging.getLogger(__name__)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class BookView:
    """What a consumer sees of one asset at a moment."""

    asset_id: str
    state: FeedState
    position: Position
    book: L2Book
    age_ms: int | None
    hash: str | None
    publisher_state: str
    publisher_reason: str | None = None  # why the publisher is not live (``tick_size``, ``gap``, ...)
    tick_size: Decimal | None = None  # the tick of the snapshot this book stands on


def feed_delta(msg: BookDelta) -> FeedDelta:
    return FeedDelta(msg.epoch, msg.seq, msg.ts_ms, tuple((c.side, c.price, c.size) for c in msg.changes), msg.reset,
                     msg.hash)


def feed_snapshot(msg: BookSnapshot) -> FeedSnapshot:
    return FeedSnapshot(msg.epoch, msg.seq, msg.ts_ms, tuple((lv.price, lv.size) for lv in msg.bids),
                        tuple((lv.price, lv.size) for lv in msg.asks), msg.verified, msg.hash, msg.tick_size)


class BookFeed:
    """Follows the books of ``asset_ids`` (None: every asset published). ``start``, read, ``close``."""

    def __init__(self, bus: Bus, asset_ids: Iterable[str] | None = None, *, stale_after_ms: int | None = 60_000,
                 clock_ms: Callable[[], int] = _wall_ms) -> None:
        self.bus = bus
        self.only = frozenset(asset_ids) if asset_ids is not None else None
        self.stale_after_ms = stale_after_ms
        self.clock_ms = clock_ms
        self.books: dict[str, FollowedBook] = {}
        self.undecodable = 0
        self._subs: list[Subscription] = []
        self._changed: dict[str, int] = {}  # asset → when its oldest change not yet handed out was received
        self.received_ns: dict[str, int] = {}  # of the assets the last ``wait_changed`` returned
        self._wake = asyncio.Event()

    async def __aenter__(self) -> BookFeed:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        js = self.bus.js
        self._subs.append(await js.subscribe(subjects.BOOK_DELTA_ALL, cb=self._on_delta, ordered_consumer=True,
                                             deliver_policy=DeliverPolicy.NEW))
        self._subs.append(await js.subscribe(subjects.BOOK_STATE_ALL, cb=self._on_state, ordered_consumer=True,
                                             deliver_policy=DeliverPolicy.LAST_PER_SUBJECT))
        self._subs.append(await js.subscribe(subjects.BOOK_SNAPSHOT_ALL, cb=self._on_snapshot,
                                             ordered_consumer=True, deliver_policy=DeliverPolicy.LAST_PER_SUBJECT))

    async def close(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()

    # --- reading ------------------------------------------------------------------------------------------
    def view(self, asset_id: str) -> BookView | None:
        fb = self.books.get(asset_id)
        if fb is None:
            return None
        now = self.clock_ms()
        return BookView(asset_id, fb.state(now, self.stale_after_ms), fb.position, fb.book, fb.age_ms(now),
                        fb.hash, fb.publisher_state, fb.publisher_reason, fb.tick_size)

    def state(self, asset_id: str) -> FeedState:
        fb = self.books.get(asset_id)
        return FeedState.RESYNCING if fb is None else fb.state(self.clock_ms(), self.stale_after_ms)

    async def wait_changed(self, timeout_s: float | None = None) -> set[str]:
        """The assets whose book or state changed since the last call (waits for one; empty on timeout)."""
        if not self._changed:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout_s)
        changed, self._changed = self._changed, {}
        self.received_ns = changed
        return set(changed)

    # --- message handlers ---------------------------------------------------------------------------------
    def _book(self, asset_id: str) -> FollowedBook | None:
        if self.only is not None and asset_id not in self.only:
            return None
        fb = self.books.get(asset_id)
        if fb is None:
            fb = self.books[asset_id] = FollowedBook(asset_id)
        return fb

    def _decode(self, msg: Msg) -> object | None:
        if self.only is not None and msg.subject.rsplit(".", 1)[-1] not in self.only:
            return None  # not ours: not even decoded
        try:
            return decode(msg.data)
        except DecodeError:
            self.undecodable += 1
            log.warning("undecodable book message", extra={"subject": msg.subject})
            return None

    def _touched(self, asset_id: str, received_ns: int) -> None:
        self._changed.setdefault(asset_id, received_ns)
        self._wake.set()

    async def _on_delta(self, msg: Msg) -> None:
        received_ns = time.perf_counter_ns()
        m = self._decode(msg)
        if isinstance(m, BookDelta) and (fb := self._book(m.asset_id)) is not None:
            was = fb.trusted
            if fb.delta(feed_delta(m)) or was != fb.trusted:
                self._touched(m.asset_id, received_ns)

    async def _on_snapshot(self, msg: Msg) -> None:
        received_ns = time.perf_counter_ns()
        m = self._decode(msg)
        if isinstance(m, BookSnapshot) and (fb := self._book(m.asset_id)) is not None:
            before = fb.verified
            if fb.snapshot(feed_snapshot(m)) or before != fb.verified:
                self._touched(m.asset_id, received_ns)

    async def _on_state(self, msg: Msg) -> None:
        received_ns = time.perf_counter_ns()
        m = self._decode(msg)
        if isinstance(m, BookStatus) and (fb := self._book(m.asset_id)) is not None:
            fb.set_publisher_state(m.state, (m.epoch, m.seq), m.reason)
            self._touched(m.asset_id, received_ns)
