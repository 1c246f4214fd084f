"""Wall-clock time for the service shells (the pure domain takes time as an argument instead)."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Milliseconds since the epoch, the unit of every venue and bus timestamp."""
    return time.time_ns() // 1_000_000
