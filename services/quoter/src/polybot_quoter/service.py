"""The quoter service: the quoting pipeline (``polybot.app.quote``) under the service lifecycle.

It reads the books (``BookFeed``), the markets (``PB_MARKETS``), our positions (``PB_POSITIONS``) and the kill
switch (``PB_CONTROL``), and publishes targets on ``pb.quote.plan.<condition_id>``. Its three loops run
supervised: ``/readyz`` names ``task:<name>`` while one is down, and says ``inputs_loaded`` once the
markets, positions and kill switch on the bus were read. ``/status`` shows every quoted market: its state,
last plan, last reason and reward score. Bad ``[quoter]`` settings refuse the start (one line, exit 2).
"""

from __future__ import annotations

from typing import Any, ClassVar

from polybot.app.quote.pipeline import TASKS, Quoter, quoter_on_bus
from polybot.runtime.lifecycle import ServiceContext


class QuoterService:
    name: ClassVar[str] = "quoter"
    migration_owners: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.quoter: Quoter | None = None

    async def run(self, ctx: ServiceContext) -> None:
        bus, _ = ctx.require()  # the quoter keeps no tables: NATS is all it talks to

        async def inputs_loaded() -> bool:
            return self.quoter is not None

        ctx.extra_ready["inputs_loaded"] = inputs_loaded
        async with quoter_on_bus(bus, ctx.settings.quoter, ctx.metrics) as (quoter, inputs):
            self.quoter = quoter
            for task in TASKS:
                ctx.extra_ready[f"task:{task}"] = quoter.supervisor.check(task)
            await quoter.run(inputs, ctx.stopping)

    async def status(self) -> dict[str, Any]:
        if self.quoter is None:
            return {"started": False}
        return {"started": True, **self.quoter.status()}
