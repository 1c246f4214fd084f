"""The ingestor's metrics. The first five names are the runbook's, word for word."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client import Gauge, Histogram

from polybot.runtime.metrics import ExactCounter, Metrics

RESYNC_REASONS: tuple[str, ...] = ("first_delta", "gap", "checksum", "tick_size", "manual")

# Receive → JetStream ack, in seconds: sub-millisecond resolution where it matters.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


INVALID_KINDS = ("not_json", "unknown_event_type", "schema", "price", "size", "timestamp", "id", "off_tick")


@dataclass(frozen=True)
class IngestMetrics:
    msg_applied: ExactCounter
    msg_invalid: ExactCounter
    resync: dict[str, ExactCounter]  # reason → ingestion_resync_<reason>
    frames: ExactCounter
    hash_checked: ExactCounter  # label result: ok / mismatch / superseded
    discarded: ExactCounter  # label reason
    published: ExactCounter
    publish_errors: ExactCounter
    publish_dropped: ExactCounter
    dead_letters: ExactCounter
    hash_layout_changes: ExactCounter
    best_bid_ask: ExactCounter
    hash_grid_matches: ExactCounter
    persisted_events: ExactCounter
    persist_errors: ExactCounter
    ws_disconnects: ExactCounter  # label reason
    ws_connected: Gauge  # label shard
    ws_assets: Gauge  # label shard
    books: Gauge  # label state
    outbox_pending: Gauge
    receive_to_publish: Histogram
    last_update: Gauge  # label market
    _freshness_markets: set[str] = field(default_factory=set)

    @classmethod
    def register(cls, m: Metrics) -> IngestMetrics:
        """Create and register every ingestor metric in ``m`` (once per registry)."""
        made = cls._make(m)
        for kind in INVALID_KINDS:  # every reason shows from the start, at 0 (and the runbook's name with them)
            made.msg_invalid.inc(0, reason=kind)
        return made

    @classmethod
    def _make(cls, m: Metrics) -> IngestMetrics:
        return cls(
            msg_applied=m.counter("ingestion_msg_applied", "Venue messages applied to a book (deltas and books)"),
            msg_invalid=m.counter("ingestion_msg_invalid", "Market-channel messages refused at the edge, by reason",
                                  ["reason"]),
            resync={r: m.counter(f"ingestion_resync_{r}", f"Book resyncs caused by {r.replace('_', ' ')}")
                    for r in RESYNC_REASONS},
            frames=m.counter("ingestion_frames", "Market-channel frames received"),
            hash_checked=m.counter("ingestion_hash_checked", "Venue hash checks by final result", ["result"]),
            discarded=m.counter("ingestion_discarded", "Inputs deliberately not applied", ["reason"]),
            published=m.counter("ingestion_published", "Book messages acknowledged by JetStream"),
            publish_errors=m.counter("ingestion_publish_errors", "Failed JetStream publish batches (retried)"),
            publish_dropped=m.counter("ingestion_publish_dropped",
                                      "Deltas dropped from a full outbox (replaced by snapshots)"),
            dead_letters=m.counter("ingestion_dead_letters",
                                   "Book messages refused for good or not encodable (dead_letters table)"),
            best_bid_ask=m.counter("ingestion_best_bid_ask_checks",
                                   "The venue's best_bid_ask against our live book, by result", ["result"]),
            hash_layout_changes=m.counter("ingestion_hash_layout_changes",
                                          "Books whose venue hash layout changed (re-detected, no resync)"),
            hash_grid_matches=m.counter("ingestion_hash_grid_matches",
                                        "Hashes explained only by an ltp found on the tick grid"),
            persisted_events=m.counter("ingestion_persisted_events", "book_events rows written"),
            persist_errors=m.counter("ingestion_persist_errors", "Failed database batches (retried)"),
            ws_disconnects=m.counter("ingestion_ws_disconnects", "Market websocket disconnects", ["reason"]),
            ws_connected=m.gauge("ingestion_ws_connected", "1 while the market connection is up", ["shard"]),
            ws_assets=m.gauge("ingestion_ws_assets", "Assets subscribed on the market connection", ["shard"]),
            books=m.gauge("ingestion_books", "Books by state", ["state"]),
            outbox_pending=m.gauge("ingestion_outbox_pending", "Book messages waiting to be published"),
            receive_to_publish=m.histogram("ingestion_receive_to_publish_seconds",
                                           "Frame received to JetStream ack of the resulting message",
                                           buckets=_LATENCY_BUCKETS),
            last_update=m.gauge("ingestion_last_update_timestamp_seconds",
                                "Venue time of the market's stalest book's last update (0: a book not received yet)",
                                ["market"]),
        )

    def show_freshness(self, oldest_ms: Mapping[str, int]) -> None:
        """Per market, the last update of its stalest book (``oldest_ms``: epoch ms, 0 for none yet): one
        silent token is enough to make the market unquotable. Markets no longer followed lose their series."""
        for market, ts_ms in oldest_ms.items():
            self.last_update.labels(market=market).set(ts_ms / 1000)
        for gone in self._freshness_markets - oldest_ms.keys():
            self.last_update.remove(gone)
        self._freshness_markets.clear()
        self._freshness_markets.update(oldest_ms)

    def resync_counts(self) -> dict[str, int]:
        """``{"ingestion_resync_gap": n, …}`` for JSON logs."""
        return {f"ingestion_resync_{r}": int(c.value()) for r, c in self.resync.items()}


class HotCounts:
    """Counts taken on the per-message path, moved into the metrics now and then (``flush_into``): a
    labelled counter's ``inc`` takes a lock and builds a key, which adds up at tens of thousands a second."""

    __slots__ = ("applied", "frames", "hashes")

    def __init__(self) -> None:
        self.frames = 0
        self.applied = 0
        self.hashes: Counter[str] = Counter()

    def flush_into(self, m: IngestMetrics) -> None:
        if self.frames:
            m.frames.inc(self.frames)
            self.frames = 0
        if self.applied:
            m.msg_applied.inc(self.applied)
            self.applied = 0
        if self.hashes:
            for result, n in self.hashes.items():
                m.hash_checked.inc(n, result=result)
            self.hashes.clear()
