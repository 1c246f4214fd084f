"""The ingestor's long-lived tasks are supervised: a scheduler that dies is logged, counted, restarted, and the
service's readiness names it while it is down."""

from __future__ import annotations

import random

from ingest_kit import BUSY, running_ingestor, settings_for, wait_until

from polybot.bus.client import Bus
from polybot.runtime.metrics import Metrics
from polysim.harness import running_sim


async def test_a_dying_scheduler_is_restarted_and_readiness_names_it_while_down(bus: Bus) -> None:
    async with running_sim(seed=random.randrange(10**9), n_markets=1, **BUSY) as sim:
        metrics = Metrics()
        async with running_ingestor(settings_for(sim), bus=bus, metrics=metrics) as ing:
            ing.supervisor.base_s = ing.supervisor.max_s = 0.5
            real_tick = ing.books.tick
            calls = {"n": 0}

            def failing_tick(now_ms: int) -> list:  # type: ignore[type-arg]
                calls["n"] += 1
                if calls["n"] <= 2:
                    raise RuntimeError("a bug in the scheduler")
                return real_tick(now_ms)

            ing.books.tick = failing_tick  # type: ignore[method-assign]
            ready = ing.supervisor.check("ingest-scheduler")
            await wait_until(lambda: "ingest-scheduler" in ing.supervisor.down(), 5, "the scheduler down")
            assert await ready() is False
            await wait_until(lambda: ing.supervisor.failures["ingest-scheduler"] == 2 and calls["n"] > 3, 10,
                             "restarted and running again")
            assert await ready() is True
            assert 'task_failures{task="ingest-scheduler"} 2.0' in metrics.render().decode()
