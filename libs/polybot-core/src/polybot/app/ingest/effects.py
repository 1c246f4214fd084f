"""Where the book state machine's effects go: the outbox, the resync fetcher, the counters and the logs.

Synchronous and without I/O, like the frame handler that calls it: publishing, persisting and fetching
happen later in their own tasks. Per-delta counts go to ``HotCounts`` (moved into the metrics on each
scheduler tick) because a labelled Prometheus ``inc`` per delta is a visible share of the hot path.
"""

from __future__ import annotations

import logging

from polybot.app.ingest.metrics import HotCounts, IngestMetrics
from polybot.app.ingest.outbox import Outbox
from polybot.app.ingest.resync import ResyncFetcher
from polybot.domain.book_effects import (
    Applied,
    Discarded,
    Effect,
    HashChecked,
    Snapshot,
    StartResync,
    StateChanged,
)
from polybot.domain.market_books import MarketBooks
from polybot.runtime.clock import now_ms
from polybot.venue.market_parse import InvalidMessage

log = logging.getLogger("polybot.app.ingest")

_INVALID_LOGS_PER_MIN = 60


class EffectRouter:
    """Routes effects; ``hot`` holds the counts taken on the per-delta path."""

    def __init__(self, books: MarketBooks, outbox: Outbox, resync: ResyncFetcher, metrics: IngestMetrics) -> None:
        self.books = books
        self.outbox = outbox
        self.resync = resync
        self.metrics = metrics
        self.hot = HotCounts()
        self._invalid_window: tuple[int, int] = (0, 0)  # (minute, logged in it)

    def route(self, effects: list[Effect], recv_ns: int = 0) -> None:
        """Act on effects in order; ``recv_ns`` is the frame's receive time (``perf_counter_ns``), 0 if none."""
        outbox = self.outbox
        applied = 0
        hashes = self.hot.hashes
        for fx in effects:  # the two kinds every delta makes first
            if isinstance(fx, Applied):
                outbox.delta(fx, recv_ns)
                applied += fx.source == "price_change"
            elif isinstance(fx, HashChecked):
                hashes[fx.result] += 1
                if fx.result == "mismatch":
                    log.warning("hash mismatch", extra={"asset_id": fx.asset_id, "seq": fx.seq, "kind": fx.kind})
            elif isinstance(fx, Snapshot):
                outbox.snapshot(fx)
                applied += 1
            elif isinstance(fx, StartResync):
                self._start_resync(fx)
            elif isinstance(fx, StateChanged):
                outbox.state(fx)
                log.info("book state", extra={"asset_id": fx.asset_id, "old": fx.old.value, "new": fx.new.value,
                                              "reason": fx.reason})
            elif isinstance(fx, Discarded):
                self.metrics.discarded.inc(reason=fx.reason)
                if fx.reason == "off_tick":
                    self.metrics.msg_invalid.inc(reason="off_tick")
        self.hot.applied += applied

    def _start_resync(self, fx: StartResync) -> None:
        if not fx.restart:
            counter = self.metrics.resync.get(fx.reason)
            if counter is not None:
                counter.inc()
            log.warning("book resync", extra={"asset_id": fx.asset_id, "market": fx.market, "reason": fx.reason,
                                              **self.metrics.resync_counts()})
        self.outbox.touch(fx.asset_id)
        self.resync.request(fx)

    def invalid(self, invalid: list[InvalidMessage], shard: int) -> None:
        """Count invalid messages and log them with their raw payload (at most 60 a minute)."""
        for bad in invalid:
            self.metrics.msg_invalid.inc(reason=bad.kind)
        minute = now_ms() // 60_000
        window, logged = self._invalid_window
        if window != minute:
            window, logged = minute, 0
        for bad in invalid:
            if logged < _INVALID_LOGS_PER_MIN:
                logged += 1
                log.warning("invalid market message", extra={"reason": bad.reason, "kind": bad.kind,
                                                             "event_type": bad.event_type, "raw": bad.raw,
                                                             "shard": shard})
        self._invalid_window = (window, logged)
