"""The ingestor's clock: what happens every tick, and every so often.

Every ``tick_interval_s``: expire pending hash checks, fetch from REST the books the websocket has not sent
within ``initial_snapshot_timeout_s``, move the hot-path counts into the metrics. Every second: gauges.
Every ``snapshot_interval_s``: a snapshot of every live book (``persist_snapshot_now``). Every
``prune_interval_s``: retention (``prune_events_before``, old snapshots). Every 5 s: assets still waiting
for their market metadata. A failing step is logged and retried on the next round; it never stops the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Protocol

from polybot.app.ingest.assets import AssetSet
from polybot.app.ingest.effects import EffectRouter
from polybot.app.ingest.metrics import IngestMetrics
from polybot.app.ingest.outbox import Outbox
from polybot.domain.book_effects import BookState
from polybot.domain.initial_books import InitialBookWatch
from polybot.domain.market_books import MarketBooks
from polybot.runtime.clock import now_ms
from polybot.runtime.settings import IngestorSettings
from polybot.store.book_rows import BookRows

log = logging.getLogger("polybot.app.ingest")


class Scheduled(Protocol):
    """What the schedule drives (the ingestor pipeline), named here so this module needs no import of it."""

    settings: IngestorSettings
    books: MarketBooks
    router: EffectRouter
    metrics: IngestMetrics
    outbox: Outbox
    assets: AssetSet
    store: BookRows
    initial_books: InitialBookWatch

    async def persist_snapshot_now(self, ts_ms: int) -> int: ...

    async def prune_events_before(self, ts_ms_threshold: int) -> int: ...

    def counts(self) -> dict[str, int]: ...


async def run_schedule(ing: Scheduled) -> None:
    """Run until cancelled."""
    s = ing.settings
    loop = asyncio.get_running_loop()
    next_snapshot = loop.time() + s.snapshot_interval_s
    next_prune = loop.time() + s.prune_interval_s
    next_gauges = loop.time()
    next_retry = loop.time() + 5.0
    seen = VerifierTotals()
    while True:
        await asyncio.sleep(s.tick_interval_s)
        now = loop.time()
        effects = ing.books.tick(now_ms())
        if effects:
            ing.router.route(effects)
        if ing.initial_books:
            request_missing_books(ing)
        ing.router.hot.flush_into(ing.metrics)
        try:
            if now >= next_gauges:
                next_gauges = now + 1.0
                update_gauges(ing)
                seen.count(ing)
            if now >= next_snapshot:
                next_snapshot = now + s.snapshot_interval_s
                written = await ing.persist_snapshot_now(now_ms())
                log.info("ingestion stats", extra={"snapshots": written, **ing.counts()})
            if now >= next_prune:
                next_prune = now + s.prune_interval_s
                await ing.prune_events_before(now_ms() - int(s.retention_s * 1000))
                cutoff = datetime.now(UTC) - timedelta(seconds=s.snapshot_retention_s)
                await ing.store.prune_snapshots_before(cutoff)
            if ing.assets.waiting and now >= next_retry:
                next_retry = now + 5.0
                await ing.assets.retry_waiting()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("scheduled ingestor task failed")


def request_missing_books(ing: Scheduled) -> None:
    """Fetch from REST the books the websocket has not sent within ``initial_snapshot_timeout_s``."""
    now = now_ms()

    def waiting(asset_id: str) -> bool:
        sync = ing.books.get(asset_id)
        return sync is not None and sync.state is BookState.AWAITING_SNAPSHOT

    due = ing.initial_books.due(now, waiting)
    if due:
        log.warning("no book from the websocket; fetching it", extra={"assets": len(due)})
        ing.router.route(ing.books.request_resync(due, now, "manual"))


class VerifierTotals:
    """What the books' hash verifiers did since the last look: layout changes (logged) and grid matches."""

    def __init__(self) -> None:
        self._layouts: dict[str, int] = {}
        self._grid: dict[str, int] = {}

    def count(self, ing: Scheduled) -> None:
        for book in ing.books:
            v = book.verifier
            changes = v.layout_changes - self._layouts.get(book.asset_id, 0)
            if changes > 0:
                ing.metrics.hash_layout_changes.inc(changes)
                old, new = v.last_layout_change or (None, None)
                log.warning("venue hash layout changed", extra={"asset_id": book.asset_id, "old": str(old),
                                                                 "new": str(new)})
            grid = v.grid_matches - self._grid.get(book.asset_id, 0)
            if grid > 0:
                ing.metrics.hash_grid_matches.inc(grid)
            self._layouts[book.asset_id] = v.layout_changes
            self._grid[book.asset_id] = v.grid_matches


def update_gauges(ing: Scheduled) -> None:
    counts = Counter(b.state.value for b in ing.books)
    for state in BookState:
        ing.metrics.books.labels(state=state.value).set(counts.get(state.value, 0))
    ing.metrics.outbox_pending.set(ing.outbox.pending)
    oldest: dict[str, int] = {}
    for b in ing.books:
        ts = b.stats.last_update_ts_ms
        oldest[b.market] = min(oldest.get(b.market, ts), ts)
    ing.metrics.show_freshness(oldest)
