"""What a NATS connection's trouble looks like in the logs: one line per kind of error per half minute.

nats-py's own default logs every failed connect attempt as an ERROR with a traceback: with NATS down, twice
a second for as long as the outage lasts, which buries everything else an operator would look for. The
connection's callbacks come here instead: the first error of a kind is a warning, the same error again within
``quiet_s`` is only counted, and the count is reported with the next line of that kind (or on reconnect).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class RepeatGate:
    """Lets the first of each key through, then at most one per ``quiet_s``; counts what it held back."""

    quiet_s: float = 30.0
    _last: dict[str, float] = field(default_factory=dict)
    _held: dict[str, int] = field(default_factory=dict)

    def admit(self, key: str, now_s: float) -> int | None:
        """None to stay quiet; else how many of ``key`` were held back since the last one let through."""
        last = self._last.get(key)
        if last is not None and now_s - last < self.quiet_s:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now_s
        return self._held.pop(key, 0)

    def drain(self) -> int:
        """Everything held back so far (forgotten): the connection is back."""
        held = sum(self._held.values())
        self._held.clear()
        self._last.clear()
        return held


class ConnectionLog:
    """nats-py's ``error_cb``, ``disconnected_cb`` and ``reconnected_cb`` for the connection ``name``."""

    def __init__(self, name: str, *, quiet_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._gate = RepeatGate(quiet_s)
        self._clock = clock

    async def error(self, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}"[:300]
        held = self._gate.admit(text, self._clock())
        if held is not None:
            log.warning("NATS connection error", extra={"connection": self.name, "error": text,
                                                         "repeats_held_back": held})

    async def disconnected(self) -> None:
        log.warning("NATS disconnected; reconnecting", extra={"connection": self.name})

    async def reconnected(self) -> None:
        log.info("NATS reconnected", extra={"connection": self.name, "errors_held_back": self._gate.drain()})
