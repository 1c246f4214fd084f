"""The ingestor against polysim with a real nats-server and PostgreSQL: clean run, then each injected fault."""

from __future__ import annotations

from typing import Any

import asyncpg
from ingest_kit import BUSY, running_ingestor, settings_for, settled_equal, wait_until

from polybot.bus.client import Bus
from polybot.runtime.metrics import Metrics
from polysim.harness import running_sim


async def test_clean_run_books_equal_venue_and_rows_are_written(bus: Bus, pool: asyncpg.Pool) -> None:
    async with running_sim(seed=11, n_markets=2, **BUSY) as sim:
        tokens = sim.token_ids()
        metrics = Metrics()
        async with running_ingestor(settings_for(sim), bus=bus, pool=pool, metrics=metrics) as ing:
            await wait_until(lambda: all(ing.books.get(t) and ing.books.get(t).stats.deltas > 5 for t in tokens),
                             10, "deltas on every book")
            await settled_equal(ing, sim, tokens)
            assert await ing.flush()
            counters: dict[str, Any] = ing.status()["counters"]
            assert counters["ingestion_msg_applied"] > 0
            assert counters["ingestion_resync_checksum"] == 0
            assert counters["ingestion_resync_gap"] == 0
        async with pool.acquire() as conn:
            events = await conn.fetchval("SELECT count(*) FROM book_events")
            snaps = await conn.fetchval("SELECT count(*) FROM book_snapshots")
            status = await conn.fetch("SELECT * FROM market_status")
        assert events > 0 and snaps >= len(tokens)
        assert {r["asset_id"] for r in status} == set(tokens)
