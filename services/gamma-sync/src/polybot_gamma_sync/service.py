"""The gamma-sync service: the Gamma pipeline (``polybot.app.gamma``) under the service lifecycle.

The schedule (full and incremental refreshes, their metrics and ``/status``) is ``app.gamma.schedule``;
this shell wires it to the settings, the bus, the pool and ``gamma_deprecation_notices_total`` (by endpoint
and header: the venue announcing, with ``Deprecation``/``Sunset``/``Warning``, that an endpoint we use is
going away; ``/status`` lists them under ``venue_notices``).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from polybot.app.gamma.refresh import GammaRefresher, client_config
from polybot.app.gamma.schedule import RefreshSchedule
from polybot.runtime.lifecycle import ServiceContext
from polybot.venue.gamma_client import GammaClient


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

        async with GammaClient(client_config(gs), on_notice=on_notice) as client:
            self.schedule = RefreshSchedule(GammaRefresher(client, pool, bus, gs), pool, gs, ctx.metrics)
            await self.schedule.run(ctx.stopping)

    async def status(self) -> dict[str, Any]:
        if self.schedule is None:
            return {"started": False}
        return self.schedule.status()
