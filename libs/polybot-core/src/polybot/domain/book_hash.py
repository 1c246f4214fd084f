"""The venue's orderbook hash, in each layout the server has used.

The server hashes a compact JSON object (``separators=(",", ":")``, ``hash`` set to ``""``) with SHA-1.
Which keys it includes changed over time; see ``shared/design/polymarket-protocol.md`` §2:

- ``F5B``: market, asset_id, hash, bids, asks (≤ 2024-09; no timestamp)
- ``F6``: F5B + timestamp after asset_id (2024-11 … 2024-12)
- ``F9``: F6 + min_order_size, tick_size, neg_risk (≤ 2025-10)
- ``F10``: F9 + last_trade_price (≥ 2025-12; what production sends today)

Levels are hashed as ``{"price","size"}`` strings in wire order (bids ascending, asks descending), so the
caller passes them exactly as the venue orders them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class HashLayout(StrEnum):
    F5B = "F5b"
    F6 = "F6"
    F9 = "F9"
    F10 = "F10"


ALL_LAYOUTS: tuple[HashLayout, ...] = (HashLayout.F10, HashLayout.F9, HashLayout.F6, HashLayout.F5B)


@dataclass(frozen=True, slots=True)
class HashInput:
    """Everything the venue feeds its hash, as the exact strings it serializes."""

    market: str
    asset_id: str
    timestamp: str
    bids: Sequence[tuple[str, str]]
    asks: Sequence[tuple[str, str]]
    min_order_size: str = ""
    tick_size: str = ""
    neg_risk: bool = False
    last_trade_price: str = ""


def _levels(levels: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"price": p, "size": s} for p, s in levels]


def canonical_payload(inp: HashInput, layout: HashLayout = HashLayout.F10) -> str:
    """Return the exact string the venue hashes for ``layout``."""
    obj: dict[str, object] = {"market": inp.market, "asset_id": inp.asset_id}
    if layout is not HashLayout.F5B:
        obj["timestamp"] = inp.timestamp
    obj["hash"] = ""
    obj["bids"] = _levels(inp.bids)
    obj["asks"] = _levels(inp.asks)
    if layout in (HashLayout.F9, HashLayout.F10):
        obj["min_order_size"] = inp.min_order_size
        obj["tick_size"] = inp.tick_size
        obj["neg_risk"] = inp.neg_risk
    if layout is HashLayout.F10:
        obj["last_trade_price"] = inp.last_trade_price
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def book_hash(inp: HashInput, layout: HashLayout = HashLayout.F10) -> str:
    """Return the venue's SHA-1 hex digest of the book for ``layout``."""
    return hashlib.sha1(canonical_payload(inp, layout).encode("utf-8")).hexdigest()
