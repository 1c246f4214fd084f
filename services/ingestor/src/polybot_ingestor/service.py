"""The ingestor service: the shared ingestion pipeline (``polybot.app.ingest``) under the service lifecycle.

``/status`` shows every book (state, last_seq, freshness, resync counts) grouped by market, the websocket
connections and the counters; ``/readyz`` adds ``market_ws`` (every websocket connection up).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from polybot.app.ingest.pipeline import OrderbookIngestor
from polybot.runtime.lifecycle import ServiceContext

SUPERVISED = ("ingest-publisher", "ingest-persister", "ingest-scheduler", "ingest-gamma")


class IngestorService:
    name: ClassVar[str] = "ingestor"
    migration_owners: ClassVar[tuple[str, ...]] = ("ingest",)

    def __init__(self) -> None:
        self.ingestor: OrderbookIngestor | None = None

    async def run(self, ctx: ServiceContext) -> None:
        bus, pool = ctx.require()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # resync fetches would log one line each
        ingestor = OrderbookIngestor.on_nats(ctx.settings.ingestor, ctx.metrics, bus, pool)
        self.ingestor = ingestor

        async def market_ws() -> bool:
            return ingestor.connected()

        ctx.extra_ready["market_ws"] = market_ws
        for task in SUPERVISED:  # /readyz is 503 and names the task while a supervised one is down
            ctx.extra_ready[f"task:{task}"] = ingestor.supervisor.check(task)
        await ingestor.run(ctx.stopping)

    async def status(self) -> dict[str, Any]:
        if self.ingestor is None:
            return {"started": False}
        return {"started": True, **self.ingestor.status()}
