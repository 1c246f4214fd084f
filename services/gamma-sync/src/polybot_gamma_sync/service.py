"""The gamma-sync service shell."""

from __future__ import annotations

from typing import Any, ClassVar

from polybot.runtime.lifecycle import ServiceContext


class GammaSyncService:
    name: ClassVar[str] = "gamma-sync"
    migration_owners: ClassVar[tuple[str, ...]] = ("gamma",)

    def __init__(self) -> None:
        self._started = False

    async def run(self, ctx: ServiceContext) -> None:
        self._started = True
        await ctx.stopping.wait()

    async def status(self) -> dict[str, Any]:
        return {"started": self._started}
