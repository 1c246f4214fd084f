"""The gamma-sync service: the Gamma pipeline (``polybot.app.gamma``) under the service lifecycle.

The schedule (full and incremental refreshes, their metrics and ``/status``) is ``app.gamma.schedule``;
this shell wires it to the settings, the bus, the pool and ``gamma_deprecation_notices_total`` (by endpoint
and header: the venue announcing, with ``Deprecation``/``Sunset``/``Warning``, that an endpoint we use is
going away; ``/status`` lists them under ``venue_notices``). The schedule runs supervised: a bug that
escapes it is logged, counted (``task_failures{task="gamma-schedule"}``) and restarted, and ``/readyz``
names it while it is down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from polybot.app.gamma.refresh import GammaRefresher, client_config
from polybot.app.gamma.schedule import RefreshSchedule
from polybot.runtime.lifecycle import ServiceContext
from polybot.runtime.supervise import Supervisor
from polybot.venue.gamma_client import GammaClient

SCHEDULE_TASK = "gamma-schedule"


class GammaSyncService:
    name: ClassVar[str] = "gamma-sync"
    migration_owners: ClassVar[tuple[str, ...]] = ("gamma",)

    def __init__(self) -> None:
        self.schedule: RefreshSchedule | None = None

    async def run(self, ctx: ServiceContext) -> None:
        bus, pool = ctx.require()
        gs = ctx.settings.gamma
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is thousands a refresh
        notices = ctx.metrics.counter("gamma_deprecation_notices_total",
                                      "Gamma answers announcing a deprecation (Deprecation, Sunset or Warning)",
                                      ["endpoint", "header"])

        def on_notice(endpoint: str, header: str) -> None:
            notices.inc(endpoint=endpoint, header=header)

        supervisor = Supervisor(ctx.metrics, stopping=ctx.stopping)
        ctx.extra_ready[f"task:{SCHEDULE_TASK}"] = supervisor.check(SCHEDULE_TASK)
        async with GammaClient(client_config(gs), on_notice=on_notice) as client:
            schedule = RefreshSchedule(GammaRefresher(client, pool, bus, gs), pool, gs, ctx.metrics)
            self.schedule = schedule
            task = supervisor.start(SCHEDULE_TASK, lambda: schedule.run(ctx.stopping))
            try:
                await ctx.stopping.wait()
                await asyncio.wait({task}, timeout=5)  # the schedule ends a refresh cleanly on its own
            finally:
                await supervisor.stop()

    async def status(self) -> dict[str, Any]:
        if self.schedule is None:
            return {"started": False}
        return self.schedule.status()
