"""Where the book state machine's output leaves the process: JetStream (batched, acks awaited) and PostgreSQL.

The frame handler only appends here (synchronously, no I/O). Two tasks drain it:

- **publisher**: takes up to ``publish_batch_max`` messages in order, ``Bus.publish_batch`` (pipelined,
  acks awaited together), and retries the same batch on failure (``Nats-Msg-Id`` makes a retry idempotent).
  While one batch waits for acks the next accumulates, so batches grow with the load. Order per subject is
  the append order, so ``seq`` stays strictly +1 on the wire.
- **coalescing**: a delta stays open (a ``DeltaDraft``) until the publisher or the persister takes it, and
  venue deltas the book state machine lets join it (``Applied.extends``) are appended to it; taking it
  ``seal``s it in the state machine too. Under load the publisher therefore sends at most one message per
  asset per batch, however many venue deltas arrived while the previous batch waited for its acks.
- **persister**: every ``persist_interval_s`` (or sooner when ``persist_batch_max`` rows wait) writes the
  queued ``book_events``/``book_snapshots`` rows, and every ``status_interval_s`` (or on ``flush``) the
  ``market_status`` of the assets touched since.

Bounded: past ``max_pending`` unpublished messages the queued deltas are dropped and a snapshot of each
affected book is queued instead (consumers see a seq gap and load that snapshot, as the contract says).

**Poison messages.** A message JetStream refuses ``poison_after`` times for a reason about the message
itself (not "no stream", which is the server's state), or one that cannot be encoded at all, is a dead
letter: counted (``ingestion_dead_letters``), logged, stored in ``dead_letters`` and never retried; the rest
of its batch goes on, so one asset's bad message never stops the others. A snapshot of its book is queued
in its place (its consumers see the gap and reload).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from polybot.app.ingest.encode import DeltaDraft, delta_payload, snapshot_message, state_message
from polybot.app.ingest.links import BookPublisher
from polybot.app.ingest.metrics import IngestMetrics
from polybot.app.ingest.poison import PoisonFilter
from polybot.bus import subjects
from polybot.bus.client import Outgoing
from polybot.domain.book_effects import Applied, Snapshot, StateChanged
from polybot.domain.retry import backoff_delay_s
from polybot.store.book_rows import BookRows
from polybot.store.book_tables import StatusRow
from polybot.store.books import DeadLetter

log = logging.getLogger(__name__)

Spawn = Callable[[str, Callable[[], Coroutine[Any, Any, None]]], "asyncio.Task[None]"]

# What a row's values (not the database's state) can make a write fail with: the row will never be stored.
_UNSTORABLE = (asyncpg.DataError, OverflowError, ValueError, TypeError)


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    publish_batch_max: int = 512
    publish_timeout_s: float = 5.0
    persist_batch_max: int = 5_000
    persist_interval_s: float = 0.2
    status_interval_s: float = 1.0  # market_status rows: freshness for operators, not per batch
    max_pending: int = 200_000
    max_unpersisted: int = 1_000_000
    retry_base_s: float = 0.1
    retry_max_s: float = 5.0
    poison_after: int = 3  # refusals of one message (for a reason about it) before it is a dead letter


class Outbox:
    """Queues book messages and rows; ``start`` runs the publisher and persister tasks."""

    def __init__(self, config: OutboxConfig, metrics: IngestMetrics, bus: BookPublisher, store: BookRows,
                 status_rows: Callable[[Iterable[str]], list[StatusRow]],
                 resnapshot: Callable[[Iterable[str]], list[Snapshot]],
                 seal: Callable[[str, int], None] | None = None) -> None:
        """``seal(asset_id, seq)`` tells the book state machine that change ``seq`` was taken (coalescing)."""
        self.config = config
        self.metrics = metrics
        self.bus = bus
        self.store = store
        self._status_rows = status_rows
        self._resnapshot = resnapshot
        self._seal_book = seal
        self._pub: list[DeltaDraft | Outgoing] = []
        self._subjects: dict[str, str] = {}  # asset → delta subject (building one validates the token)
        self._open: dict[str, DeltaDraft] = {}  # asset → its draft that deltas may still join
        self._events: list[DeltaDraft] = []
        self._snaps: list[Snapshot] = []
        self._dirty: set[str] = set()
        self._final_status: list[StatusRow] = []  # rows of books no longer followed
        self._dead: list[DeadLetter] = []  # to store
        self._poison = PoisonFilter(config.poison_after)
        self._pub_wake = asyncio.Event()
        self._persist_wake = asyncio.Event()
        self._in_flight = 0
        self._persisting = False
        self._flushing = 0  # flush() calls waiting: write status rows now
        self._next_status = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.latency_samples: list[int] | None = None  # ns, when a benchmark wants every value

    # --- producers (synchronous, called from the frame handler) ---------------------------------------------------
    def delta(self, fx: Applied, recv_ns: int = 0) -> None:
        """Queue a numbered change, or join it to the open change it ``extends``."""
        asset_id = fx.asset_id
        draft = self._open.get(asset_id)
        if fx.extends:
            if draft is not None and draft.seq == fx.seq:
                draft.add(fx, recv_ns)
                self._dirty.add(asset_id)
                return
            # The state machine and the outbox disagree on what is open: never publish a seq twice.
            log.error("delta extends a change that is not open; sent as its own message",
                      extra={"asset_id": asset_id, "seq": fx.seq})
        if draft is not None:
            draft.seal()  # the state machine sealed it itself (a book replaced it, a snapshot covered it)
        draft = self._open[asset_id] = DeltaDraft(fx, recv_ns)
        self._pub.append(draft)
        self._wake_publisher()
        self._events.append(draft)
        self._dirty.add(asset_id)
        self._wake_persister(len(self._events))

    def _take(self, draft: DeltaDraft) -> None:
        """The draft leaves (publish or persist): no delta may join it any more."""
        if draft.open:
            draft.seal()
            asset_id = draft.asset_id
            if self._open.get(asset_id) is draft:
                del self._open[asset_id]
            if self._seal_book is not None:
                self._seal_book(asset_id, draft.seq)

    def _delta_outgoing(self, draft: DeltaDraft) -> Outgoing:
        self._take(draft)
        fx = draft.applied()
        subject = self._subjects.get(fx.asset_id)
        if subject is None:
            subject = self._subjects[fx.asset_id] = subjects.book_delta(fx.asset_id)
        return Outgoing(subject, delta_payload(fx), f"{fx.asset_id}:{fx.epoch}:{fx.seq}")

    def snapshot(self, snap: Snapshot, *, persist: bool = True) -> None:
        draft = self._open.pop(snap.asset_id, None)
        if draft is not None:
            draft.seal()  # the state machine sealed it when it took the snapshot
        msg_id = (f"{snap.asset_id}:{snap.epoch}:{snap.seq}:snapshot:{snap.ts_ms}:{snap.tick_size}:"
                  f"{int(snap.verified)}")
        self._pub.append(Outgoing(subjects.book_snapshot(snap.asset_id), snapshot_message(snap), msg_id))
        self._wake_publisher()
        if persist:
            self._snaps.append(snap)
            self._dirty.add(snap.asset_id)
            self._wake_persister(len(self._events))

    def state(self, fx: StateChanged) -> None:
        msg_id = f"{fx.asset_id}:{fx.epoch}:{fx.seq}:state:{fx.new.value}:{fx.ts_ms}"
        self._pub.append(Outgoing(subjects.book_state(fx.asset_id), state_message(fx), msg_id))
        self._wake_publisher()
        self.touch(fx.asset_id)

    def final_status(self, rows: Iterable[StatusRow]) -> None:
        """Write these ``market_status`` rows with the next batch (books that are gone from memory)."""
        self._final_status.extend(rows)
        self._persist_wake.set()

    def touch(self, asset_id: str) -> None:
        """The asset's ``market_status`` changed (counts, state): write it with the next batch."""
        self._dirty.add(asset_id)

    @property
    def pending(self) -> int:
        return len(self._pub)

    # --- lifecycle ------------------------------------------------------------------------------------------------
    def start(self, spawn: Spawn | None = None) -> None:
        """Start the publisher and persister (under ``spawn``, a supervisor's ``start``, when given)."""
        run = spawn or (lambda name, make: asyncio.create_task(make(), name=name))
        self._tasks.append(run("ingest-publisher", self._publisher))
        self._tasks.append(run("ingest-persister", self._persister))

    async def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued so far is published and persisted; False on timeout."""
        deadline = time.monotonic() + timeout_s
        self._wake_publisher()
        self._persist_wake.set()
        self._flushing += 1
        try:
            while (self._pub or self._in_flight or self._events or self._snaps or self._dirty or self._final_status
                   or self._dead or self._persisting):
                if time.monotonic() > deadline:
                    return False
                self._persist_wake.set()
                await asyncio.sleep(0.005)
            return True
        finally:
            self._flushing -= 1

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
        keep: list[DeltaDraft | Outgoing] = []
        dropped: set[str] = set()
        count = 0
        for item in self._pub:
            if isinstance(item, DeltaDraft):
                self._take(item)
                dropped.add(item.asset_id)
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
        bus, cfg, m = self.bus, self.config, self.metrics
        observe = m.receive_to_publish.observe
        failures = 0
        while not self._closing:
            await self._pub_wake.wait()
            self._pub_wake.clear()
            while self._pub:
                taken = self._pub[:cfg.publish_batch_max]
                del self._pub[:len(taken)]
                batch = self._outgoing(taken)
                self._in_flight = len(batch)
                m.outbox_pending.set(len(self._pub))
                try:
                    await bus.publish_batch(batch, timeout_s=cfg.publish_timeout_s)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    m.publish_errors.inc()
                    retry, poison = self._poison.sift(batch, exc)
                    for out, reason in poison:
                        self._dead_letter(out.subject, out.msg_id, out.subject.rsplit(".", 1)[-1], reason,
                                          out.payload().decode(errors="replace")[:100_000])
                    self._pub[0:0] = retry  # sealed drafts go back as their final messages
                    self._in_flight = 0
                    delay = backoff_delay_s(failures + 1, cfg.retry_base_s, cfg.retry_max_s, random.random())
                    log.warning("publish batch failed; retrying", extra={"error": repr(exc), "size": len(retry),
                                                                          "retry_s": delay})
                    if retry:
                        await asyncio.sleep(delay)
                    continue
                failures = 0
                now_ns = time.perf_counter_ns()
                samples = self.latency_samples
                for item in taken:
                    if isinstance(item, DeltaDraft) and item.recv_ns:
                        observe((now_ns - item.recv_ns[0]) / 1e9)  # the message's oldest frame
                        if samples is not None:
                            samples.extend(now_ns - t for t in item.recv_ns)
                m.published.inc(len(batch))
                self._in_flight = 0

    def _outgoing(self, taken: list[DeltaDraft | Outgoing]) -> list[Outgoing]:
        """The batch's messages; a delta that cannot be encoded (a value JSON cannot hold) is a dead letter."""
        batch: list[Outgoing] = []
        for item in taken:
            if not isinstance(item, DeltaDraft):
                batch.append(item)
                continue
            try:
                batch.append(self._delta_outgoing(item))
            except (TypeError, ValueError, OverflowError) as exc:  # orjson: integers past 64 bits, …
                fx = item.applied()
                self._dead_letter(subjects.book_delta(fx.asset_id), f"{fx.asset_id}:{fx.epoch}:{fx.seq}",
                                  fx.asset_id, f"cannot be encoded: {exc}", None)
        return batch

    async def _write_row_by_row(self, events: list[Applied], snaps: list[Snapshot], status: list[StatusRow]) -> None:
        """Write a batch one row at a time; a row the database refuses for its values is a dead letter."""
        store = self.store
        for fx in events:
            try:
                await store.write([fx], [], [])
            except _UNSTORABLE as exc:
                self._dead_letter("book_events", f"{fx.asset_id}:{fx.epoch}:{fx.seq}", fx.asset_id,
                                  f"cannot be stored: {exc}", None, resnapshot=False)
        for snap in snaps:
            try:
                await store.write([], [snap], [])
            except _UNSTORABLE as exc:
                self._dead_letter("book_snapshots", f"{snap.asset_id}:{snap.epoch}:{snap.seq}", snap.asset_id,
                                  f"cannot be stored: {exc}", None, resnapshot=False)
        for row in status:
            try:
                await store.write([], [], [row])
            except _UNSTORABLE as exc:
                log.error("market_status row refused", extra={"asset_id": row[0], "error": str(exc)})

    def _dead_letter(self, subject: str, msg_id: str, asset_id: str | None, reason: str,
                     payload: str | None, *, resnapshot: bool = True) -> None:
        self.metrics.dead_letters.inc()
        log.error("book message dead-lettered: never published", extra={
            "subject": subject, "msg_id": msg_id, "reason": reason})
        self._dead.append(DeadLetter(subject, msg_id, asset_id, reason, payload))
        self._persist_wake.set()
        if resnapshot and asset_id is not None and subject.startswith(subjects.BOOK_DELTA_ALL.removesuffix("*")):
            for snap in self._resnapshot([asset_id]):  # consumers see the gap: give them a book to reload
                self.snapshot(snap, persist=False)

    # --- persister ------------------------------------------------------------------------------------------------
    def _wake_persister(self, queued: int) -> None:
        if queued >= self.config.persist_batch_max and not self._persist_wake.is_set():
            self._persist_wake.set()

    async def _persister(self) -> None:
        store, cfg, m = self.store, self.config, self.metrics
        failures = 0
        while not self._closing:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that races the wake-up.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(cfg.persist_interval_s):
                    await self._persist_wake.wait()
            self._persist_wake.clear()
            now = time.monotonic()
            status_due = bool(self._dirty) and (now >= self._next_status or self._flushing > 0)
            if not (self._events or self._snaps or status_due or self._final_status or self._dead):
                continue
            events = self._events[:cfg.persist_batch_max]
            del self._events[:len(events)]
            for draft in events:
                self._take(draft)
            snaps, self._snaps = self._snaps, []
            dirty: set[str] = set()
            if status_due:  # a hundred upserts every batch would cost the event loop more than the rows
                dirty, self._dirty = self._dirty, set()
                self._next_status = now + cfg.status_interval_s
            final, self._final_status = self._final_status, []
            dead, self._dead = self._dead, []
            status = self._status_rows(dirty) + final
            self._persisting = True
            try:
                try:
                    await store.write([d.applied() for d in events], snaps, status)
                except _UNSTORABLE:  # a value the table cannot hold: find it, store the rest
                    await self._write_row_by_row([d.applied() for d in events], snaps, status)
                await store.write_dead_letters(dead)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                m.persist_errors.inc()
                self._events[0:0] = events
                self._snaps[0:0] = snaps
                self._dirty |= dirty
                self._final_status[0:0] = final
                self._dead[0:0] = dead
                if len(self._events) > cfg.max_unpersisted:
                    drop = len(self._events) - cfg.max_unpersisted
                    del self._events[:drop]
                    log.error("database unavailable too long: oldest book_events rows dropped", extra={"rows": drop})
                delay = backoff_delay_s(failures + 1, cfg.retry_base_s, cfg.retry_max_s, random.random())
                log.warning("persist batch failed; retrying", extra={"error": repr(exc), "retry_s": delay})
                await asyncio.sleep(delay)
                continue
            finally:
                self._persisting = False
            failures = 0
            m.persisted_events.inc(len(events))
            if self._events:
                self._persist_wake.set()  # more than one batch waiting
