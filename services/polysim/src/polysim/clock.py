"""The simulator's clock: milliseconds that start at ``start_ms`` and advance with real time.

The engine never reads the clock itself; the shells (REST handlers, the driver task) pass ``now_ms`` in, so a
test can drive the engine with any time it likes.
"""

from __future__ import annotations

import time


class SimClock:
    """Wall-clock-paced sim time; ``start_ms`` None starts at the current wall time."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._origin_ms = time.time_ns() // 1_000_000 if start_ms is None else int(start_ms)
        self._origin_mono_ns = time.monotonic_ns()
        self._last_ms = self._origin_ms

    def now_ms(self) -> int:
        """Current sim time in ms, never going backwards."""
        now = self._origin_ms + (time.monotonic_ns() - self._origin_mono_ns) // 1_000_000
        if now < self._last_ms:
            now = self._last_ms
        self._last_ms = now
        return now

    def __call__(self) -> int:
        return self.now_ms()

    @property
    def start_ms(self) -> int:
        """Sim time at construction."""
        return self._origin_ms
