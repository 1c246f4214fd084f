"""The ``paper`` backend: an ``OrderGateway`` that sends nothing anywhere.

Orders rest in ``polybot.domain.paper.PaperVenue`` and fill against the live books the ingestor publishes
(``BookFeed``: polysim's or Polymarket's real ones), so paper trading works on the real venue's market data
with no credentials at all. The executor feeds it every book change (``on_book``); fills come back from
``trades`` like the venue's, as CONFIRMED at once (there is no chain to wait for).
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Protocol

from polybot.domain.paper import Levels, PaperFill, PaperVenue
from polybot.venue.order_gateway import (
    CancelAnswer,
    OrderRequest,
    PlaceAnswer,
    PlaceStatus,
    VenueOrder,
    VenueTrade,
)


class BookSource(Protocol):
    def levels(self, asset_id: str) -> tuple[Levels, Levels] | None:
        """The live (bids, asks) of ``asset_id``, best first; None while the book cannot be trusted."""
        ...


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class PaperGateway:
    name = "paper"

    def __init__(self, books: BookSource, clock_ms: Callable[[], int] = _wall_ms) -> None:
        self.books = books
        self.clock_ms = clock_ms
        self.venue = PaperVenue()
        self.market_of: dict[str, str] = {}  # order id → market
        self.fills: list[VenueTrade] = []
        self._serial = itertools.count(1)
        self._heartbeats = itertools.count(1)

    async def place(self, orders: Sequence[OrderRequest]) -> list[PlaceAnswer]:
        now = self.clock_ms()
        out: list[PlaceAnswer] = []
        for req in orders:
            book = self.books.levels(req.asset_id)
            if book is None:
                out.append(PlaceAnswer(req.client_id, "rejected", error="no live book for this token (paper)"))
                continue
            oid = "paper-" + hashlib.sha256(f"{req.client_id}:{now}".encode()).hexdigest()[:40]
            ans = self.venue.place(oid, req.asset_id, req.side, req.price, req.size, bids=book[0], asks=book[1],
                                   now_ms=now, post_only=req.post_only, order_type=req.order_type)
            if not ans.accepted:
                out.append(PlaceAnswer(req.client_id, "rejected", error=ans.error))
                continue
            self.market_of[oid] = req.market
            trades = self._record(ans.fills)
            matched = sum((f.size for f in ans.fills), Decimal(0))
            status: PlaceStatus = "live" if ans.resting else "matched"
            out.append(PlaceAnswer(req.client_id, status, oid, None, tuple(t.trade_id for t in trades), matched))
        return out

    async def cancel(self, order_ids: Sequence[str]) -> CancelAnswer:
        done = tuple(oid for oid in order_ids if self.venue.cancel(oid))
        missing = tuple((oid, "order not found or already canceled") for oid in order_ids if oid not in done)
        return CancelAnswer(done, missing)

    async def cancel_all(self, market: str | None = None) -> CancelAnswer:
        ids = [o.order_id for o in await self.open_orders(market)]
        return await self.cancel(ids)

    async def open_orders(self, market: str | None = None) -> list[VenueOrder]:
        return [VenueOrder(o.order_id, self.market_of.get(o.order_id, ""), o.asset_id, o.side, o.price, o.size,
                           o.size - o.remaining, "LIVE", o.placed_ms // 1000)
                for o in self.venue.open_orders() if market is None or self.market_of.get(o.order_id) == market]

    async def trades(self, after_ms: int) -> list[VenueTrade]:
        return [t for t in self.fills if t.match_time_ms > after_ms]

    async def heartbeat(self, heartbeat_id: str | None) -> str:
        return f"paper-{next(self._heartbeats)}"  # nothing rests anywhere that could be cancelled for us

    def on_book(self, asset_id: str) -> list[VenueTrade]:
        """The book of ``asset_id`` changed: match our resting paper orders against it."""
        book = self.books.levels(asset_id)
        if book is None:
            return []
        return self._record(self.venue.on_book(asset_id, book[0], book[1], self.clock_ms()))

    def _record(self, fills: Sequence[PaperFill]) -> list[VenueTrade]:
        out = [VenueTrade(f"paper-trade-{next(self._serial)}", f.order_id, self.market_of.get(f.order_id, ""),
                          f.asset_id, f.side, f.price, f.size, "CONFIRMED", f.ts_ms) for f in fills]
        self.fills.extend(out)
        return out
