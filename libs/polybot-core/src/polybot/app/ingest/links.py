"""What the ingestor needs from the bus, and a fake of it for a run without NATS.

``NatsIngestBus`` is the real one (``polybot.app.ingest.subscriptions`` holds its reads). ``MemoryIngestBus``
keeps what is published in memory, follows no markets and receives no resync requests: a benchmark of the
state machine or a test of the websocket path runs the ingestor whole without a server.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from polybot.app.ingest.subscriptions import (
    MarketUpdate,
    Position,
    last_published_positions,
    published_markets,
    subscribe_market_infos,
    subscribe_resync_requests,
)
from polybot.bus.client import Bus, Outgoing
from polybot.bus.messages import ResyncRequest


class Subscription(Protocol):
    async def unsubscribe(self) -> None: ...


class BookPublisher(Protocol):
    async def publish_batch(self, batch: Sequence[Outgoing], timeout_s: float = 5.0) -> object:
        """Publish in order; raise when any message was not stored (the outbox retries the batch)."""


class IngestBus(BookPublisher, Protocol):
    async def last_positions(self, asset_ids: Sequence[str]) -> dict[str, Position]: ...

    async def follow_resync_requests(self, on_request: Callable[[ResyncRequest], None]) -> Subscription: ...

    async def follow_markets(self, queue: asyncio.Queue[MarketUpdate]) -> Subscription: ...

    async def markets_published(self) -> int: ...


class NatsIngestBus:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def publish_batch(self, batch: Sequence[Outgoing], timeout_s: float = 5.0) -> object:
        return await self.bus.publish_batch(batch, timeout_s=timeout_s)

    async def last_positions(self, asset_ids: Sequence[str]) -> dict[str, Position]:
        return await last_published_positions(self.bus, asset_ids)

    async def follow_resync_requests(self, on_request: Callable[[ResyncRequest], None]) -> Subscription:
        return await subscribe_resync_requests(self.bus, on_request)

    async def follow_markets(self, queue: asyncio.Queue[MarketUpdate]) -> Subscription:
        return await subscribe_market_infos(self.bus, queue)

    async def markets_published(self) -> int:
        return await published_markets(self.bus)


class _NotFollowed:
    """The fake's subscriptions: nothing ever arrives on them."""

    async def unsubscribe(self) -> None:
        pass


class MemoryIngestBus:
    """``IngestBus`` in memory: the newest ``keep`` messages published, in order, and how many in all."""

    def __init__(self, keep: int = 100_000) -> None:
        self.published: deque[Outgoing] = deque(maxlen=keep)
        self.count = 0
        self.positions: dict[str, Position] = {}  # what an earlier run "published"

    async def publish_batch(self, batch: Sequence[Outgoing], timeout_s: float = 5.0) -> object:
        self.published.extend(batch)
        self.count += len(batch)
        return None

    async def last_positions(self, asset_ids: Sequence[str]) -> dict[str, Position]:
        return {a: self.positions[a] for a in asset_ids if a in self.positions}

    async def follow_resync_requests(self, on_request: Callable[[ResyncRequest], None]) -> Subscription:
        return _NotFollowed()

    async def follow_markets(self, queue: asyncio.Queue[MarketUpdate]) -> Subscription:
        return _NotFollowed()

    async def markets_published(self) -> int:
        return 0
