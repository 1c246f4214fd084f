"""Markets on the 2026 ticks (0.005 and 0.0025, multiples of the tick rather than a count of decimals):
polysim seeds them, the ingestor verifies their books and every level it holds sits on the tick."""

from __future__ import annotations

import random
from decimal import Decimal

from ingest_kit import BUSY, counter, running_ingestor, settings_for, settled_equal, wait_until

from polybot.bus.client import Bus
from polybot.domain.book_effects import BookState
from polysim.harness import running_sim


async def test_books_on_0_005_and_0_0025_ticks_verify_and_stay_on_the_grid(bus: Bus) -> None:
    async with running_sim(seed=random.randrange(10**9), n_markets=8, **BUSY) as sim:
        ticks = {m.condition_id: Decimal(m.tick_units) / 10_000 for m in sim.ctx.catalog.markets}
        assert {Decimal("0.005"), Decimal("0.0025")} <= set(ticks.values())
        fine = [t for m in sim.ctx.catalog.markets if m.tick_units in (25, 50) for t in m.token_ids]
        async with running_ingestor(settings_for(sim, assets=tuple(fine)), bus=bus) as ing:
            await wait_until(lambda: all(ing.books.get(t).stats.deltas > 10 for t in fine), 15, "traffic")
            await settled_equal(ing, sim, fine)
            assert counter(ing, "ingestion_resync_checksum") == 0
            for t in fine:
                sync = ing.books.get(t)
                assert sync.state is BookState.LIVE
                tick = ticks[sync.market]
                assert Decimal(sync.meta.tick_size) == tick
                bids, asks = sync.book.sizes()
                assert bids and asks and all(p % tick == 0 for p in [*bids, *asks]), "every level on the tick"
