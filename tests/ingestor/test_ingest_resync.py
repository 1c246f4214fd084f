"""ResyncFetcher scheduling (pure asyncio logic; the fetch is a plain async function written here)."""

from __future__ import annotations

import asyncio
import time

from ingest_kit import wait_until

from polybot.app.ingest.resync import ResyncFetcher
from polybot.domain.book_effects import StartResync
from polybot.domain.book_events import VenueBook


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _book(asset: str) -> VenueBook:
    return VenueBook(asset, "m", _now_ms(), str(_now_ms()), (), (), None, "rest")


def _fx(asset: str, not_before_ms: int, restart: bool = False) -> StartResync:
    return StartResync(asset, "m", "gap", _now_ms(), not_before_ms, restart)


class Venue:
    def __init__(self, fail_first: int = 0, delay_s: float = 0.0) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail_first = fail_first
        self.delay_s = delay_s
        self.delivered: list[str] = []
        self.needed: set[str] = set()

    async def fetch(self, asset: str) -> VenueBook:
        self.calls.append((asset, _now_ms()))
        await asyncio.sleep(self.delay_s)
        if self.fail_first > 0:
            self.fail_first -= 1
            raise OSError("venue down")
        return _book(asset)

    def deliver(self, book: VenueBook) -> None:
        self.delivered.append(book.asset_id)
        self.needed.discard(book.asset_id)


async def test_waits_for_not_before_and_fetches_once_per_asset() -> None:
    v = Venue()
    v.needed = {"a"}
    f = ResyncFetcher(v.fetch, v.deliver, v.needed.__contains__)
    start = _now_ms()
    f.request(_fx("a", start + 150))
    f.request(_fx("a", start))  # already scheduled: joins it
    await wait_until(lambda: v.delivered == ["a"], 2, "delivery")
    assert len(v.calls) == 1 and v.calls[0][1] >= start + 150
    await wait_until(lambda: f.in_flight == 0, 1, "task done")
    await f.close()


async def test_skips_a_book_that_no_longer_needs_it_and_retries_failures() -> None:
    v = Venue(fail_first=2)
    v.needed = {"b"}
    f = ResyncFetcher(v.fetch, v.deliver, v.needed.__contains__, retry_base_s=0.01)
    f.request(_fx("a", _now_ms()))  # "a" completed by other means meanwhile: not fetched
    f.request(_fx("b", _now_ms()))
    await wait_until(lambda: v.delivered == ["b"], 2, "delivery after retries")
    assert [a for a, _ in v.calls] == ["b", "b", "b"] and f.failures == 2
    await f.close()


async def test_a_restart_during_a_fetch_fetches_again() -> None:
    v = Venue(delay_s=0.1)
    v.needed = {"a"}
    f = ResyncFetcher(v.fetch, lambda book: v.delivered.append(book.asset_id), v.needed.__contains__)
    f.request(_fx("a", _now_ms()))
    await wait_until(lambda: len(v.calls) == 1, 1, "first fetch started")
    f.request(_fx("a", _now_ms(), restart=True))  # e.g. the buffer overflowed: the fetch in flight is too old
    await wait_until(lambda: len(v.delivered) == 2, 2, "second delivery")
    assert len(v.calls) == 2
    v.needed.clear()
    await f.close()


async def test_a_book_that_cannot_be_applied_is_reported_and_fetched_again() -> None:
    v = Venue()
    v.needed = {"a"}
    reported: list[str] = []
    bad = {"left": 1}

    def deliver(book: VenueBook) -> None:
        if bad["left"]:
            bad["left"] -= 1
            raise TypeError("a bug applying the book")
        v.deliver(book)

    f = ResyncFetcher(v.fetch, deliver, v.needed.__contains__, retry_base_s=0.01, on_failure=reported.append)
    f.request(_fx("a", _now_ms()))
    await wait_until(lambda: v.delivered == ["a"], 2, "delivered on the second fetch")
    assert len(v.calls) == 2 and reported == ["ingest-resync"] and f.failures == 1
    await wait_until(lambda: f.in_flight == 0, 1, "task done")
    await f.close()
