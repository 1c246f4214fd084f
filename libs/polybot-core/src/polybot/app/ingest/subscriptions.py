"""The ingestor's reads from the bus: where each asset's feed left off, and the gamma market feed.

**(epoch, seq) continuity.** A restarted ingestor must continue each asset's feed after the highest
``(epoch, seq)`` the last instance published, or consumers would see it go backwards and two contents under
one ``(asset_id, epoch, seq)``. The last published delta and snapshot of the asset tell where it stopped even
if the database lags behind the bus. A read that fails is not "nothing published": it raises
``PositionUnknown`` and the asset is not published until a read succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.codec import DecodeError, decode
from polybot.bus.messages import BookDelta, BookSnapshot, MarketInfo, ResyncRequest
from polybot.bus.streams import BOOK_DELTAS, BOOK_SNAPSHOTS, MARKETS

log = logging.getLogger(__name__)

_CONCURRENCY = 32


class PositionUnknown(RuntimeError):
    """Where an asset's feed left off could not be read (the bus or the database did not answer)."""


Position = tuple[int, int]  # (epoch, seq)


async def _last_position(bus: Bus, stream: str, subject: str) -> Position:
    try:
        raw = await bus.js.get_last_msg(stream, subject)
    except NotFoundError:
        return (0, 0)
    if raw.data is None:
        return (0, 0)
    try:
        msg = decode(raw.data)
    except DecodeError as exc:
        raise PositionUnknown(f"the last message on {subject} cannot be read: {exc}") from exc
    return (msg.epoch, msg.seq) if isinstance(msg, BookDelta | BookSnapshot) else (0, 0)


async def last_published_positions(bus: Bus, asset_ids: Sequence[str]) -> dict[str, Position]:
    """The highest ``(epoch, seq)`` on each asset's delta and snapshot subjects (absent: nothing published).

    Raises ``PositionUnknown`` when JetStream cannot be read."""
    sem = asyncio.Semaphore(_CONCURRENCY)

    async def one(asset_id: str) -> tuple[str, Position]:
        async with sem:
            delta = await _last_position(bus, BOOK_DELTAS.name, subjects.book_delta(asset_id))
            snap = await _last_position(bus, BOOK_SNAPSHOTS.name, subjects.book_snapshot(asset_id))
        return asset_id, max(delta, snap)

    try:
        pairs = await asyncio.gather(*(one(a) for a in asset_ids))
    except PositionUnknown:
        raise
    except Exception as exc:
        raise PositionUnknown(f"could not read the last book messages from JetStream: {exc!r}") from exc
    return {a: pos for a, pos in pairs if pos != (0, 0)}


async def subscribe_resync_requests(bus: Bus, on_request: Callable[[ResyncRequest], None]) -> Subscription:
    """Call ``on_request`` for every ``ResyncRequest`` on ``pb.ctl.resync.<asset>`` (core NATS)."""

    async def on_msg(msg: Msg) -> None:
        try:
            decoded = decode(msg.data)
        except DecodeError:
            return
        if isinstance(decoded, ResyncRequest):
            on_request(decoded)

    return await bus.nc.subscribe(subjects.CTL_RESYNC_ALL, cb=on_msg)


MarketUpdate = tuple[MarketInfo | None, int]  # (the market's info, messages still pending after it)


async def subscribe_market_infos(bus: Bus, queue: asyncio.Queue[MarketUpdate]) -> Subscription:
    """Put every market's last ``MarketInfo`` (``PB_MARKETS`` keeps one per subject), then every later one,
    into ``queue`` with the count still pending: the ingestor learns its market set from the bus, never from
    gamma-sync's tables. An undecodable message is logged and queued as ``None`` (the count still moves)."""

    async def on_msg(msg: Msg) -> None:
        pending = msg.metadata.num_pending
        try:
            decoded = decode(msg.data)
        except DecodeError:
            log.warning("undecodable gamma market message", extra={"subject": msg.subject})
            decoded = None
        queue.put_nowait((decoded if isinstance(decoded, MarketInfo) else None, pending))

    return await bus.js.subscribe(subjects.GAMMA_MARKET_ALL, cb=on_msg, ordered_consumer=True,
                                  deliver_policy=DeliverPolicy.LAST_PER_SUBJECT)


async def published_markets(bus: Bus) -> int:
    """How many markets ``PB_MARKETS`` holds (0: gamma-sync never published)."""
    info = await bus.js.stream_info(MARKETS.name)
    return int(info.state.messages)
