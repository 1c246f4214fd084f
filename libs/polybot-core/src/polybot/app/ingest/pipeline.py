"""The orderbook ingestion pipeline: market websocket → parse → verify → apply → publish → persist.

``OrderbookIngestor`` is the shell around the pure parts (``polybot.venue.market_parse`` and
``polybot.domain.market_books``): it owns the websocket client, the REST client for resync snapshots, the
outbox (JetStream + PostgreSQL, ``outbox``), the effect router (``effects``) and the scheduler
(``schedule``: pending hash-check expiry, a snapshot every ``snapshot_interval_s``, pruning every
``prune_interval_s``). The frame handler is synchronous and does no I/O; everything slow happens in the
outbox and resync tasks.

Manual control (the runbook's names): ``persist_snapshot_now(ts_ms)`` and
``prune_events_before(ts_ms_threshold)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import asyncpg

from polybot.app.ingest.assets import AssetSet
from polybot.app.ingest.effects import EffectRouter
from polybot.app.ingest.links import IngestBus, NatsIngestBus, Subscription
from polybot.app.ingest.markets import TrackedAsset, from_config, from_market_info, merge, wanted
from polybot.app.ingest.metrics import IngestMetrics
from polybot.app.ingest.outbox import Outbox, OutboxConfig
from polybot.app.ingest.resync import FAILURE_TASK as RESYNC_FAILURE_TASK
from polybot.app.ingest.resync import ResyncFetcher
from polybot.app.ingest.schedule import run_schedule
from polybot.app.ingest.status import books_by_market
from polybot.app.ingest.subscriptions import MarketUpdate
from polybot.bus.client import Bus
from polybot.bus.messages import MarketInfo, ResyncRequest
from polybot.domain.book_effects import BookState, Snapshot
from polybot.domain.book_events import BestBidAsk, MarketResolved, NewMarket, VenueBook, VenueDelta
from polybot.domain.book_sync import BookSyncError, SyncConfig
from polybot.domain.initial_books import InitialBookWatch
from polybot.domain.market_books import MarketBooks
from polybot.runtime.clock import now_ms
from polybot.runtime.metrics import Metrics
from polybot.runtime.settings import IngestorSettings
from polybot.runtime.supervise import Supervisor
from polybot.store.book_rows import BookRows
from polybot.store.book_tables import StatusRow, status_row
from polybot.store.books import BookStore
from polybot.venue.clob_rest import ClobRestClient, ClobRestConfig
from polybot.venue.market_parse import parse_market_frame
from polybot.venue.ws_market import FAILURE_TASK as WS_FAILURE_TASK
from polybot.venue.ws_market import MarketWsClient, WsMarketConfig

log = logging.getLogger(__name__)


class OrderbookIngestor:
    """Verified L2 books of a changing asset set, published on NATS and persisted in PostgreSQL.

    ``bus`` is NATS (``NatsIngestBus``) or its fake ``MemoryIngestBus``; ``store`` is PostgreSQL (``BookStore``)
    or ``MemoryBookRows``: a benchmark or a test of the websocket path runs without either server.
    Call ``start()``/``stop()`` (or ``run(stopping)``); feed frames through the websocket client, or call
    ``on_frame`` directly.
    """

    def __init__(self, settings: IngestorSettings, metrics: Metrics, *, bus: IngestBus, store: BookRows,
                 rest: ClobRestClient | None = None) -> None:
        self.settings = s = settings
        self.metrics = IngestMetrics.register(metrics)
        self.bus = bus
        self.store = store
        self.books = MarketBooks(
            SyncConfig(max_buffered=s.resync_buffer_max, ltp_window_ms=s.hash_ltp_window_ms,
                       verify_hashes=s.verify_hashes,
                       coalesce=s.coalesce_deltas),
            resync_min_interval_ms=int(s.resync_min_interval_s * 1000))
        self.outbox = Outbox(
            OutboxConfig(publish_batch_max=s.publish_batch_max, publish_timeout_s=s.publish_timeout_s,
                         persist_batch_max=s.persist_batch_max, persist_interval_s=s.persist_interval_s,
                         max_pending=s.outbox_max_pending),
            self.metrics, bus, self.store, self._status_rows, self._resnapshot, seal=self.books.seal)
        self._rest = rest
        self._owns_rest = rest is None
        self.supervisor = Supervisor(metrics)
        for task in (WS_FAILURE_TASK, RESYNC_FAILURE_TASK):
            self.supervisor.expect(task)
        self.resync = ResyncFetcher(self._fetch_book, self._deliver_rest_book, self._needs_resync,
                                    concurrency=s.resync_concurrency, on_failure=self.supervisor.record_failure)
        self.ws: MarketWsClient | None = None
        self.assets = AssetSet(self.books, self.outbox, self.resync, self._fetch_book, store=self.store, bus=bus,
                               keep=frozenset(s.assets))
        self.assets.on_removed = self._forget
        self._tasks: list[asyncio.Task[None]] = []
        self._gamma_sub: Subscription | None = None
        self._ctl_sub: Subscription | None = None
        self._gamma_queue: asyncio.Queue[MarketUpdate] = asyncio.Queue()
        self.initial_books = InitialBookWatch(int(s.initial_snapshot_timeout_s * 1000))
        self.router = EffectRouter(self.books, self.outbox, self.resync, self.metrics)

    @classmethod
    def on_nats(cls, settings: IngestorSettings, metrics: Metrics, bus: Bus, pool: asyncpg.Pool) -> OrderbookIngestor:
        """The service's ingestor: published on ``bus``, stored through ``pool``."""
        return cls(settings, metrics, bus=NatsIngestBus(bus), store=BookStore(pool))

    # --- lifecycle ------------------------------------------------------------------------------------------------
    async def start(self, *, connect_ws: bool = True, initial: Sequence[TrackedAsset] | None = None) -> None:
        """Start the outbox, load the asset set (``initial``, or the markets on the bus plus config), connect,
        schedule."""
        s = self.settings
        if self._rest is None:
            self._rest = ClobRestClient(ClobRestConfig(s.clob_rest_url, timeout_s=s.rest_timeout_s,
                                                       max_retries=s.rest_max_retries))
        self.outbox.start(self.supervisor.start)
        from_bus: list[TrackedAsset] = []
        if s.follow_gamma:
            from_bus = await self._follow_gamma()
        self._ctl_sub = await self.bus.follow_resync_requests(self.request_resync)
        if connect_ws:
            self.ws = MarketWsClient(
                WsMarketConfig(s.clob_ws_url, assets_per_connection=s.assets_per_connection,
                               ping_interval_s=s.ping_interval_s, silence_timeout_s=s.silence_timeout_s,
                               reconnect_base_s=s.reconnect_base_s, reconnect_max_s=s.reconnect_max_s,
                               custom_feature_enabled=s.custom_feature_enabled,
                               unsubscribe_supported=s.unsubscribe_supported), self,
                on_failure=self.supervisor.record_failure)
            self.assets.ws = self.ws
        if initial is None:
            initial = merge(from_bus, from_config(s.assets))
        await self.add_assets(initial)
        self._tasks.append(self.supervisor.start("ingest-scheduler", lambda: run_schedule(self)))
        log.info("ingestor started", extra={"assets": len(self.books), "waiting": len(self.assets.waiting)})

    async def stop(self) -> None:
        """Disconnect, finish what is queued (bounded), write every asset's final status."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for sub in (self._gamma_sub, self._ctl_sub):
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
        self._gamma_sub = self._ctl_sub = None
        if self.ws is not None:
            await self.ws.close()
        await self.resync.close()
        for sync in self.books:  # every book's final state (disconnected) and counts
            self.outbox.touch(sync.asset_id)
        await self.outbox.close(timeout_s=5.0)
        if self._owns_rest and self._rest is not None:
            await self._rest.aclose()
            self._rest = None
        log.info("ingestor stopped", extra=self.counts())

    async def run(self, stopping: asyncio.Event) -> None:
        """``start``, wait for ``stopping``, ``stop``."""
        await self.start()
        try:
            await stopping.wait()
        finally:
            await self.stop()

    async def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything produced so far is published and persisted."""
        return await self.outbox.flush(timeout_s)

    # --- the asset set ----------------------------------------------------------------------------------------
    async def add_assets(self, assets: Iterable[TrackedAsset]) -> list[str]:
        """Start following assets (idempotent); those lacking market/metadata are completed from REST first."""
        return await self.assets.add(assets)

    async def remove_assets(self, asset_ids: Iterable[str]) -> list[str]:
        """Stop following assets; their ``market_status`` row stays, marked ``unsubscribed``."""
        return await self.assets.remove(asset_ids)

    async def apply_market_info(self, info: MarketInfo) -> None:
        """Follow a gamma-sync market change (also what ``pb.gamma.market.*`` messages do)."""
        await self.assets.apply_market_info(info)

    def _forget(self, asset_id: str) -> None:
        self.initial_books.forget(asset_id)

    async def _follow_gamma(self) -> list[TrackedAsset]:
        """Subscribe to ``PB_MARKETS``; return the assets of the markets selected now (their last messages)."""
        self._gamma_sub = await self.bus.follow_markets(self._gamma_queue)
        selected: dict[str, MarketInfo] = {}
        if await self.bus.markets_published():
            while True:  # the last message of every market, up to the one with nothing pending after it
                info, pending = await asyncio.wait_for(self._gamma_queue.get(), self.settings.markets_load_timeout_s)
                if info is not None:
                    selected[info.condition_id] = info
                if pending == 0:
                    break
        self._tasks.append(self.supervisor.start("ingest-gamma", self._market_infos))
        return [a for info in selected.values() if wanted(info) for a in from_market_info(info)]

    async def _market_infos(self) -> None:
        while True:
            info, _ = await self._gamma_queue.get()
            if info is None:
                continue
            try:
                await self.assets.apply_market_info(info)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not apply a market change", extra={"condition_id": info.condition_id})

    def request_resync(self, request: ResyncRequest) -> None:
        """Re-snapshot one book from REST on request (``pb.ctl.resync.<asset>``); counted as ``manual``."""
        if self.books.get(request.asset_id) is None:
            return
        log.info("resync requested", extra={"asset_id": request.asset_id, "reason": request.reason})
        self.router.route(self.books.request_resync([request.asset_id], now_ms(), "manual"), 0)

    # --- websocket listener -----------------------------------------------------------------------------------
    def on_frame(self, shard: int, frame: str, recv_ts_ms: int, recv_ns: int) -> None:
        """Parse one frame and apply it; never raises for bad input."""
        self.router.hot.frames += 1
        parsed = parse_market_frame(frame, recv_ts_ms)
        if parsed.invalid:
            self.router.invalid(parsed.invalid, shard)
        feed = self.books.feed
        for event in parsed.events:
            if type(event) is not VenueDelta and isinstance(event, BestBidAsk | NewMarket | MarketResolved):
                if isinstance(event, BestBidAsk):
                    self._cross_check(event)
                else:  # the venue sends these for every market; gamma-sync decides what we follow
                    log.info("market event", extra={"event": type(event).__name__, "market": event.market})
                continue
            try:
                effects = feed(event, recv_ts_ms)
            except BookSyncError as exc:
                self.metrics.discarded.inc(reason="illegal")
                log.warning("input refused by the book state machine", extra={"error": str(exc)})
                continue
            if effects:
                self.router.route(effects, recv_ns)

    def _cross_check(self, event: BestBidAsk) -> None:
        """The venue's best_bid_ask against our verified book (not guaranteed by the venue: counted, not acted
        on; the hash chain decides whether a book is right)."""
        sync = self.books.get(event.asset_id)
        if sync is None or sync.state is not BookState.LIVE or event.ts_ms < sync.book_ts_ms:
            return
        ours = (sync.book.best_bid_price(), sync.book.best_ask_price())
        theirs = (event.best_bid or None, event.best_ask or None)  # "0" means an empty side
        self.metrics.best_bid_ask.inc(result="agree" if ours == theirs else "disagree")

    def on_connected(self, shard: int, asset_ids: tuple[str, ...]) -> None:
        self.metrics.ws_connected.labels(shard=str(shard)).set(1)
        self.metrics.ws_assets.labels(shard=str(shard)).set(len(asset_ids))
        now = now_ms()
        for a in asset_ids:
            if (b := self.books.get(a)) is not None and b.state is BookState.AWAITING_SNAPSHOT:
                self.initial_books.watch(a, now)
        lost = [a for a in asset_ids if (b := self.books.get(a)) is not None and b.state is BookState.DISCONNECTED]
        if lost:
            self.router.route(self.books.connection_restored(lost, now), 0)

    def on_disconnected(self, shard: int, asset_ids: tuple[str, ...], reason: str) -> None:
        self.metrics.ws_connected.labels(shard=str(shard)).set(0)
        self.metrics.ws_disconnects.inc(reason=reason.split(":")[0])
        self.router.route(self.books.connection_lost(asset_ids, now_ms()), 0)

    # --- resync -----------------------------------------------------------------------------------------------
    def _needs_resync(self, asset_id: str) -> bool:
        sync = self.books.get(asset_id)
        return sync is not None and sync.state is BookState.RESYNCING

    async def _fetch_book(self, asset_id: str) -> VenueBook:
        assert self._rest is not None
        return await self._rest.book(asset_id)

    def _deliver_rest_book(self, book: VenueBook) -> None:
        if self.books.get(book.asset_id) is None:
            return
        try:
            effects = self.books.feed(book, now_ms())
        except BookSyncError as exc:
            log.warning("REST book refused by the book state machine", extra={"error": str(exc)})
            return
        self.router.route(effects, 0)

    # --- snapshots, status rows, retention ----------------------------------------------------------------
    def _status_rows(self, asset_ids: Iterable[str]) -> list[StatusRow]:
        rows = []
        for a in asset_ids:
            sync = self.books.get(a)
            if sync is not None:
                rows.append(status_row(sync))
        return rows

    def _resnapshot(self, asset_ids: Iterable[str]) -> list[Snapshot]:
        out = []
        for a in asset_ids:
            sync = self.books.get(a)
            snap = sync.snapshot("outbox_overflow") if sync is not None else None
            if snap is not None:
                out.append(snap)
        return out

    async def persist_snapshot_now(self, ts_ms: int) -> int:
        """Publish and store a snapshot of every live book as of ``ts_ms``; returns how many.

        A periodic snapshot's ``ts_ms`` is the time it was taken (or the book's own, if later), so each period
        leaves a row even for a book that did not change; its ``seq`` is the last delta it includes.
        """
        snaps = [replace(s, ts_ms=max(s.ts_ms, ts_ms)) for s in self.books.snapshots("periodic")]
        for snap in snaps:
            self.outbox.snapshot(snap, persist=False)
        if snaps:
            await self.store.write([], snaps, [])  # written when this returns, as an operator expects
        return len(snaps)

    async def prune_events_before(self, ts_ms_threshold: int) -> int:
        """Delete ``book_events`` older than ``ts_ms_threshold`` (venue time); returns the rows deleted."""
        deleted = await self.store.prune_events_before(ts_ms_threshold)
        if deleted:
            log.info("book events pruned", extra={"rows": deleted, "before_ts_ms": ts_ms_threshold})
        return deleted

    def counts(self) -> dict[str, int]:
        self.router.hot.flush_into(self.metrics)
        m = self.metrics
        return {"ingestion_msg_applied": int(m.msg_applied.value()),
                "ingestion_msg_invalid": int(m.msg_invalid.value()), **m.resync_counts(),
                "ingestion_hash_layout_changes": sum(b.verifier.layout_changes for b in self.books),
                "ingestion_dead_letters": int(m.dead_letters.value())}

    # --- status -----------------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The ``/status`` JSON: counters, connections and every book grouped by market."""
        return {
            "assets": len(self.books),
            "waiting_for_metadata": sorted(self.assets.waiting),
            "books": dict(Counter(b.state.value for b in self.books)),
            "counters": self.counts(),
            "connections": self.ws.status() if self.ws is not None else [],
            "outbox_pending": self.outbox.pending,
            "resync_in_flight": self.resync.in_flight,
            "markets": books_by_market(self.books, now_ms()),
        }

    def connected(self) -> bool:
        """True when every websocket shard is up (or there is nothing to follow)."""
        return self.ws is None or all(c["connected"] for c in self.ws.status())
