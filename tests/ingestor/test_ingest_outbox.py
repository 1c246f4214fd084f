"""The outbox against a real nats-server and PostgreSQL: order, msg ids, shedding a full queue to snapshots."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from decimal import Decimal

import asyncpg
from feed_kit import rebuild
from ingest_kit import bus_messages, last_snapshot, numbered_delta, numbered_snapshot

from polybot.app.ingest.metrics import IngestMetrics
from polybot.app.ingest.outbox import Outbox, OutboxConfig
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.domain.book import Level, LevelChange
from polybot.domain.book_effects import Applied, Effect, Snapshot
from polybot.domain.book_events import VenueBook, VenueDelta
from polybot.domain.book_sync import SyncConfig
from polybot.domain.market_books import MarketBooks
from polybot.runtime.metrics import Metrics
from polybot.store.book_rows import MemoryBookRows
from polybot.store.book_tables import StatusRow
from polybot.store.books import BookStore
from polybot.store.migrate import apply_migrations


def _no_status(_: Iterable[str]) -> list[StatusRow]:
    return []


async def test_deltas_go_out_in_order_once_and_rows_are_stored(bus: Bus, pool: asyncpg.Pool) -> None:
    await apply_migrations(pool, ("ingest",))
    asset = f"t{uuid.uuid4().hex[:12]}"
    outbox = Outbox(OutboxConfig(publish_batch_max=64, persist_interval_s=0.02), IngestMetrics.register(Metrics()),
                    bus, BookStore(pool), _no_status, lambda _: [])
    outbox.start()
    try:
        for seq in range(1, 301):
            outbox.delta(numbered_delta(asset, seq))
        outbox.delta(numbered_delta(asset, 300))  # a repeat (same msg id) is stored once
        assert await outbox.flush(10)
    finally:
        await outbox.close()
    deltas = await bus_messages(bus, subjects.book_delta(asset))
    assert [d.seq for d in deltas] == list(range(1, 301))
    assert deltas[6].changes[0].size == Decimal(7) and deltas[6].best_bid == Decimal("0.5")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM book_events WHERE asset_id = $1", asset) == 300


async def test_a_full_outbox_sheds_deltas_and_queues_a_snapshot_instead(bus: Bus) -> None:
    asset = f"t{uuid.uuid4().hex[:12]}"
    metrics = IngestMetrics.register(Metrics())
    latest: dict[str, int] = {}
    outbox = Outbox(OutboxConfig(max_pending=500), metrics, bus, MemoryBookRows(), _no_status,
                    lambda assets: [numbered_snapshot(a, latest[a], "outbox_overflow") for a in assets])
    outbox.start()
    try:
        for seq in range(1, 1201):  # synchronously, as a burst of frames would: the publisher cannot run
            latest[asset] = seq
            outbox.delta(numbered_delta(asset, seq))
        assert await outbox.flush(10)
    finally:
        await outbox.close()
    assert metrics.publish_dropped.value() > 0
    deltas = [d.seq for d in await bus_messages(bus, subjects.book_delta(asset))]
    snap = await last_snapshot(bus, asset)
    # What a consumer sees: a seq gap, and a snapshot that covers it; deltas after it continue +1.
    assert deltas[-1] == 1200 and deltas == sorted(deltas) and len(deltas) < 1200
    assert snap.reason == "outbox_overflow" and snap.seq >= max(s for s in range(1, 1201) if s not in deltas)
    after = [s for s in deltas if s > snap.seq]
    assert after == list(range(snap.seq + 1, 1201))


async def test_a_busy_publisher_sends_one_growing_message_per_asset(bus: Bus, pool: asyncpg.Pool) -> None:
    """Coalescing end to end: the state machine, the outbox, JetStream and PostgreSQL. Bursts of deltas fed
    while the publisher cannot run join the open message; what consumers get still rebuilds the book."""
    await apply_migrations(pool, ("ingest",))
    assets = [f"t{uuid.uuid4().hex[:12]}" for _ in range(2)]
    books = MarketBooks(SyncConfig(coalesce=True))
    metrics = IngestMetrics.register(Metrics())
    outbox = Outbox(OutboxConfig(publish_batch_max=64, persist_interval_s=0.02), metrics, bus, BookStore(pool),
                    _no_status, lambda _: [], seal=books.seal)

    def take(effects: list[Effect]) -> None:
        for fx in effects:
            if isinstance(fx, Applied):
                outbox.delta(fx)
            elif isinstance(fx, Snapshot):
                outbox.snapshot(fx)

    outbox.start()
    try:
        for a in assets:
            books.add_asset(a, "0xm")
            take(books.feed(VenueBook(a, "0xm", 1, "1", (Level.of("0.40", "10"),), (Level.of("0.60", "10"),),
                                      None), 1))
        ts = 1
        for burst in range(20):
            for i in range(25):  # synchronously, as frames read in one go from a socket
                ts += 1
                a = assets[i % 2]
                price = f"0.{30 + (burst + i) % 9}"
                take(books.feed(VenueDelta(a, "0xm", ts, str(ts), (LevelChange.of("BUY", price, str(i % 4)),), None),
                                ts))
            if burst == 10:
                for a in assets:  # a periodic snapshot in the middle: it must cover exactly up to its seq
                    snap = books.get(a).snapshot("periodic")  # type: ignore[union-attr]
                    assert snap is not None
                    outbox.snapshot(snap)
            await asyncio.sleep(0.005)  # the publisher and persister run between bursts
        assert await outbox.flush(10)
    finally:
        await outbox.close()
    for a in assets:
        sync = books.get(a)
        assert sync is not None
        deltas = await bus_messages(bus, subjects.book_delta(a))
        seqs = [d.seq for d in deltas]
        assert seqs == list(range(1, sync.seq + 1)), "one message per seq, strictly +1"
        assert len(deltas) < sync.stats.deltas, "bursts were coalesced"
        assert sum(len(d.changes) for d in deltas) == sync.stats.deltas + 2  # + the book's two levels
        want = sync.book.sizes()
        assert rebuild(None, deltas) == want, "messages alone rebuild the book"
        snap = await last_snapshot(bus, a)
        assert snap.reason == "periodic" and rebuild(snap, deltas) == want
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT seq, payload FROM book_events WHERE asset_id = $1 ORDER BY seq", a)
        assert [r["seq"] for r in rows] == seqs, "one book_events row per message"
        assert [len(r["payload"]["changes"]) for r in rows] == [len(d.changes) for d in deltas]

