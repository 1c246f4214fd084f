"""The quoter service shell (its trading logic arrives with its own issue)."""

from __future__ import annotations

from typing import Any, ClassVar

from polybot.runtime.lifecycle import ServiceContext


class QuoterService:
    name: ClassVar[str] = "quoter"
    migration_owners: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._started = False

    async def run(self, ctx: ServiceContext) -> None:
        self._started = True
        await ctx.stopping.wait()

    async def status(self) -> dict[str, Any]:
        return {"started": self._started}
