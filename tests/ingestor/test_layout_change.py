"""A venue-wide change of the book hash layout, switched on polysim at run time: the running ingestor
re-detects it within a few messages, each asset resyncs at most once (here: none), and no book is left
resyncing or wrong."""

from __future__ import annotations

import random

from ingest_kit import BUSY, counter, running_ingestor, settings_for, settled_equal, wait_until

from polybot.bus.client import Bus
from polybot.domain.book_effects import BookState
from polybot.domain.book_hash import HashLayout
from polysim.harness import running_sim


async def test_the_ingestor_redetects_a_layout_switch_without_a_resync_storm(bus: Bus) -> None:
    async with running_sim(seed=random.randrange(10**9), n_markets=4, **BUSY) as sim:
        tokens = sim.token_ids()
        async with running_ingestor(settings_for(sim), bus=bus) as ing:
            await wait_until(lambda: all(ing.books.get(t).state is BookState.LIVE for t in tokens), 10, "live")
            assert all(ing.books.get(t).verifier.layout is HashLayout.F10 for t in tokens)
            before = {t: ing.books.get(t).stats.deltas for t in tokens}
            for layout, name in ((HashLayout.F9, "F9"), (HashLayout.F6, "F6"), (HashLayout.F10, "F10")):
                sim.switch_hash_layout(name)
                await wait_until(lambda layout=layout: all(ing.books.get(t).verifier.layout is layout  # type: ignore[misc]
                                                           for t in tokens), 10, f"every book on {name}")
            await wait_until(lambda: all(ing.books.get(t).stats.deltas > before[t] + 5 for t in tokens), 10,
                             "deltas after the switches")
            await settled_equal(ing, sim, tokens)
            resyncs = counter(ing, "ingestion_resync_checksum")
            assert resyncs <= len(tokens), "at most one resync per asset for a venue-wide change"
            assert resyncs == 0, "re-detected in the verifier: no resync at all"
            assert counter(ing, "ingestion_hash_layout_changes") == 3 * len(tokens)
            assert all(ing.books.get(t).state is BookState.LIVE for t in tokens)
