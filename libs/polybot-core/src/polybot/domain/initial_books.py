"""Which subscribed books never came from the websocket in time: a pure watch over times passed in.

The venue is meant to send every subscribed asset's ``book`` right after the subscription, but at scale some
never arrive (reported in 2026 even with ``initial_dump: true``); the ingestor then fetches those from REST.
"""

from __future__ import annotations

from collections.abc import Callable


class InitialBookWatch:
    """Assets waiting for their first book, since when; ``due`` names those waiting ``timeout_ms`` or more."""

    __slots__ = ("_since", "timeout_ms")

    def __init__(self, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self._since: dict[str, int] = {}

    def watch(self, asset_id: str, now_ms: int) -> None:
        """Start waiting for ``asset_id`` (a later call keeps the first time)."""
        self._since.setdefault(asset_id, now_ms)

    def forget(self, asset_id: str) -> None:
        self._since.pop(asset_id, None)

    def due(self, now_ms: int, still_waiting: Callable[[str], bool]) -> list[str]:
        """Assets to fetch now; they, and those no longer waiting (``still_waiting`` false), leave the watch."""
        out = []
        for asset_id, since in list(self._since.items()):
            if not still_waiting(asset_id):
                del self._since[asset_id]
            elif now_ms - since >= self.timeout_ms:
                del self._since[asset_id]
                out.append(asset_id)
        return out

    def __len__(self) -> int:
        return len(self._since)

    def __contains__(self, asset_id: object) -> bool:
        return asset_id in self._since
