"""Poison messages, on a nats-server of this test's own: one asset's deltas refused for good by JetStream (too
large for the stream) are dead-lettered (counted, stored, a snapshot queued in their place) while every other
asset's keep flowing; a delta that cannot even be encoded is a dead letter too, never a dead publisher."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import asyncpg
from ingest_kit import bus_messages, numbered_delta, numbered_snapshot

from polybot.app.ingest.metrics import IngestMetrics
from polybot.app.ingest.outbox import Outbox, OutboxConfig
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.streams import BOOK_DELTAS
from polybot.domain.book import LevelChange
from polybot.runtime.embedded import EmbeddedNats
from polybot.runtime.metrics import Metrics
from polybot.store.books import BookStore
from polybot.store.migrate import apply_migrations


async def test_one_assets_refused_messages_are_dead_lettered_and_the_others_keep_flowing(
    tmp_path: Path, pool: asyncpg.Pool
) -> None:
    await apply_migrations(pool, ("ingest",))
    server = EmbeddedNats(tmp_path / "nats").start()
    bus = await Bus.connect(server.url, "poison-test")
    metrics = IngestMetrics.register(Metrics())
    good, bad = f"g{uuid.uuid4().hex[:12]}", f"b{uuid.uuid4().hex[:12]}"
    resnapshotted: list[str] = []

    def resnapshot(assets: object) -> list:  # type: ignore[type-arg]
        ids = list(assets)  # type: ignore[call-overload]
        resnapshotted.extend(ids)
        return [numbered_snapshot(a, 0, reason="dead_letter") for a in ids]

    outbox = Outbox(OutboxConfig(publish_batch_max=16, retry_base_s=0.01, retry_max_s=0.05, persist_interval_s=0.02),
                    metrics, bus, BookStore(pool), lambda _: [], resnapshot)
    try:
        await bus.ensure_streams()
        cfg = (await bus.js.stream_info(BOOK_DELTAS.name)).config
        await bus.js.update_stream(dataclasses.replace(cfg, max_msg_size=2_000))  # the bad asset's message is larger
        outbox.start()
        for seq in range(1, 51):
            outbox.delta(numbered_delta(good, seq))
            if seq == 10:
                huge = numbered_delta(bad, 1)
                huge.changes = tuple(LevelChange.of("BUY", f"0.{p:03d}", "1") for p in range(1, 200))
                outbox.delta(huge)
            if seq == 20:
                odd = numbered_delta(bad, 2)
                odd.ts_ms = 10**30  # JSON can carry it, orjson cannot: not encodable
                outbox.delta(odd)
        assert await outbox.flush(20), "the outbox drained: nothing left blocked behind the poison"
        seqs = [d.seq for d in await bus_messages(bus, subjects.book_delta(good))]
        assert seqs == list(range(1, 51)), "every delta of the healthy asset stored once, in order"
        assert await bus_messages(bus, subjects.book_delta(bad)) == []
        # the huge delta refused by JetStream; the odd one neither encodable for the bus nor storable
        assert metrics.dead_letters.value() == 3
        assert resnapshotted == [bad, bad]  # each delta lost to the bus is replaced by a snapshot
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT subject, msg_id, reason FROM dead_letters WHERE asset_id = $1", bad)
        letters = {(r["subject"], r["msg_id"]): r["reason"] for r in rows}
        assert set(letters) == {(subjects.book_delta(bad), f"{bad}:0:1"), (subjects.book_delta(bad), f"{bad}:0:2"),
                                ("book_events", f"{bad}:0:2")}
        assert "cannot be encoded" in letters[(subjects.book_delta(bad), f"{bad}:0:2")]
        assert "maximum" in letters[(subjects.book_delta(bad), f"{bad}:0:1")].lower()
        assert "cannot be stored" in letters[("book_events", f"{bad}:0:2")]
        async with pool.acquire() as conn:
            stored = [r[0] for r in await conn.fetch("SELECT seq FROM book_events WHERE asset_id = $1 ORDER BY seq",
                                                     good)]
        assert stored == list(range(1, 51)), "the healthy asset's rows were all stored"
    finally:
        await outbox.close()
        await bus.close()
        server.stop()
