"""The venue's best_bid_ask (custom feature) is a cross-check of our verified books: it agrees with them."""

from __future__ import annotations

import random

from ingest_kit import BUSY, running_ingestor, settings_for, wait_until

from polybot.bus.client import Bus
from polysim.harness import running_sim


async def test_best_bid_ask_agrees_with_the_verified_books(bus: Bus) -> None:
    async with running_sim(seed=random.randrange(10**9), n_markets=2, **BUSY) as sim, \
            running_ingestor(settings_for(sim), bus=bus) as ing:
        checks = ing.metrics.best_bid_ask
        await wait_until(lambda: checks.value(result="agree") >= 20, 10, "best_bid_ask cross-checks")
        assert checks.value(result="disagree") == 0
