"""The quoter's I/O, behind two small protocols with an in-memory implementation beside each real one.

* ``PlanSink``: publishes a batch of plans (``BusPlanSink``: JetStream, ``Nats-Msg-Id`` = ``plan_id``, pipelined;
  ``MemoryPlanSink``: a list, and a switch to make it fail).
* ``BookSource``: what ``BookFeed`` offers (``view``, ``wait_changed``, ``received_ns``); ``MemoryBooks`` is
  set by hand.

``follow_inputs`` feeds the other inputs from the bus into a queue: every market's last ``MarketInfo``
(``PB_MARKETS``), every market's last ``MarketPosition`` (``PB_POSITIONS``), the last ``KillSwitch`` and every
executor's last ``RiskState`` (``PB_CONTROL``), then every later one; ``InputFollower.caught_up`` says when the
backlogs are read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import DeliverPolicy

from polybot.bus import subjects
from polybot.bus.book_feed import BookView
from polybot.bus.client import Bus, Outgoing
from polybot.bus.codec import DecodeError, decode
from polybot.bus.messages import KillSwitch, MarketInfo, MarketPosition, QuotePlan, RiskState
from polybot.bus.streams import CONTROL, MARKETS, POSITIONS

log = logging.getLogger(__name__)

Input = MarketInfo | MarketPosition | KillSwitch | RiskState


class PlanSink(Protocol):
    async def publish(self, plans: Sequence[QuotePlan]) -> None:
        """Publish ``plans`` in order; raise when any of them was not stored."""


class BookSource(Protocol):
    @property
    def received_ns(self) -> Mapping[str, int]:
        """When the oldest message of each change ``wait_changed`` last returned was received (perf ns)."""

    def view(self, asset_id: str) -> BookView | None: ...

    async def wait_changed(self, timeout_s: float | None = None) -> set[str]: ...


class BusPlanSink:
    def __init__(self, bus: Bus, timeout_s: float = 2.0) -> None:
        self.bus = bus
        self.timeout_s = timeout_s

    async def publish(self, plans: Sequence[QuotePlan]) -> None:
        await self.bus.publish_batch([Outgoing(subjects.quote_plan(p.market), p, p.plan_id) for p in plans],
                                     timeout_s=self.timeout_s)


@dataclass
class MemoryPlanSink:
    plans: list[QuotePlan] = field(default_factory=list)
    failing: bool = False

    async def publish(self, plans: Sequence[QuotePlan]) -> None:
        if self.failing:
            raise ConnectionError("plan sink is failing")
        self.plans.extend(plans)


class MemoryBooks:
    """A ``BookSource`` set by hand: ``put(view)`` changes an asset (received now)."""

    def __init__(self) -> None:
        self.views: dict[str, BookView] = {}
        self.received_ns: dict[str, int] = {}
        self._changed: dict[str, int] = {}
        self._wake = asyncio.Event()

    def put(self, view: BookView) -> None:
        self.views[view.asset_id] = view
        self._changed.setdefault(view.asset_id, time.perf_counter_ns())
        self._wake.set()

    def view(self, asset_id: str) -> BookView | None:
        return self.views.get(asset_id)

    async def wait_changed(self, timeout_s: float | None = None) -> set[str]:
        if not self._changed:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout_s)
        changed, self._changed = self._changed, {}
        self.received_ns = changed
        return set(changed)


class InputFollower:
    """Markets, positions, the kill switch and the risk states from JetStream into ``queue`` (last per subject,
    then live)."""

    _FOLLOWED = ((MARKETS.name, subjects.GAMMA_MARKET_ALL), (POSITIONS.name, subjects.POSITION_ALL),
                 (CONTROL.name, subjects.CTL_KILL), (CONTROL.name, subjects.CTL_RISK_ALL))
    _SHARED = frozenset({CONTROL.name})  # streams holding more than one followed subject

    def __init__(self, bus: Bus, queue: asyncio.Queue[Input]) -> None:
        self.bus = bus
        self.queue = queue
        self.undecodable = 0
        self._subs: list[Subscription] = []
        self._caught_up: dict[str, asyncio.Event] = {}

    async def start(self) -> None:
        for stream, subject in self._FOLLOWED:
            done = self._caught_up[subject] = asyncio.Event()
            info = await self.bus.js.stream_info(stream)
            stored = info.state.messages > 0
            if stored and stream in self._SHARED:  # count this subject's own messages, not the stream's
                stored = bool((await self.bus.js.stream_info(stream, subjects_filter=subject)).state.subjects)
            if not stored:
                done.set()  # nothing stored: nothing to wait for
            self._subs.append(await self.bus.js.subscribe(subject, cb=self._handler(done), ordered_consumer=True,
                                                          deliver_policy=DeliverPolicy.LAST_PER_SUBJECT))

    async def caught_up(self, timeout_s: float) -> None:
        """Wait until the last message of every market, position, the kill switch and every risk state has been
        queued."""
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self._caught_up.values())), timeout_s)

    async def close(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()

    def _handler(self, done: asyncio.Event) -> Callable[[Msg], Awaitable[None]]:
        async def on_msg(msg: Msg) -> None:
            try:
                decoded = decode(msg.data)
            except DecodeError:
                self.undecodable += 1
                log.warning("undecodable quoter input", extra={"subject": msg.subject})
                decoded = None
            if isinstance(decoded, MarketInfo | MarketPosition | KillSwitch | RiskState):
                self.queue.put_nowait(decoded)
            if msg.metadata.num_pending == 0:
                done.set()

        return on_msg
