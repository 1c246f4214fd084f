"""Injectable market-side faults (what a resilient ingestor or markets sync must survive).

* ``drop_next_delta``: assets whose next ``price_change`` entry is withheld although the book changed.
* ``corrupt_next_hash``: assets whose next emitted hash (``price_change`` entry or ``book``) is wrong.
* ``corrupt_hashes``: assets whose every websocket hash is wrong until the set is changed (a book that
  can never verify from the stream: a client's resync must come from REST).
* ``silent_until_ms``: until then (sim clock) no market data is pushed, but ``PING`` still gets ``PONG``.
* ``hash_layout``: the layout of every hash sent from now on (``book.HASH_LAYOUTS``; F10 = today's venue):
  websocket books, ``price_change`` entries and REST ``/book``. The venue changed it four times; a client
  must notice a fifth change by itself. ``clear`` goes back to F10.
* ``gamma_cursor_stuck``: Gamma's keyset listings ignore ``after_cursor`` and serve page 1 again with the same
  ``next_cursor`` (publicly reported in April 2026): a client must notice it is going round in circles.
* dropping every socket is an action of the hub (``MarketHub.drop_all``), not a state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from polysim.book import HASH_LAYOUTS, HashLayoutName


@dataclass
class MarketFaults:
    drop_next_delta: set[str] = field(default_factory=set)
    corrupt_next_hash: set[str] = field(default_factory=set)
    corrupt_hashes: set[str] = field(default_factory=set)
    silent_until_ms: int = 0
    gamma_cursor_stuck: bool = False
    hash_layout: HashLayoutName = "F10"

    def set_hash_layout(self, name: object) -> None:
        """Switch the layout of every hash sent from now on; ValueError for an unknown name."""
        for layout in HASH_LAYOUTS:
            if name == layout:
                self.hash_layout = layout
                return
        raise ValueError(f"hash_layout must be one of {', '.join(HASH_LAYOUTS)}")

    def take_drop(self, asset_id: str) -> bool:
        """Whether to withhold this asset's delta (consumes the fault)."""
        if asset_id in self.drop_next_delta:
            self.drop_next_delta.discard(asset_id)
            return True
        return False

    def maybe_corrupt(self, asset_id: str, digest: str) -> str:
        """The hash to send: ``digest``, or a wrong one when a corruption is pending for the asset."""
        if self.corrupt_hashes and asset_id in self.corrupt_hashes:
            return hashlib.sha1(("corrupt:" + digest).encode()).hexdigest()
        if self.corrupt_next_hash and asset_id in self.corrupt_next_hash:
            self.corrupt_next_hash.discard(asset_id)
            return hashlib.sha1(("corrupt:" + digest).encode()).hexdigest()
        return digest

    def silent(self, now_ms: int) -> bool:
        return now_ms < self.silent_until_ms

    def clear(self) -> None:
        self.drop_next_delta.clear()
        self.corrupt_next_hash.clear()
        self.corrupt_hashes.clear()
        self.silent_until_ms = 0
        self.gamma_cursor_stuck = False
        self.hash_layout = "F10"
