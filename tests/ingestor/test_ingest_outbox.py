"""The outbox against a real nats-server and PostgreSQL: order, msg ids, shedding a full queue to snapshots."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal

import asyncpg
from ingest_kit import bus_messages, last_snapshot

from polybot.app.ingest_metrics import IngestMetrics
from polybot.app.ingest_outbox import Outbox, OutboxConfig
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.domain.book import Level, LevelChange
from polybot.domain.book_effects import Applied, Snapshot
from polybot.runtime.metrics import Metrics
from polybot.store.book_tables import StatusRow
from polybot.store.books import BookStore
from polybot.store.migrate import apply_migrations


def _delta(asset: str, seq: int) -> Applied:
    return Applied(asset, "0xm", seq, 1000 + seq, 1000 + seq, (LevelChange.of("BUY", "0.5", str(seq)),), None,
                   Decimal("0.5"), None)


def _snap(asset: str, seq: int) -> Snapshot:
    return Snapshot(asset, "0xm", seq, 1000 + seq, (Level.of("0.5", str(seq)),), (), "0.01", "5", False, None,
                    "outbox_overflow")


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
            outbox.delta(_delta(asset, seq))
        outbox.delta(_delta(asset, 300))  # a repeat (same msg id) is stored once
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
    outbox = Outbox(OutboxConfig(max_pending=500), metrics, bus, None, _no_status,
                    lambda assets: [_snap(a, latest[a]) for a in assets])
    outbox.start()
    try:
        for seq in range(1, 1201):  # synchronously, as a burst of frames would: the publisher cannot run
            latest[asset] = seq
            outbox.delta(_delta(asset, seq))
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
