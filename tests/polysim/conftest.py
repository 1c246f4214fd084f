"""Shared polysim fixtures: an in-process simulator per test (fast to start, seeded), and ``BookMirror``, a
market-channel client model with its own F10 hash (independent of polysim and of polybot.domain)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from polysim.harness import RunningSim, running_sim


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    """A small seeded simulator (6 markets) serving on 127.0.0.1."""
    async with running_sim(seed=1, n_markets=6) as s:
        yield s


def f10_hash(market: str, asset_id: str, timestamp: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]],
             min_order_size: str, tick_size: str, neg_risk: bool, last_trade_price: str) -> str:
    """The venue's F10 book hash, written from the protocol note (sha1 of compact JSON, fixed key order)."""
    payload = {
        "market": market, "asset_id": asset_id, "timestamp": timestamp, "hash": "",
        "bids": [{"price": p, "size": s} for p, s in bids],
        "asks": [{"price": p, "size": s} for p, s in asks],
        "min_order_size": min_order_size, "tick_size": tick_size, "neg_risk": neg_risk,
        "last_trade_price": last_trade_price,
    }
    return hashlib.sha1(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def ltp_3dp(price: str) -> str:
    """A trade price as the hash carries it: at least three decimals."""
    d = Decimal(price)
    return str(d.quantize(Decimal("0.001"))) if d == d.quantize(Decimal("0.001")) else str(d)


class BookMirror:
    """What a careful market-channel client keeps: books per asset, tick sizes, the market's last trade price;
    it checks every hash it is sent. ``meta`` gives (min_order_size, neg_risk) per asset (from REST /book)."""

    def __init__(self, meta: dict[str, tuple[str, bool]]) -> None:
        self.meta = meta
        self.bids: dict[str, dict[str, str]] = {}
        self.asks: dict[str, dict[str, str]] = {}
        self.market_of: dict[str, str] = {}
        self.tick: dict[str, str] = {}
        self.ltp: dict[str, str] = {}  # per market
        self.last_hash: dict[str, str] = {}
        self.checked = 0
        self.mismatches: list[tuple[str, str, str]] = []  # (event_type, asset, detail)
        self.counts: dict[str, int] = {}

    def wire_levels(self, asset: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        bids = sorted(self.bids[asset].items(), key=lambda kv: Decimal(kv[0]))
        asks = sorted(self.asks[asset].items(), key=lambda kv: Decimal(kv[0]), reverse=True)
        return bids, asks

    def expected_hash(self, asset: str, timestamp: str) -> str:
        bids, asks = self.wire_levels(asset)
        min_size, neg_risk = self.meta[asset]
        market = self.market_of[asset]
        return f10_hash(market, asset, timestamp, bids, asks, min_size, self.tick[asset], neg_risk,
                        self.ltp.get(market, ""))

    def _check(self, kind: str, asset: str, timestamp: str, sent: str) -> None:
        self.checked += 1
        self.last_hash[asset] = sent
        expected = self.expected_hash(asset, timestamp)
        if expected != sent:
            self.mismatches.append((kind, asset, f"sent {sent} expected {expected} at {timestamp}"))

    def feed(self, text: str) -> None:
        if text == "PONG":
            return
        data = json.loads(text)
        for event in data if isinstance(data, list) else [data]:
            self.on_event(event)

    def on_event(self, e: dict[str, Any]) -> None:
        kind = e["event_type"]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if kind == "book":
            asset = e["asset_id"]
            self.market_of[asset] = e["market"]
            self.bids[asset] = {lv["price"]: lv["size"] for lv in e["bids"]}
            self.asks[asset] = {lv["price"]: lv["size"] for lv in e["asks"]}
            if "tick_size" in e:
                self.tick[asset] = e["tick_size"]
            if "last_trade_price" in e:
                self.ltp[e["market"]] = e["last_trade_price"]
            self._check("book", asset, e["timestamp"], e["hash"])
        elif kind == "price_change":
            for c in e["price_changes"]:
                asset = c["asset_id"]
                side = self.bids[asset] if c["side"] == "BUY" else self.asks[asset]
                if Decimal(c["size"]) == 0:
                    side.pop(c["price"], None)
                else:
                    side[c["price"]] = c["size"]
                self._check("price_change", asset, e["timestamp"], c["hash"])
                bids, asks = self.wire_levels(asset)
                best_bid = bids[-1][0] if bids else "0"
                best_ask = asks[-1][0] if asks else "1"
                if (c["best_bid"], c["best_ask"]) != (best_bid, best_ask):
                    self.mismatches.append(("best", asset, f"{c['best_bid']}/{c['best_ask']} vs {best_bid}/{best_ask}"))
        elif kind == "last_trade_price":
            self.ltp[e["market"]] = ltp_3dp(e["price"])
        elif kind == "tick_size_change":
            self.tick[e["asset_id"]] = e["new_tick_size"]


@pytest.fixture
def book_mirror() -> type[BookMirror]:
    """The ``BookMirror`` class (a client model with an independent F10 implementation)."""
    return BookMirror


# ---- trading side (H1b): SDK clients against a running simulator ------------------------------------------


class SdkTrader:
    """A fresh wallet with API credentials and a real SDK client (v2 by default, 0.34.6 with ``v1=True``).

    ``await trader("method", *args)`` calls the synchronous SDK method in a thread.
    """

    def __init__(self, client: Any, creds: Any, address: str, key: str) -> None:
        self.client = client
        self.creds = creds
        self.address = address
        self.key = key

    @property
    def api_key(self) -> str:
        return str(self.creds.api_key)

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        import asyncio

        return await asyncio.to_thread(getattr(self.client, method), *args, **kwargs)


@pytest.fixture
def new_trader() -> Any:
    """``await new_trader(sim, v1=False)`` → an authenticated ``SdkTrader`` (throwaway eth_account wallet)."""
    import asyncio

    from eth_account import Account

    async def make(sim: RunningSim, v1: bool = False) -> SdkTrader:
        wallet = Account.create()
        key = wallet.key.hex()
        if v1:
            from py_clob_client.client import ClobClient as ClobClientV1

            client: Any = ClobClientV1(sim.url, key=key, chain_id=137)
            creds = await asyncio.to_thread(client.create_or_derive_api_creds)
        else:
            from py_clob_client_v2.client import ClobClient

            client = ClobClient(sim.url, 137, key=key)
            creds = await asyncio.to_thread(client.create_or_derive_api_key)
        client.set_api_creds(creds)
        return SdkTrader(client, creds, wallet.address, key)

    return make
