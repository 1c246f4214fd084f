"""The matching engine's restart (docs "Matching Engine Restarts"), as a scheduled fault.

The venue restarts its matching engine weekly for about 90 s: every order-related request (placing and
cancelling) is answered HTTP 425 (Too Early). Then it runs in **post-only mode for 2 minutes**: cancels are
accepted, post-only orders too, and any other order is refused —

* ``POST /order``: HTTP 503 ``{"error": POST_ONLY_MODE, "code": "post_only_mode", "retry_after_seconds": n}``
  with the same delay in ``Retry-After``;
* ``POST /orders``: HTTP 200, each non-post-only entry answered ``{"errorMsg": POST_ONLY_MODE, "orderID": "",
  "takingAmount": "", "makingAmount": "", "status": "", "success": true}`` (the documented example, ``success``
  included), the post-only entries placed as usual.

Resting orders survive the restart. The 425 answer's body is not documented (the SDKs read only the status);
polysim sends ``{"error": "Too Early"}`` and a ``Retry-After`` of the seconds left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

POST_ONLY_MODE = "post-only mode: only post-only orders and cancels are allowed"
TOO_EARLY = "Too Early"
Phase = Literal["scheduled", "down", "post_only"]


@dataclass
class EngineRestart:
    """One scheduled restart in sim-clock milliseconds (all zero: none)."""

    starts_ms: int = 0
    down_until_ms: int = 0
    post_only_until_ms: int = 0

    def schedule(self, now_ms: int, in_s: float, down_s: float, post_only_s: float) -> None:
        if in_s < 0 or down_s < 0 or post_only_s < 0:
            raise ValueError("engine_restart: in_s, down_s and post_only_s must be >= 0")
        self.starts_ms = now_ms + round(in_s * 1000)
        self.down_until_ms = self.starts_ms + round(down_s * 1000)
        self.post_only_until_ms = self.down_until_ms + round(post_only_s * 1000)

    def clear(self) -> None:
        self.starts_ms = self.down_until_ms = self.post_only_until_ms = 0

    def phase(self, now_ms: int) -> Phase | None:
        if now_ms >= self.post_only_until_ms:
            return None
        if now_ms < self.starts_ms:
            return "scheduled"
        return "down" if now_ms < self.down_until_ms else "post_only"

    def retry_after_s(self, now_ms: int) -> int:
        """Whole seconds until the current phase ends (at least 1)."""
        end = self.down_until_ms if self.phase(now_ms) == "down" else self.post_only_until_ms
        return max(1, math.ceil((end - now_ms) / 1000))

    def view(self, now_ms: int) -> dict[str, object] | None:
        phase = self.phase(now_ms)
        if phase is None:
            return None
        return {
            "phase": phase,
            "starts_in_ms": max(0, self.starts_ms - now_ms),
            "down_for_ms": max(0, self.down_until_ms - max(now_ms, self.starts_ms)),
            "post_only_for_ms": max(0, self.post_only_until_ms - max(now_ms, self.down_until_ms)),
        }
