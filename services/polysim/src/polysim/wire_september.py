"""The market channel as the venue spoke in September 2026 (``SimConfig.september_2026``, off by default).

Three habits of those recordings that a client's hash check must survive, each still verifiable:

* **Frames sharing a timestamp carry, per asset, the hash of the book after the last of them.** Frames are
  held until a frame of another timestamp is emitted or the engine call ends (``flush``), then each hash is
  replaced by its asset's last one. So the earlier frames of a millisecond cannot verify on their own; the
  last one does, and a client that waits for it is right. (Held frames never wait past one engine call.)
* **The ltp in the hash runs ahead of the stream.** After a trade each token's hash carries the trade price
  in its own terms (the complement ``1 − p`` for the other token: ``MarketBook.set_ltp(complement=True)``),
  the post-trade books come first and the ``last_trade_price`` follows 20–80 ms later (``later``); one trade
  in eight is never announced at all, so its price appears in no frame (a client finds it on the tick grid).
* **Post-trade books in another key order with ``", "`` separators**: event_type first, asks before bids,
  no ``tick_size`` and no ``last_trade_price`` (``book_text``). The hash is over the canonical layout as
  always; only the text differs.

Half the trades also send a ``price_change`` for the levels they consumed, before the books and sharing
their timestamp (habit one at work on a trade). Choices come from a stream seeded by ``SimConfig.seed``: the
same seed gives the same bytes however the engine is stepped.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from polysim.market_faults import MarketFaults

if TYPE_CHECKING:
    from polysim.market_wire import MarketMessage

Hashes = list[tuple[str, str]]  # (asset, digest) in the order they appear in a message's text

GHOST_TRADE_ODDS = 8  # one trade in this many is never announced
TRADE_CHANGE_ODDS = 2  # one trade in this many sends a price_change for the levels it consumed
ANNOUNCE_DELAY_MS = (20, 80)


class SeptemberWire:
    """Holds each timestamp's frames until it is over and rewrites their hashes; delays announcements."""

    def __init__(self, faults: MarketFaults, send: Callable[[MarketMessage], None], seed: int) -> None:
        self.faults = faults
        self.send = send
        self.rng = random.Random(f"polysim-2026-09:{seed}")
        self._held: list[tuple[MarketMessage, Hashes]] = []
        self._held_ts = 0
        self._later: list[tuple[int, int, MarketMessage]] = []  # (due ms, order, message)
        self._order = 0

    def emit(self, message: MarketMessage, hashes: Hashes) -> None:
        if self._held and message.ts_ms != self._held_ts:
            self.flush()
        self.release(message.ts_ms)  # announcements due by now go out before this timestamp's frames
        self._held_ts = message.ts_ms
        self._held.append((message, hashes))

    def later(self, message: MarketMessage) -> None:
        """Send ``message`` once the stream reaches its timestamp."""
        heapq.heappush(self._later, (message.ts_ms, self._order, message))
        self._order += 1

    def release(self, now_ms: int) -> None:
        while self._later and self._later[0][0] <= now_ms:
            self.send(heapq.heappop(self._later)[2])

    def flush(self) -> None:
        """Send the held frames, every hash of an asset replaced by the asset's last one of the timestamp."""
        held, self._held = self._held, []
        final = {asset: digest for _, hashes in held for asset, digest in hashes}
        for message, hashes in held:
            if hashes:  # the stream's faults apply to what is sent, in order
                _rewrite(message, [(d, self.faults.maybe_corrupt(a, final[a])) for a, d in hashes])
            self.send(message)

    def trade_choices(self) -> tuple[bool, bool, int]:
        """(send the consumed levels, announce the trade, after how many ms): three draws every trade, so
        the stream does not depend on which choices were used."""
        change = self.rng.randrange(TRADE_CHANGE_ODDS) == 0
        announce = self.rng.randrange(GHOST_TRADE_ODDS) != 0
        return change, announce, self.rng.randint(*ANNOUNCE_DELAY_MS)


def _rewrite(message: MarketMessage, pairs: list[tuple[str, str]]) -> None:
    """Replace the message's digests, in text order (a price_change: one per entry, its entries too)."""
    text = message.text
    parts: list[str] = []
    pos = 0
    for old, new in pairs:
        at = text.index(old, pos)
        parts += (text[pos:at], new)
        pos = at + len(old)
    message.text = "".join(parts) + text[pos:]
    if message.entries is not None:
        message.entries = [(a, frag.replace(old, new, 1)) for (a, frag), (old, new) in zip(message.entries, pairs,
                                                                                          strict=True)]


def _spaced(body: str) -> str:
    """A compact level array body with ``", "`` and ``": "`` (prices and sizes never contain them)."""
    return body.replace('":"', '": "').replace('","', '", "').replace("},{", "}, {")


def book_text(market: str, asset: str, ts: str, digest: str, bids: str, asks: str) -> str:
    """A post-trade ``book`` as the venue spelled it in September 2026."""
    return ('{"event_type": "book", "asset_id": "' + asset + '", "market": "' + market + '", "timestamp": "' + ts
            + '", "hash": "' + digest + '", "asks": [' + _spaced(asks) + '], "bids": [' + _spaced(bids) + "]}")


def digest_of(fragment: str) -> str:
    """The hash inside a ``price_changes[]`` entry fragment built by ``MarketWire.entry``."""
    at = fragment.index('"hash":"') + 8
    return fragment[at:at + 40]
