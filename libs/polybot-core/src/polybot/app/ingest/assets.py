"""The asset set of one ingestor: adding assets (metadata completed from REST, seq continued), removing them,
and following gamma-sync's market changes.

An added asset needs its market (condition id) and hash metadata; when neither gamma-sync nor config gives
them, REST ``/book`` does. An asset whose ``/book`` cannot be fetched waits in ``waiting`` and is retried.
Its feed continues after the highest ``(epoch, seq)`` of: this process's memory (removed earlier), its
newest ``book_events`` row, ``market_status`` and the last delta/snapshot on the bus (see
``subscriptions``); its first book then begins the next epoch. When any of those cannot be read the asset
waits too: publishing without knowing where the feed stands could reuse a ``(epoch, seq)``.

Epochs also never fall below the clock's (seconds since 2020): an ingestor that lost every trace of what
was published before (a fresh database and purged streams) still starts above any epoch a consumer holds,
so consumers replace their books instead of ignoring the new ones as old, and no ``Nats-Msg-Id``
(``<asset>:<epoch>:<seq>``) of an earlier run is reused inside JetStream's duplicate window.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace

import asyncpg

from polybot.app.ingest.links import IngestBus
from polybot.app.ingest.markets import TrackedAsset, completed, market_change
from polybot.app.ingest.outbox import Outbox
from polybot.app.ingest.resync import ResyncFetcher
from polybot.app.ingest.subscriptions import Position, PositionUnknown
from polybot.bus.messages import MarketInfo
from polybot.domain.book_events import VenueBook
from polybot.domain.market_books import MarketBooks
from polybot.runtime.clock import now_ms
from polybot.store.book_rows import BookRows
from polybot.store.book_tables import StatusRow, status_row
from polybot.venue.ws_market import MarketWsClient

log = logging.getLogger(__name__)

RestBook = Callable[[str], Awaitable[VenueBook]]


class AssetSet:
    """Adds and removes the books of ``MarketBooks`` together with their websocket subscriptions."""

    def __init__(self, books: MarketBooks, outbox: Outbox, resync: ResyncFetcher, rest_book: RestBook, *,
                 store: BookRows, bus: IngestBus, keep: frozenset[str]) -> None:
        self.books = books
        self.outbox = outbox
        self.resync = resync
        self.rest_book = rest_book
        self.store = store
        self.bus = bus
        self.keep = keep  # configured assets: gamma-sync never removes them
        self.ws: MarketWsClient | None = None
        self.waiting: dict[str, TrackedAsset] = {}  # market/metadata not fetched yet
        self.on_removed: Callable[[str], None] = lambda asset_id: None
        self._removed_at: dict[str, Position] = {}
        self._lock = asyncio.Lock()

    async def add(self, assets: Iterable[TrackedAsset]) -> list[str]:
        """Start following assets (idempotent); returns the ids added now."""
        async with self._lock:
            todo = [a for a in assets if self.books.get(a.asset_id) is None]
            ready = [a for a in todo if a.complete]
            ready.extend(await self._complete([a for a in todo if not a.complete]))
            if not ready:
                return []
            try:
                positions = await self._last_positions([a.asset_id for a in ready])
            except PositionUnknown as exc:
                for a in ready:
                    self.waiting[a.asset_id] = a
                log.warning("where the book feed left off cannot be read; assets wait",
                            extra={"assets": len(ready), "error": str(exc)})
                return []
            for a in ready:
                assert a.market is not None
                self.waiting.pop(a.asset_id, None)
                epoch, seq = positions.get(a.asset_id, (0, 0))
                self.books.add_asset(a.asset_id, a.market, a.meta, epoch=epoch, seq=seq)
                self.outbox.touch(a.asset_id)
            ids = [a.asset_id for a in ready]
            if self.ws is not None:
                await self.ws.add_assets(ids)
            return ids

    async def remove(self, asset_ids: Iterable[str]) -> list[str]:
        """Stop following assets; their ``market_status`` row stays, marked ``unsubscribed``."""
        async with self._lock:
            ids = [a for a in asset_ids if self.books.get(a) is not None or a in self.waiting]
            for a in ids:
                self.waiting.pop(a, None)
            if self.ws is not None:
                await self.ws.remove_assets(ids)
            rows: list[StatusRow] = []
            for a in ids:
                self.resync.cancel(a)
                self.on_removed(a)
                sync = self.books.get(a)
                if sync is None:
                    continue
                self._removed_at[a] = (sync.epoch, sync.seq)
                row = status_row(sync)
                rows.append((*row[:6], "unsubscribed", *row[7:]))
                self.books.remove_asset(a)
            # Through the persister: it runs one batch at a time, so this lands after any row of the live book.
            self.outbox.final_status(rows)
            return ids

    async def retry_waiting(self) -> list[str]:
        """Try again the assets whose metadata could not be fetched."""
        return await self.add(list(self.waiting.values())) if self.waiting else []

    async def apply_market_info(self, info: MarketInfo) -> None:
        """Follow a gamma-sync market change: add a selected market's tokens, drop a closed/deselected one's."""
        add, drop = market_change(info, self.keep)
        if drop:
            removed = await self.remove(drop)
            if removed:
                log.info("market no longer followed", extra={"condition_id": info.condition_id, "assets": removed})
        for a in add:  # metadata changes of books already followed (tick size stays the websocket's)
            sync = self.books.get(a.asset_id)
            if sync is not None and a.meta is not None:
                sync.set_meta(replace(sync.meta, min_order_size=a.meta.min_order_size, neg_risk=a.meta.neg_risk))
        added = await self.add(add)
        if added:
            log.info("market followed", extra={"condition_id": info.condition_id, "assets": added})

    async def _complete(self, assets: list[TrackedAsset]) -> list[TrackedAsset]:
        if not assets:
            return []
        results = await asyncio.gather(*(self.rest_book(a.asset_id) for a in assets), return_exceptions=True)
        done = []
        for a, result in zip(assets, results, strict=True):
            if isinstance(result, VenueBook):
                done.append(completed(a, result))
                self.waiting.pop(a.asset_id, None)
            else:
                self.waiting[a.asset_id] = a
                log.warning("asset metadata not available yet; will retry",
                            extra={"asset_id": a.asset_id, "error": repr(result)})
        return done

    async def _last_positions(self, asset_ids: list[str]) -> dict[str, Position]:
        """The highest ``(epoch, seq)`` known anywhere for each asset; ``PositionUnknown`` if a source fails."""
        found = {a: self._removed_at.get(a, (0, 0)) for a in asset_ids}

        def raise_to(asset_id: str, position: Position) -> None:
            found[asset_id] = max(found[asset_id], position)

        try:
            for a, rec in (await self.store.status(asset_ids)).items():
                raise_to(a, (rec.last_epoch, rec.last_seq))
            for a, position in (await self.store.last_events(asset_ids)).items():
                raise_to(a, position)
        except asyncpg.UndefinedTableError:
            pass  # a database without the ingest tables has nothing published
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            raise PositionUnknown(f"could not read the book tables: {exc!r}") from exc
        for a, position in (await self.bus.last_positions(asset_ids)).items():
            raise_to(a, position)
        floor = clock_epoch(now_ms())
        return {a: (max(epoch, floor), seq) for a, (epoch, seq) in found.items()}


_EPOCH_BASE_S = 1_577_836_800  # 2020-01-01T00:00:00Z


def clock_epoch(at_ms: int) -> int:
    """The lowest epoch a book may start from now: seconds since 2020 (see the module docstring)."""
    return at_ms // 1000 - _EPOCH_BASE_S
