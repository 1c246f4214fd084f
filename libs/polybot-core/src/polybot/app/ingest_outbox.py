"""Where the book state machine's output leaves the process: JetStream (batched, acks awaited) and PostgreSQL.

The frame handler only appends here (synchronously, no I/O). Two tasks drain it:

- **publisher**: takes up to ``publish_batch_max`` messages in order, ``Bus.publish_batch`` (pipelined,
  acks awaited together), and retries the same batch on failure (``Nats-Msg-Id`` makes a retry idempotent).
  While one batch waits for acks the next accumulates, so batches grow with the load. Order per subject is
  the append order, so ``seq`` stays strictly +1 on the wire.
- **persister**: every ``persist_interval_s`` (or sooner when ``persist_batch_max`` rows wait) writes the
  queued ``book_events``/``book_snapshots`` rows and the ``market_status`` of the assets touched since.

Bounded: past ``max_pending`` unpublished messages the queued deltas are dropped and a snapshot of each
affected book is queued instead (consumers see a seq gap and load that snapshot, as the contract says).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from polybot.app.ingest_metrics import IngestMetrics
from polybot.bus import subjects
from polybot.bus.client import Bus, Outgoing
from polybot.bus.messages import BookDelta, BookLevel, BookSnapshot, BookState, LevelChange
from polybot.domain.book import Level
from polybot.domain.book_effects import Applied, Snapshot, StateChanged
from polybot.store.book_tables import StatusRow
from polybot.store.books import BookStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    publish_batch_max: int = 512
    publish_timeout_s: float = 5.0
    persist_batch_max: int = 5_000
    persist_interval_s: float = 0.2
    max_pending: int = 200_000
    max_unpersisted: int = 1_000_000
    retry_base_s: float = 0.1
    retry_max_s: float = 5.0


def delta_message(fx: Applied) -> BookDelta:
    """The bus message of one numbered change."""
    return BookDelta(asset_id=fx.asset_id, market=fx.market, seq=fx.seq, ts_ms=fx.ts_ms, recv_ts_ms=fx.recv_ts_ms,
                     changes=tuple(LevelChange(side=c.side, price=c.price, size=c.size) for c in fx.changes),
                     hash=fx.hash, best_bid=fx.best_bid, best_ask=fx.best_ask)


def _levels(levels: Sequence[Level]) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(price=lv.price, size=lv.size) for lv in levels)


def snapshot_message(snap: Snapshot) -> BookSnapshot:
    """The bus message of a whole book (levels best first)."""
    return BookSnapshot(asset_id=snap.asset_id, market=snap.market, seq=snap.seq, ts_ms=snap.ts_ms,
                        bids=_levels(snap.bids), asks=_levels(snap.asks), tick_size=Decimal(snap.tick_size),
                        min_order_size=Decimal(snap.min_order_size) if snap.min_order_size else None,
                        neg_risk=snap.neg_risk, hash=snap.hash, reason=snap.reason)


def state_message(fx: StateChanged) -> BookState:
    return BookState(asset_id=fx.asset_id, market=fx.market, state=fx.new.value, reason=fx.reason, ts_ms=fx.ts_ms)


class Outbox:
    """Queues book messages and rows; ``start`` runs the publisher and persister tasks."""

    def __init__(self, config: OutboxConfig, metrics: IngestMetrics, bus: Bus | None, store: BookStore | None,
                 status_rows: Callable[[Iterable[str]], list[StatusRow]],
                 resnapshot: Callable[[Iterable[str]], list[Snapshot]]) -> None:
        self.config = config
        self.metrics = metrics
        self.bus = bus
        self.store = store
        self._status_rows = status_rows
        self._resnapshot = resnapshot
        self._pub: list[tuple[Outgoing, int]] = []  # (message, perf_counter_ns at receive or 0)
        self._subjects: dict[str, str] = {}  # asset → delta subject (building one validates the token)
        self._events: list[Applied] = []
        self._snaps: list[Snapshot] = []
        self._dirty: set[str] = set()
        self._final_status: list[StatusRow] = []  # rows of books no longer followed
        self._pub_wake = asyncio.Event()
        self._persist_wake = asyncio.Event()
        self._in_flight = 0
        self._persisting = False
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.latency_samples: list[int] | None = None  # ns, when a benchmark wants every value

    # --- producers (synchronous, called from the frame handler) ---------------------------------------------------
    def delta(self, fx: Applied, recv_ns: int = 0) -> None:
        if self.bus is not None:
            subject = self._subjects.get(fx.asset_id)
            if subject is None:
                subject = self._subjects[fx.asset_id] = subjects.book_delta(fx.asset_id)
            self._pub.append((Outgoing(subject, delta_message(fx), f"{fx.asset_id}:{fx.seq}"), recv_ns))
            self._wake_publisher()
        if self.store is not None:
            self._events.append(fx)
            self._dirty.add(fx.asset_id)
            self._wake_persister(len(self._events))

    def snapshot(self, snap: Snapshot, *, persist: bool = True) -> None:
        if self.bus is not None:
            msg_id = f"{snap.asset_id}:{snap.seq}:snapshot:{snap.ts_ms}:{snap.tick_size}"
            self._pub.append((Outgoing(subjects.book_snapshot(snap.asset_id), snapshot_message(snap), msg_id), 0))
            self._wake_publisher()
        if self.store is not None and persist:
            self._snaps.append(snap)
            self._dirty.add(snap.asset_id)
            self._wake_persister(len(self._events))

    def state(self, fx: StateChanged, seq: int) -> None:
        if self.bus is not None:
            msg_id = f"{fx.asset_id}:{seq}:state:{fx.new.value}:{fx.ts_ms}"
            self._pub.append((Outgoing(subjects.book_state(fx.asset_id), state_message(fx), msg_id), 0))
            self._wake_publisher()
        self.touch(fx.asset_id)

    def final_status(self, rows: Iterable[StatusRow]) -> None:
        """Write these ``market_status`` rows with the next batch (books that are gone from memory)."""
        if self.store is not None:
            self._final_status.extend(rows)
            self._persist_wake.set()

    def touch(self, asset_id: str) -> None:
        """The asset's ``market_status`` changed (counts, state): write it with the next batch."""
        if self.store is not None:
            self._dirty.add(asset_id)

    @property
    def pending(self) -> int:
        return len(self._pub)

    # --- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.bus is not None:
            self._tasks.append(asyncio.create_task(self._publisher(), name="ingest-publisher"))
        if self.store is not None:
            self._tasks.append(asyncio.create_task(self._persister(), name="ingest-persister"))

    async def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued so far is published and persisted; False on timeout."""
        deadline = time.monotonic() + timeout_s
        self._wake_publisher()
        self._persist_wake.set()
        while (self._pub or self._in_flight or self._events or self._snaps or self._dirty or self._final_status
               or self._persisting):
            if time.monotonic() > deadline:
                return False
            self._persist_wake.set()
            await asyncio.sleep(0.005)
        return True

    async def close(self, timeout_s: float = 5.0) -> None:
        """Flush what can be flushed within ``timeout_s``, then stop the tasks."""
        with contextlib.suppress(Exception):
            await self.flush(timeout_s)
        self._closing = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout_s)
        self._tasks.clear()

    # --- publisher ------------------------------------------------------------------------------------------------
    def _wake_publisher(self) -> None:
        if len(self._pub) > self.config.max_pending:
            self._shed()
        if not self._pub_wake.is_set():
            self._pub_wake.set()

    def _shed(self) -> None:
        keep: list[tuple[Outgoing, int]] = []
        dropped: set[str] = set()
        count = 0
        for item in self._pub:
            msg = item[0].message
            if isinstance(msg, BookDelta):
                dropped.add(msg.asset_id)
                count += 1
            else:
                keep.append(item)
        self._pub = keep
        self.metrics.publish_dropped.inc(count)
        log.error("outbox full: deltas dropped, snapshots queued instead",
                  extra={"dropped": count, "assets": len(dropped)})
        for snap in self._resnapshot(dropped):
            self.snapshot(snap, persist=False)

    async def _publisher(self) -> None:
        assert self.bus is not None
        bus, cfg, m = self.bus, self.config, self.metrics
        observe = m.receive_to_publish.observe
        failures = 0
        while not self._closing:
            await self._pub_wake.wait()
            self._pub_wake.clear()
            while self._pub:
                batch = self._pub[:cfg.publish_batch_max]
                del self._pub[:len(batch)]
                self._in_flight = len(batch)
                m.outbox_pending.set(len(self._pub))
                try:
                    await bus.publish_batch([o for o, _ in batch], timeout_s=cfg.publish_timeout_s)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    m.publish_errors.inc()
                    self._pub[0:0] = batch
                    self._in_flight = 0
                    delay = min(cfg.retry_max_s, cfg.retry_base_s * 2 ** min(failures, 8))
                    log.warning("publish batch failed; retrying", extra={"error": repr(exc), "size": len(batch),
                                                                          "retry_s": delay})
                    await asyncio.sleep(delay)
                    continue
                failures = 0
                now_ns = time.perf_counter_ns()
                samples = self.latency_samples
                for _, recv_ns in batch:
                    if recv_ns:
                        observe((now_ns - recv_ns) / 1e9)
                        if samples is not None:
                            samples.append(now_ns - recv_ns)
                m.published.inc(len(batch))
                self._in_flight = 0

    # --- persister ------------------------------------------------------------------------------------------------
    def _wake_persister(self, queued: int) -> None:
        if queued >= self.config.persist_batch_max and not self._persist_wake.is_set():
            self._persist_wake.set()

    async def _persister(self) -> None:
        assert self.store is not None
        store, cfg, m = self.store, self.config, self.metrics
        failures = 0
        while not self._closing:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that races the wake-up.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(cfg.persist_interval_s):
                    await self._persist_wake.wait()
            self._persist_wake.clear()
            if not (self._events or self._snaps or self._dirty or self._final_status):
                continue
            events = self._events[:cfg.persist_batch_max]
            del self._events[:len(events)]
            snaps, self._snaps = self._snaps, []
            dirty, self._dirty = self._dirty, set()
            final, self._final_status = self._final_status, []
            status = self._status_rows(dirty) + final
            self._persisting = True
            try:
                await store.write(events, snaps, status)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                m.persist_errors.inc()
                self._events[0:0] = events
                self._snaps[0:0] = snaps
                self._dirty |= dirty
                self._final_status[0:0] = final
                if len(self._events) > cfg.max_unpersisted:
                    drop = len(self._events) - cfg.max_unpersisted
                    del self._events[:drop]
                    log.error("database unavailable too long: oldest book_events rows dropped", extra={"rows": drop})
                delay = min(cfg.retry_max_s, cfg.retry_base_s * 2 ** min(failures, 8))
                log.warning("persist batch failed; retrying", extra={"error": repr(exc), "retry_s": delay})
                await asyncio.sleep(delay)
                continue
            finally:
                self._persisting = False
            failures = 0
            m.persisted_events.inc(len(events))
            if self._events:
                self._persist_wake.set()  # more than one batch waiting
