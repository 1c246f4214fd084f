"""Market-channel throughput of polysim, measured by a real websocket client.

Starts ``python -m polysim`` as its own process (server and client get their own core), subscribes one
connection to 100 tokens (50 markets) and counts the events received per second. Every event is parsed; with
``--verify`` every ``book``/``price_change`` hash is also checked against an F10 hash computed here.

    uv run python bench/sim.py [--seconds 10] [--lp-rate 40] [--taker-rate 8] [--verify]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import websockets

from polysim.harness import SimProcess


class Verifier:
    """Applies deltas and checks hashes (F10, written out here, independent of polysim)."""

    def __init__(self, meta: dict[str, tuple[str, bool]]) -> None:
        self.meta = meta
        self.books: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
        self.market: dict[str, str] = {}
        self.tick: dict[str, str] = {}
        self.ltp: dict[str, str] = {}
        self.ok = 0
        self.bad = 0

    def _hash(self, asset: str, ts: str) -> str:
        bids, asks = self.books[asset]
        size, neg = self.meta[asset]
        m = self.market[asset]
        payload = {"market": m, "asset_id": asset, "timestamp": ts, "hash": "",
                   "bids": [{"price": p, "size": bids[p]} for p in sorted(bids, key=Decimal)],
                   "asks": [{"price": p, "size": asks[p]} for p in sorted(asks, key=Decimal, reverse=True)],
                   "min_order_size": size, "tick_size": self.tick[asset], "neg_risk": neg,
                   "last_trade_price": self.ltp.get(m, "")}
        return hashlib.sha1(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()

    def check(self, asset: str, ts: str, sent: str) -> None:
        if self._hash(asset, ts) == sent:
            self.ok += 1
        else:
            self.bad += 1

    def on(self, e: dict[str, Any]) -> None:
        kind = e["event_type"]
        if kind == "book":
            a = e["asset_id"]
            self.market[a] = e["market"]
            self.books[a] = ({lv["price"]: lv["size"] for lv in e["bids"]},
                             {lv["price"]: lv["size"] for lv in e["asks"]})
            self.tick[a] = e.get("tick_size", self.tick.get(a, ""))
            if "last_trade_price" in e:
                self.ltp[e["market"]] = e["last_trade_price"]
            self.check(a, e["timestamp"], e["hash"])
        elif kind == "price_change":
            for c in e["price_changes"]:
                a = c["asset_id"]
                side = self.books[a][0 if c["side"] == "BUY" else 1]
                if Decimal(c["size"]) == 0:
                    side.pop(c["price"], None)
                else:
                    side[c["price"]] = c["size"]
                self.check(a, e["timestamp"], c["hash"])
        elif kind == "last_trade_price":
            d = Decimal(e["price"])
            q = d.quantize(Decimal("0.001"))
            self.ltp[e["market"]] = str(q) if q == d else str(d)
        elif kind == "tick_size_change":
            self.tick[e["asset_id"]] = e["new_tick_size"]


async def measure(url: str, seconds: float, verify: bool, custom: bool) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        markets = (await http.get(url + "/markets")).json()["data"][:50]
        tokens = [t["token_id"] for m in markets for t in m["tokens"]]
        meta = {}
        if verify:
            for t in tokens:
                b = (await http.get(url + "/book", params={"token_id": t})).json()
                meta[t] = (b["min_order_size"], b["neg_risk"])
        state = (await http.get(url + "/_sim/state")).json()
        sent_before, cpu_before = state["market_messages_sent"], state["process_cpu_s"]
    verifier = Verifier(meta) if verify else None
    counts: dict[str, int] = {}
    frames = 0
    async with websockets.connect(url.replace("http", "ws", 1) + "/ws/market", max_size=None) as ws:
        await ws.send(json.dumps({"assets_ids": tokens, "type": "market", "custom_feature_enabled": custom}))
        first = json.loads(await ws.recv())
        if verifier:
            for e in first:
                verifier.on(e)
        loop = asyncio.get_running_loop()
        start = loop.time()
        end = start + seconds
        cpu0 = time.process_time()
        while (left := end - loop.time()) > 0:
            try:
                text = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                break
            frames += 1
            data = json.loads(text)
            for e in data if isinstance(data, list) else [data]:
                kind = e["event_type"]
                counts[kind] = counts.get(kind, 0) + 1
                if verifier:
                    verifier.on(e)
        elapsed = loop.time() - start
        client_cpu = time.process_time() - cpu0
    async with httpx.AsyncClient() as http:
        state = (await http.get(url + "/_sim/state")).json()
        sent_after, cpu_after = state["market_messages_sent"], state["process_cpu_s"]
    total = sum(counts.values())
    return {
        "tokens": len(tokens), "seconds": round(elapsed, 2), "events": total, "frames": frames,
        "events_per_s": round(total / elapsed), "by_type": counts,
        "server_sent_per_s": round((sent_after - sent_before) / elapsed),
        "client_cpu_pct": round(100 * client_cpu / elapsed),
        "server_cpu_pct": round(100 * (cpu_after - cpu_before) / elapsed),
        **({"hashes_ok": verifier.ok, "hashes_bad": verifier.bad} if verifier else {}),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--lp-rate", type=float, default=40.0, help="liquidity updates per market per second")
    ap.add_argument("--taker-rate", type=float, default=8.0, help="taker orders per market per second")
    ap.add_argument("--verify", action="store_true", help="also check every hash (costs client CPU)")
    ap.add_argument("--custom", action="store_true", help="custom_feature_enabled (adds best_bid_ask)")
    ap.add_argument("--batch", type=int, default=1, help="polysim --ws-batch-max (1 = one event per frame)")
    args = ap.parse_args()
    sim_args = ["--seed", "1", "--markets", "50", "--active-books", "50", "--lp-rate", str(args.lp_rate),
                "--taker-rate", str(args.taker_rate), "--no-rate-limits", "--ws-batch-max", str(args.batch)]
    with SimProcess(sim_args) as proc:
        result = asyncio.run(measure(proc.url, args.seconds, args.verify, args.custom))
    print(json.dumps(result, indent=2))
    print(f"market-channel events/s across {result['tokens']} tokens: {result['events_per_s']}")


if __name__ == "__main__":
    main()
