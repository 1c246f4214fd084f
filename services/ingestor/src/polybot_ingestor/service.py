"""The ingestor service shell."""

from __future__ import annotations

from typing import Any, ClassVar

from polybot.runtime.lifecycle import ServiceContext


class IngestorService:
    name: ClassVar[str] = "ingestor"
    migration_owners: ClassVar[tuple[str, ...]] = ("ingest",)

    def __init__(self) -> None:
        self._started = False

    async def run(self, ctx: ServiceContext) -> None:
        self._started = True
        await ctx.stopping.wait()

    async def status(self) -> dict[str, Any]:
        return {"started": self._started}
