"""Helpers of the ingestor tests (imported by name: conftest puts this folder on sys.path)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
from nats.js.api import DeliverPolicy

from polybot.app.ingest.links import MemoryIngestBus, NatsIngestBus
from polybot.app.ingest.pipeline import OrderbookIngestor
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.codec import decode
from polybot.bus.streams import BOOK_SNAPSHOTS
from polybot.domain.book import Level, LevelChange
from polybot.domain.book_effects import Applied, BookState, Snapshot
from polybot.runtime.metrics import Metrics
from polybot.runtime.settings import IngestorSettings
from polybot.store.book_rows import MemoryBookRows
from polybot.store.books import BookStore
from polybot.store.migrate import apply_migrations
from polysim.exchange_api import NewOrder
from polysim.harness import RunningSim

BUSY = {"lp_rate_hz": 20.0, "taker_rate_hz": 4.0}
_order_ids = itertools.count(1)


def numbered_delta(asset: str, seq: int) -> Applied:
    """Change ``seq`` of an outbox test: one bid level at 0.5 whose size is the seq."""
    return Applied(asset, "0xm", seq, 1000 + seq, 1000 + seq, (LevelChange.of("BUY", "0.5", str(seq)),), None,
                   Decimal("0.5"), None)


def numbered_snapshot(asset: str, seq: int, reason: str = "periodic") -> Snapshot:
    """The book after change ``seq`` of an outbox test, as a snapshot."""
    return Snapshot(asset, "0xm", seq, 1000 + seq, (Level.of("0.5", str(seq)),), (), "0.01", "5", False, None,
                    reason)


def settings_for(sim: RunningSim, **overrides: Any) -> IngestorSettings:
    """Fast-reacting settings against ``sim``; schedules off unless a test turns them on."""
    base: dict[str, Any] = {
        "clob_rest_url": sim.url, "clob_ws_url": sim.ws_market_url, "assets": tuple(sim.token_ids()),
        "silence_timeout_s": 30.0, "ping_interval_s": 0.5, "reconnect_base_s": 0.05, "reconnect_max_s": 0.2,
        "resync_min_interval_s": 0.05, "hash_ltp_window_ms": 400, "tick_interval_s": 0.05,
        "snapshot_interval_s": 3600.0, "prune_interval_s": 3600.0, "persist_interval_s": 0.05,
        "follow_gamma": False,
    }
    base.update(overrides)
    return IngestorSettings(**base)


@asynccontextmanager
async def running_ingestor(settings: IngestorSettings, *, bus: Bus | None = None, pool: asyncpg.Pool | None = None,
                           metrics: Metrics | None = None) -> AsyncIterator[OrderbookIngestor]:
    if pool is not None:
        await apply_migrations(pool, ("ingest",))
    if bus is not None:
        await purge_assets(bus, settings.assets)
    # Without a server the ingestor runs on the fakes beside the real ones (what is published stays in memory).
    ing = OrderbookIngestor(settings, metrics or Metrics(),
                            bus=MemoryIngestBus() if bus is None else NatsIngestBus(bus),
                            store=MemoryBookRows() if pool is None else BookStore(pool))
    await ing.start()
    try:
        yield ing
    finally:
        await ing.stop()


_purged: set[str] = set()


async def purge_assets(bus: Bus, asset_ids: Iterable[str]) -> None:
    """Forget what earlier test runs published for these assets (once per test session, so a test that
    restarts an ingestor still sees both runs): simulator tokens come from fixed seeds, and a server that
    outlives the test run (CI's) still holds their messages for the streams' max age."""
    for asset_id in set(asset_ids) - _purged:
        _purged.add(asset_id)
        await bus.purge_book(asset_id)


async def wait_until(cond: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def rest_levels(book: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(bids, asks) of a REST /book body, wire order."""
    return ([(lv["price"], lv["size"]) for lv in book["bids"]], [(lv["price"], lv["size"]) for lv in book["asks"]])


def ours(ing: OrderbookIngestor, asset_id: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    sync = ing.books.get(asset_id)
    assert sync is not None
    return sync.book.wire_bids(), sync.book.wire_asks()


def equals_venue(ing: OrderbookIngestor, sim: RunningSim, asset_id: str) -> bool:
    sync = ing.books.get(asset_id)
    return sync is not None and sync.state is BookState.LIVE and ours(ing, asset_id) == rest_levels(sim.book(asset_id))


async def settled_equal(ing: OrderbookIngestor, sim: RunningSim, assets: list[str], timeout_s: float = 5.0) -> None:
    """Freeze the simulator and wait until every book equals the venue's /book exactly."""
    sim.freeze()
    await wait_until(lambda: all(equals_venue(ing, sim, a) for a in assets), timeout_s, "books equal to /book")


def rest_order(sim: RunningSim, asset_id: str, side: str, price: Decimal, size: Decimal = Decimal(10)) -> None:
    """Rest an order in the simulator's book (one price_change on the asset)."""
    owner = "ingest-test"
    sim.fund(owner, usdc="100000", positions={asset_id: "100000"})
    order_id = "0x" + f"{next(_order_ids):064x}"
    result = sim.engine.place(NewOrder(order_id, owner, "0x" + "22" * 20, asset_id, side, price, size,
                                       "GTC", False, 0), sim.now_ms())
    assert result.ok, result.error


def inside_prices(sim: RunningSim, asset_id: str) -> tuple[Decimal, Decimal, Decimal]:
    """(best bid, best ask, tick) of the venue book now."""
    book = sim.book(asset_id)
    bid = max(Decimal(lv["price"]) for lv in book["bids"])
    ask = min(Decimal(lv["price"]) for lv in book["asks"])
    return bid, ask, Decimal(book["tick_size"])


def counter(ing: OrderbookIngestor, name: str) -> int:
    """One of the ingestor's counters (``ingestion_resync_gap``…), from its ``/status`` JSON."""
    return int(ing.status()["counters"][name])


async def bus_messages(bus: Bus, subject: str) -> list[Any]:
    """Every message on ``subject`` in its stream, in order."""
    sub = await bus.js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    out: list[Any] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except Exception:
                return out
            out.append(decode(msg.data))
    finally:
        await sub.unsubscribe()


async def delta_messages(bus: Bus, asset_id: str) -> list[Any]:
    """Every ``BookDelta`` of ``asset_id`` on JetStream, in stream order."""
    return await bus_messages(bus, subjects.book_delta(asset_id))


async def last_snapshot(bus: Bus, asset_id: str) -> Any:
    raw = await bus.js.get_last_msg(BOOK_SNAPSHOTS.name, subjects.book_snapshot(asset_id))
    return decode(raw.data)


def venue_maps(book: dict[str, Any]) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    return ({Decimal(lv["price"]): Decimal(lv["size"]) for lv in book["bids"]},
            {Decimal(lv["price"]): Decimal(lv["size"]) for lv in book["asks"]})
