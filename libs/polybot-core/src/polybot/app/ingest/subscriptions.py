"""The ingestor's reads from the bus: where each asset's seq left off, and the gamma market feed.

**seq continuity.** A restarted ingestor must continue each asset's ``seq`` where the last instance
stopped, or consumers would see seq go backwards (JetStream would store the repeats: the ``Nats-Msg-Id``,
``<asset>:<seq>:<run>``, de-duplicates retries within one run only). The last published delta and
snapshot of the asset tell where it stopped even if the database lags behind the bus.
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
from polybot.bus.streams import BOOK_DELTAS, BOOK_SNAPSHOTS

log = logging.getLogger(__name__)

_CONCURRENCY = 32


async def _last_seq(bus: Bus, stream: str, subject: str) -> int:
    try:
        raw = await bus.js.get_last_msg(stream, subject)
    except NotFoundError:
        return 0
    if raw.data is None:
        return 0
    try:
        msg = decode(raw.data)
    except DecodeError:
        return 0
    return msg.seq if isinstance(msg, BookDelta | BookSnapshot) else 0


async def last_published_seqs(bus: Bus, asset_ids: Sequence[str]) -> dict[str, int]:
    """The highest ``seq`` found on each asset's delta and snapshot subjects (absent: not published yet)."""
    sem = asyncio.Semaphore(_CONCURRENCY)

    async def one(asset_id: str) -> tuple[str, int]:
        async with sem:
            delta = await _last_seq(bus, BOOK_DELTAS.name, subjects.book_delta(asset_id))
            snap = await _last_seq(bus, BOOK_SNAPSHOTS.name, subjects.book_snapshot(asset_id))
        return asset_id, max(delta, snap)

    try:
        pairs = await asyncio.gather(*(one(a) for a in asset_ids))
    except Exception as exc:  # a bus hiccup must not block start; the database value is used instead
        log.warning("could not read last seqs from JetStream", extra={"error": repr(exc)})
        return {}
    return {a: seq for a, seq in pairs if seq}


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


async def subscribe_market_infos(bus: Bus, queue: asyncio.Queue[MarketInfo]) -> Subscription:
    """Put every new ``MarketInfo`` published from now on into ``queue`` (an ordered, ephemeral consumer)."""

    async def on_msg(msg: Msg) -> None:
        try:
            decoded = decode(msg.data)
        except DecodeError:
            log.warning("undecodable gamma market message", extra={"subject": msg.subject})
            return
        if isinstance(decoded, MarketInfo):
            queue.put_nowait(decoded)

    return await bus.js.subscribe(subjects.GAMMA_MARKET_ALL, cb=on_msg, ordered_consumer=True,
                                  deliver_policy=DeliverPolicy.NEW)
