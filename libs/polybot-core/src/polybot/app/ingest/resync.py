"""Resync fetches: the state machine says ``StartResync``; this fetches REST ``/book`` and feeds it back.

One fetch at a time per asset, at most ``concurrency`` in total. A fetch waits until the effect's
``not_before_ms`` (the per-market rate limit decided in ``MarketBooks``) and is skipped when the book no
longer needs it by then (e.g. the websocket's own ``book`` completed the resync first). A ``restart``
while a fetch is running (stale REST book, buffer overflow) makes the task fetch once more. Failed fetches
are retried with backoff for as long as the book is still resyncing. A book that cannot be applied
(a bug downstream of the fetch) is logged with its traceback, reported to ``on_failure`` (``task_failures``)
and fetched again after a backoff: the book stays resyncing, never silently stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

from polybot.domain.book_effects import StartResync
from polybot.domain.book_events import VenueBook
from polybot.domain.retry import backoff_delay_s
from polybot.runtime.clock import now_ms

log = logging.getLogger(__name__)

Fetch = Callable[[str], Awaitable[VenueBook]]
Deliver = Callable[[VenueBook], None]
Needed = Callable[[str], bool]
FAILURE_TASK = "ingest-resync"


class ResyncFetcher:
    """Runs REST snapshot fetches for resyncing books."""

    def __init__(self, fetch: Fetch, deliver: Deliver, needed: Needed, *, concurrency: int = 8,
                 retry_base_s: float = 0.25, retry_max_s: float = 5.0,
                 on_failure: Callable[[str], None] | None = None) -> None:
        self._fetch = fetch
        self._on_failure = on_failure or (lambda _task: None)
        self._deliver = deliver
        self._needed = needed
        self._sem = asyncio.Semaphore(concurrency)
        self._retry_base_s = retry_base_s
        self._retry_max_s = retry_max_s
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: dict[str, int] = {}  # asset → not_before_ms of a restart that arrived mid-fetch
        self.fetches = 0
        self.failures = 0

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def request(self, fx: StartResync) -> None:
        """Act on a ``StartResync`` effect."""
        if fx.asset_id in self._tasks:
            if fx.restart:
                self._again[fx.asset_id] = fx.not_before_ms
            return
        self._tasks[fx.asset_id] = asyncio.create_task(self._run(fx.asset_id, fx.not_before_ms),
                                                       name=f"resync-{fx.asset_id[:16]}")

    def cancel(self, asset_id: str) -> None:
        task = self._tasks.pop(asset_id, None)
        self._again.pop(asset_id, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, asset_id: str, not_before_ms: int) -> None:
        failures = 0
        try:
            while True:
                wait_ms = not_before_ms - now_ms()
                if wait_ms > 0:
                    await asyncio.sleep(wait_ms / 1000)
                if not self._needed(asset_id):
                    return
                self._again.pop(asset_id, None)  # this fetch starts after any restart asked so far
                try:
                    async with self._sem:
                        self.fetches += 1
                        book = await self._fetch(asset_id)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    self.failures += 1
                    delay = backoff_delay_s(failures, self._retry_base_s, self._retry_max_s, random.random())
                    log.warning("resync fetch failed; retrying",
                                extra={"asset_id": asset_id, "error": repr(exc), "retry_s": delay})
                    not_before_ms = now_ms() + int(delay * 1000)
                    continue
                try:
                    self._deliver(book)  # may call request(restart=True) on this asset: recorded in _again
                except Exception:
                    failures += 1
                    self.failures += 1
                    self._on_failure(FAILURE_TASK)
                    delay = backoff_delay_s(failures, self._retry_base_s, self._retry_max_s, random.random())
                    log.exception("resync book could not be applied; fetching again",
                                  extra={"asset_id": asset_id, "retry_s": delay})
                    not_before_ms = now_ms() + int(delay * 1000)
                    continue
                failures = 0
                again = self._again.pop(asset_id, None)
                if again is None:
                    return
                not_before_ms = again
        finally:
            if self._tasks.get(asset_id) is asyncio.current_task():
                del self._tasks[asset_id]
