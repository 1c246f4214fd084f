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
from typing import TYPE_CHECKING

from polybot.domain.book_effects import BookState
from polybot.runtime.clock import now_ms

if TYPE_CHECKING:
    from polybot.app.ingest import OrderbookIngestor

log = logging.getLogger("polybot.app.ingest")


async def run_schedule(ing: OrderbookIngestor) -> None:
    """Run until cancelled."""
    s = ing.settings
    loop = asyncio.get_running_loop()
    next_snapshot = loop.time() + s.snapshot_interval_s
    next_prune = loop.time() + s.prune_interval_s
    next_gauges = loop.time()
    next_retry = loop.time() + 5.0
    while True:
        await asyncio.sleep(s.tick_interval_s)
        now = loop.time()
        effects = ing.books.tick(now_ms())
        if effects:
            ing.router.route(effects)
        if ing.awaiting_since:
            request_missing_books(ing)
        ing.router.hot.flush_into(ing.metrics)
        try:
            if now >= next_gauges:
                next_gauges = now + 1.0
                update_gauges(ing)
            if now >= next_snapshot:
                next_snapshot = now + s.snapshot_interval_s
                written = await ing.persist_snapshot_now(now_ms())
                log.info("ingestion stats", extra={"snapshots": written, **ing.counts()})
            if now >= next_prune:
                next_prune = now + s.prune_interval_s
                await ing.prune_events_before(now_ms() - int(s.retention_s * 1000))
                if ing.store is not None:
                    cutoff = datetime.now(UTC) - timedelta(seconds=s.snapshot_retention_s)
                    await ing.store.prune_snapshots_before(cutoff)
            if ing.assets.waiting and now >= next_retry:
                next_retry = now + 5.0
                await ing.assets.retry_waiting()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("scheduled ingestor task failed")


def request_missing_books(ing: OrderbookIngestor) -> None:
    """Fetch from REST the books the websocket has not sent within ``initial_snapshot_timeout_s``."""
    now = now_ms()
    limit_ms = int(ing.settings.initial_snapshot_timeout_s * 1000)
    due = []
    for a, since in list(ing.awaiting_since.items()):
        sync = ing.books.get(a)
        if sync is None or sync.state is not BookState.AWAITING_SNAPSHOT:
            del ing.awaiting_since[a]
        elif now - since >= limit_ms:
            del ing.awaiting_since[a]
            due.append(a)
    if due:
        log.warning("no book from the websocket; fetching it", extra={"assets": len(due)})
        ing.router.route(ing.books.request_resync(due, now, "manual"))


def update_gauges(ing: OrderbookIngestor) -> None:
    counts = Counter(b.state.value for b in ing.books)
    for state in BookState:
        ing.metrics.books.labels(state=state.value).set(counts.get(state.value, 0))
    ing.metrics.outbox_pending.set(ing.outbox.pending)
