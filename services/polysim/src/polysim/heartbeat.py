"""The ``/v1/heartbeats`` dead-man switch, per API key.

The first heartbeat (an empty ``heartbeat_id``) arms a timer; every accepted heartbeat re-arms it and answers
the **next** id to send (the ids form a chain). A heartbeat with another id than the expected one is refused
(400 ``{"error": "Invalid Heartbeat ID", "error_msg": "Invalid Heartbeat ID", "heartbeat_id": <expected>}``:
``error`` is the venue's documented ``HeartbeatErrorResponse``, ``error_msg`` the key the unified SDK 0.14.0
parses into ``OrderHeartbeatMismatchError``; both are sent) and does not re-arm. When the timer
runs out (10 s by default) all that key's orders are cancelled and the switch disarms: the next heartbeat,
whatever its id, starts a new chain. Timers are ``loop.call_later`` handles, so an idle simulator does no work.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from polysim.exchange_api import ExchangeApi


@dataclass
class _Armed:
    heartbeat_id: str
    handle: asyncio.TimerHandle


class HeartbeatMonitor:
    """Per-account timers that cancel all orders when heartbeats stop."""

    def __init__(
        self,
        exchange: ExchangeApi,
        timeout_s: Callable[[], float],
        now_ms: Callable[[], int],
    ) -> None:
        self._exchange = exchange
        self._timeout_s = timeout_s
        self._now_ms = now_ms
        self._armed: dict[str, _Armed] = {}
        self.fired: list[tuple[str, int, int]] = []  # (owner, at ms, orders cancelled), for inspection

    def beat(self, owner: str, heartbeat_id: str = "") -> tuple[bool, str]:
        """A heartbeat from ``owner``: (accepted, the id to send next — or, refused, the one expected)."""
        loop = asyncio.get_running_loop()
        previous = self._armed.get(owner)
        if previous is not None and heartbeat_id != previous.heartbeat_id:
            return False, previous.heartbeat_id
        if previous is not None:
            previous.handle.cancel()
        handle = loop.call_later(self._timeout_s(), self._expire, owner)
        following = str(uuid.uuid4())
        self._armed[owner] = _Armed(following, handle)
        return True, following

    def armed(self, owner: str) -> bool:
        """Whether ``owner`` has a running dead-man switch."""
        return owner in self._armed

    def _expire(self, owner: str) -> None:
        self._armed.pop(owner, None)
        now = self._now_ms()
        canceled, _ = self._exchange.cancel_all(owner, now)
        self.fired.append((owner, now, len(canceled)))

    def close(self) -> None:
        """Disarm every timer (simulator shutdown)."""
        for armed in self._armed.values():
            armed.handle.cancel()
        self._armed.clear()
