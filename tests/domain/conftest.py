"""A tiny independent "venue" for book tests: dict-based book, reference hash (``book_hash``), wire frames.

It shares nothing with ``polybot.domain.book`` except the reference hash function, so a test that rebuilds
its books through the parser and the state machine checks our code against a second implementation.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from polybot.domain.book_hash import HashInput, HashLayout, book_hash


class VenueSim:
    """One market of two tokens; emits wire JSON frames with F10 (or another layout's) hashes."""

    def __init__(self, market: str = "0x" + "ab" * 32, assets: tuple[str, ...] = ("111", "222"), *,
                 layout: HashLayout = HashLayout.F10, tick: str = "0.01", min_size: str = "5",
                 neg_risk: bool = False, ts: int = 1_700_000_000_000, ltp: str = "") -> None:
        self.market = market
        self.assets = assets
        self.layout = layout
        self.tick, self.min_size, self.neg_risk = tick, min_size, neg_risk
        self.ts = ts
        self.ltp = ltp
        self.books: dict[str, dict[str, dict[str, str]]] = {a: {"BUY": {}, "SELL": {}} for a in assets}

    # --- the venue's book -------------------------------------------------------------------------------
    def wire(self, asset: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        bids = sorted(self.books[asset]["BUY"].items(), key=lambda kv: Decimal(kv[0]))
        asks = sorted(self.books[asset]["SELL"].items(), key=lambda kv: Decimal(kv[0]), reverse=True)
        return bids, asks

    def hash(self, asset: str, ltp: str | None = None) -> str:
        bids, asks = self.wire(asset)
        inp = HashInput(self.market, asset, str(self.ts), bids, asks, self.min_size, self.tick, self.neg_risk,
                        self.ltp if ltp is None else ltp)
        return book_hash(inp, self.layout)

    def best(self, asset: str) -> tuple[str | None, str | None]:
        bids, asks = self.wire(asset)
        return (bids[-1][0] if bids else None), (asks[-1][0] if asks else None)

    def sizes(self, asset: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        side = self.books[asset]
        return ({Decimal(p): Decimal(s) for p, s in side["BUY"].items()},
                {Decimal(p): Decimal(s) for p, s in side["SELL"].items()})

    # --- frames -----------------------------------------------------------------------------------------
    def book_msg(self, asset: str, *, rest: bool = False, with_ltp: bool = True) -> dict[str, Any]:
        bids, asks = self.wire(asset)
        msg: dict[str, Any] = {
            "market": self.market, "asset_id": asset, "timestamp": str(self.ts), "hash": self.hash(asset),
            "bids": [{"price": p, "size": s} for p, s in bids], "asks": [{"price": p, "size": s} for p, s in asks],
        }
        if rest:
            msg.update(min_order_size=self.min_size, tick_size=self.tick, neg_risk=self.neg_risk,
                       last_trade_price=self.ltp)
        else:
            msg["event_type"] = "book"
            if with_ltp:
                msg["last_trade_price"] = self.ltp
        return msg

    def set_level(self, asset: str, side: str, price: str, size: str) -> dict[str, Any]:
        """Change one level (absolute size) and return its v2 ``price_changes`` entry."""
        levels = self.books[asset][side]
        for key in [k for k in levels if Decimal(k) == Decimal(price)]:
            del levels[key]
        if Decimal(size) != 0:
            levels[price] = size
        bb, ba = self.best(asset)
        return {"asset_id": asset, "price": price, "size": size, "side": side, "hash": self.hash(asset),
                "best_bid": bb or "0", "best_ask": ba or "0"}

    def price_change(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        return {"market": self.market, "price_changes": entries, "timestamp": str(self.ts),
                "event_type": "price_change"}

    def last_trade(self, asset: str, price: str) -> dict[str, Any]:
        return {"event_type": "last_trade_price", "market": self.market, "asset_id": asset, "price": price,
                "side": "BUY", "size": "1", "fee_rate_bps": "0", "timestamp": str(self.ts)}

    def tick_change(self, asset: str, new: str) -> dict[str, Any]:
        old, self.tick = self.tick, new
        return {"event_type": "tick_size_change", "market": self.market, "asset_id": asset,
                "old_tick_size": old, "new_tick_size": new, "timestamp": str(self.ts)}


def frame(*msgs: dict[str, Any]) -> str:
    """Wire text of one frame: a single object, or an array for several."""
    return json.dumps(msgs[0] if len(msgs) == 1 else list(msgs), separators=(",", ":"))


@pytest.fixture(scope="session")
def venue_cls() -> type[VenueSim]:
    return VenueSim


@pytest.fixture(scope="session")
def to_frame() -> Any:
    return frame
