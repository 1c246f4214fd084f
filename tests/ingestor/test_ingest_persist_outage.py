"""The outbox's persister across a PostgreSQL outage, on a PostgreSQL of this test's own: stopped while deltas,
a snapshot and status changes keep coming, then started again. Every row is stored once, none is lost, the
failed batches were counted, and ``market_status`` ends at the last seq."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from pathlib import Path

from ingest_kit import numbered_delta, numbered_snapshot, wait_until

from polybot.app.ingest.links import MemoryIngestBus
from polybot.app.ingest.metrics import IngestMetrics
from polybot.app.ingest.outbox import Outbox, OutboxConfig
from polybot.runtime.embedded import EmbeddedPostgres
from polybot.runtime.metrics import Metrics
from polybot.store.book_tables import StatusRow
from polybot.store.books import BookStore
from polybot.store.migrate import apply_migrations
from polybot.store.pool import create_pool


async def test_rows_queued_during_a_postgres_outage_are_stored_once_when_it_returns(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg", durable=False).start()
    pool = await create_pool(server.url, min_size=1, max_size=2, timeout_s=2)
    asset = f"t{uuid.uuid4().hex[:12]}"
    last = {"seq": 0}

    def status_rows(assets: Iterable[str]) -> list[StatusRow]:
        return [(a, "0xm", last["seq"], 1000 + last["seq"], 2, last["seq"], "live", 0, 0, 0, 0, 1) for a in assets]

    metrics = IngestMetrics.register(Metrics())
    outbox = Outbox(OutboxConfig(persist_interval_s=0.02, status_interval_s=0.05, retry_base_s=0.05,
                                 retry_max_s=0.3),
                    metrics, MemoryIngestBus(), BookStore(pool), status_rows, lambda _: [])

    def feed(seqs: range) -> None:
        for seq in seqs:
            last["seq"] = seq
            outbox.delta(numbered_delta(asset, seq))
            outbox.touch(asset)

    try:
        await apply_migrations(pool, ("ingest",))
        outbox.start()
        outbox.snapshot(numbered_snapshot(asset, 0))
        feed(range(1, 101))
        assert await outbox.flush(10)

        server.stop()
        for start in range(101, 201, 20):
            feed(range(start, start + 20))
            if start == 141:
                outbox.snapshot(numbered_snapshot(asset, 160))
            await asyncio.sleep(0.1)  # rows keep arriving while the persister fails and retries
        await wait_until(lambda: metrics.persist_errors.value() > 0, 10, "a failed batch")
        assert not await outbox.flush(0.3), "nothing can be stored while the server is down"

        server.start()  # same port, same data
        assert await outbox.flush(30), "everything stored once the server is back"
        async with pool.acquire() as conn:
            seqs = [r["seq"] for r in await conn.fetch(
                "SELECT seq FROM book_events WHERE asset_id = $1 ORDER BY seq", asset)]
            snaps = [r["seq"] for r in await conn.fetch(
                "SELECT seq FROM book_snapshots WHERE asset_id = $1 ORDER BY seq", asset)]
            status = await conn.fetchrow("SELECT last_seq, deltas FROM market_status WHERE asset_id = $1", asset)
        assert seqs == list(range(1, 201)), "each delta row stored once across the outage"
        assert snaps == [0, 160]
        assert status is not None and (status["last_seq"], status["deltas"]) == (200, 200)
    finally:
        await outbox.close(timeout_s=2)
        await pool.close()
        server.stop()
