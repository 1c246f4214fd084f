"""The outbox across NATS failures, on a real nats-server of this test's own: stopped while deltas keep coming
and started again, then up but refusing (its stream deleted, then recreated). Every delta reaches JetStream
once and in order, and the failed batches were counted."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from ingest_kit import bus_messages, numbered_delta, wait_until

from polybot.app.ingest.metrics import IngestMetrics
from polybot.app.ingest.outbox import Outbox, OutboxConfig
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.streams import BOOK_DELTAS
from polybot.runtime.embedded import EmbeddedNats
from polybot.runtime.metrics import Metrics
from polybot.store.book_rows import MemoryBookRows


async def test_deltas_published_during_a_nats_outage_arrive_once_and_in_order(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats").start()
    bus = await Bus.connect(server.url, "outage-test")
    metrics = IngestMetrics.register(Metrics())
    outbox = Outbox(OutboxConfig(publish_batch_max=32, publish_timeout_s=0.5, retry_base_s=0.05, retry_max_s=0.3),
                    metrics, bus, MemoryBookRows(), lambda _: [], lambda _: [])
    asset = f"t{uuid.uuid4().hex[:12]}"
    try:
        await bus.ensure_streams()
        outbox.start()
        for seq in range(1, 101):
            outbox.delta(numbered_delta(asset, seq))
        assert await outbox.flush(10)

        server.stop()
        await wait_until(lambda: not bus.is_connected, 5, "the client to notice the outage")
        for seq in range(101, 201):
            outbox.delta(numbered_delta(asset, seq))
            if seq % 20 == 0:
                await asyncio.sleep(0.1)  # deltas keep arriving while the publisher fails and retries
        await wait_until(lambda: metrics.publish_errors.value() > 0, 5, "a failed batch")

        server.start()  # same port, same store
        assert await outbox.flush(20), "everything published once the server is back"
        seqs = [d.seq for d in await bus_messages(bus, subjects.book_delta(asset))]
        assert seqs == list(range(1, 201)), "each delta stored once, in order, across the outage"

        # JetStream up but refusing (no stream for the subject: 503): the failed batch is retried first, so
        # what is stored once the stream is back keeps the order.
        errors = metrics.publish_errors.value()
        await bus.js.delete_stream(BOOK_DELTAS.name)
        for seq in range(201, 301):
            outbox.delta(numbered_delta(asset, seq))
            if seq % 20 == 0:
                await asyncio.sleep(0.1)
        await wait_until(lambda: metrics.publish_errors.value() > errors + 1, 5, "refused batches")
        await bus.ensure_streams()
        assert await outbox.flush(20)
        seqs = [d.seq for d in await bus_messages(bus, subjects.book_delta(asset))]
        assert seqs == list(range(201, 301)), "refused batches are retried in order"
    finally:
        await outbox.close(timeout_s=2)
        await bus.close()
        server.stop()
