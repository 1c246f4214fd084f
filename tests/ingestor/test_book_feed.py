"""``BookFeed`` against the real ingestor and NATS: it follows every book to the venue's, and a cold consumer
started while a book is in checksum resync never sees that book as live."""

from __future__ import annotations

import asyncio
import random

import httpx
from ingest_kit import BUSY, running_ingestor, settings_for, venue_maps, wait_until

from polybot.bus.book_feed import BookFeed
from polybot.bus.client import Bus
from polybot.domain.book_effects import BookState
from polybot.domain.book_follow import FeedState
from polysim.harness import running_sim


async def test_book_feed_follows_the_ingestor_to_the_venues_books(bus: Bus) -> None:
    async with running_sim(seed=random.randrange(10**9), n_markets=2, **BUSY) as sim:
        tokens = sim.token_ids()
        async with running_ingestor(settings_for(sim), bus=bus) as ing, BookFeed(bus, tokens) as feed:
            await wait_until(lambda: all(feed.state(t) is FeedState.LIVE for t in tokens), 10, "feed live")
            await wait_until(lambda: all(ing.books.get(t).stats.deltas > 20 for t in tokens), 10, "traffic")
            sim.freeze()
            await wait_until(lambda: all(feed.view(t).book.sizes() == venue_maps(sim.book(t))  # type: ignore[union-attr]
                                         for t in tokens), 5, "feed books equal /book")
            for t in tokens:
                view = feed.view(t)
                assert view is not None and view.position == (ing.books.get(t).epoch, ing.books.get(t).seq)
                assert view.hash == ing.books.get(t).hash and view.age_ms is not None
            changed = await feed.wait_changed(0.1)
            assert isinstance(changed, set)


async def test_a_cold_consumer_never_sees_a_book_in_checksum_resync_as_live(bus: Bus) -> None:
    async with running_sim(seed=random.randrange(10**9), n_markets=1, **BUSY) as sim, httpx.AsyncClient() as http:
        bad, good = sim.token_ids()
        async with running_ingestor(settings_for(sim), bus=bus) as ing:
            await wait_until(lambda: all(ing.books.get(t).state is BookState.LIVE for t in (bad, good)), 10, "live")
            # the resync cannot complete: REST /book fails, and every websocket hash of one book is wrong
            await http.post(f"{sim.url}/_sim/http-faults", json={"error_rate": 1.0, "paths": ["/book"]})
            await http.post(f"{sim.url}/_sim/faults", json={"corrupt_hashes": [bad]})
            await wait_until(lambda: ing.books.get(bad).state is BookState.RESYNCING, 10, "checksum resync")
            assert ing.books.get(bad).resync_reason == "checksum"
            async with BookFeed(bus, [bad, good]) as feed:
                await wait_until(lambda: feed.state(good) is FeedState.LIVE, 10, "the healthy book live")
                for _ in range(20):  # a second of looking: the resyncing book is never live
                    assert feed.state(bad) is not FeedState.LIVE
                    await asyncio.sleep(0.05)
                assert feed.books[bad].publisher_state in ("resyncing", "unverified")  # never "live"
                await http.post(f"{sim.url}/_sim/faults", json={"corrupt_hashes": []})
                await http.post(f"{sim.url}/_sim/http-faults", json={"error_rate": 0.0})
                await wait_until(lambda: feed.state(bad) is FeedState.LIVE, 10, "live again after the resync")
                epoch = ing.books.get(bad).epoch
                assert feed.books[bad].position[0] == epoch >= 2
