"""Micro-benchmark of the ingestor's pure hot path: decode a ``price_change`` and apply + verify it.

    uv run python bench/parse_apply.py [--frames 20000] [--levels 50]

Builds a two-sided book of ``--levels`` levels per side (like the 2025-12 recording), then a stream of v2
``price_change`` frames, each with the venue's F10 hash (computed with the reference ``book_hash``), and
times, per frame (best of 3 runs):

- decode: ``PriceChangeV2.model_validate_json`` (the schema alone), the tagged union, and
  ``decode_market_frame`` (the parser's fast path);
- parse: ``parse_market_frame`` (decode + mapping to a domain ``VenueDelta``);
- apply: ``BookSync.handle`` with hash verification off, and with it on (apply + F10 hash check);
- total: parse + ``MarketBooks.feed`` with verification, what the ingestor does per frame before publishing.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from decimal import Decimal

from polybot.domain.book_events import VenueDelta
from polybot.domain.book_hash import HashInput, book_hash
from polybot.domain.book_sync import BookSync, SyncConfig
from polybot.domain.market_books import MarketBooks
from polybot.venue.market_parse import decode_market_frame, parse_market_frame
from polybot.venue.schemas import MARKET_MESSAGE, PriceChangeV2

MARKET = "0x0936baff284871821b1ab5c64d33d67f117392dba34d461fe04360df893dfde4"
ASSET = "25245433628208476987364023432306599125597948324625578977436890641930158259698"
LTP = "0.500"


def _wire(bids: dict[str, str], asks: dict[str, str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    return (sorted(bids.items(), key=lambda kv: Decimal(kv[0])),
            sorted(asks.items(), key=lambda kv: Decimal(kv[0]), reverse=True))


def build_stream(n_frames: int, levels: int, seed: int = 7) -> tuple[str, list[str]]:
    """The initial book frame and ``n_frames`` price_change frames with correct F10 hashes."""
    rng = random.Random(seed)
    bids = {f"{Decimal(i) / 100}": f"{rng.randint(5, 5000)}.{rng.randint(0, 99)}" for i in range(1, levels + 1)}
    asks = {f"{Decimal(i) / 100}": f"{rng.randint(5, 5000)}.{rng.randint(0, 99)}" for i in range(100 - levels, 100)}
    ts = 1_766_481_546_487

    def digest(timestamp: int) -> str:
        wb, wa = _wire(bids, asks)
        return book_hash(HashInput(MARKET, ASSET, str(timestamp), wb, wa, "5", "0.01", False, LTP))

    wb, wa = _wire(bids, asks)
    book = {"market": MARKET, "asset_id": ASSET, "timestamp": str(ts), "hash": digest(ts),
            "bids": [{"price": p, "size": s} for p, s in wb], "asks": [{"price": p, "size": s} for p, s in wa],
            "event_type": "book", "last_trade_price": LTP}
    frames = []
    for _ in range(n_frames):
        ts += rng.randint(1, 50)
        side = rng.choice(("BUY", "SELL"))
        levels_of = bids if side == "BUY" else asks
        price = rng.choice(list(levels_of))
        size = "0" if rng.random() < 0.1 and len(levels_of) > 5 else f"{rng.randint(5, 5000)}.{rng.randint(0, 99)}"
        if size == "0":
            del levels_of[price]
        else:
            levels_of[price] = size
        wb, wa = _wire(bids, asks)
        entry = {"asset_id": ASSET, "price": price, "size": size, "side": side, "hash": digest(ts),
                 "best_bid": wb[-1][0], "best_ask": wa[-1][0]}
        frames.append(json.dumps({"market": MARKET, "price_changes": [entry], "timestamp": str(ts),
                                  "event_type": "price_change"}, separators=(",", ":")))
    return json.dumps([book], separators=(",", ":")), frames


def per_item_us(fn: Callable[[], int], runs: int = 3) -> float:
    """Best-of-``runs`` µs per item; ``fn`` processes all items and returns how many."""
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        count = fn()
        best = min(best, (time.perf_counter_ns() - t0) / 1000 / count)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=20_000)
    ap.add_argument("--levels", type=int, default=50, help="levels per side")
    args = ap.parse_args()
    book_frame, frames = build_stream(args.frames, args.levels)
    raw = [f.encode() for f in frames]
    deltas = [e for f in frames for e in parse_market_frame(f).events]
    assert all(isinstance(d, VenueDelta) for d in deltas)

    def decode_schema() -> int:
        for b in raw:
            PriceChangeV2.model_validate_json(b)
        return len(raw)

    def decode_union() -> int:
        for b in raw:
            MARKET_MESSAGE.validate_json(b)
        return len(raw)

    def decode_parser() -> int:
        for b in raw:
            decode_market_frame(b)
        return len(raw)

    def parse() -> int:
        for b in raw:
            parse_market_frame(b, 1)
        return len(raw)

    def apply(verify: bool) -> Callable[[], int]:
        def run() -> int:
            sync = BookSync(ASSET, MARKET, config=SyncConfig(verify_hashes=verify))
            sync.handle(parse_market_frame(book_frame).events[0], 0)  # type: ignore[arg-type]
            for d in deltas:
                sync.handle(d, 1)  # type: ignore[arg-type]
            if verify:
                assert sync.state == "live" and not sync.verifier.pending, "a hash did not verify"
            return len(deltas)
        return run

    def total() -> int:
        books = MarketBooks()
        books.add_asset(ASSET, MARKET)
        for ev in parse_market_frame(book_frame).events:
            books.feed(ev, 0)
        for b in raw:
            for ev in parse_market_frame(b, 1).events:
                books.feed(ev, 1)
        sync = books.get(ASSET)
        assert sync is not None and sync.state == "live"
        return len(raw)

    rows = [
        ("decode PriceChangeV2.model_validate_json", per_item_us(decode_schema)),
        ("decode MARKET_MESSAGE (tagged union)", per_item_us(decode_union)),
        ("decode decode_market_frame (parser)", per_item_us(decode_parser)),
        ("parse_market_frame (decode + domain event)", per_item_us(parse)),
        ("apply BookSync.handle, no hash", per_item_us(apply(False))),
        ("apply + F10 hash verify BookSync.handle", per_item_us(apply(True))),
        ("total parse + MarketBooks.feed (verified)", per_item_us(total)),
    ]
    print(f"{args.frames} price_change frames, book of {args.levels}+{args.levels} levels")
    for name, us in rows:
        print(f"  {name:<46} {us:8.2f} µs/frame   {1e6 / us:>10,.0f} /s")


if __name__ == "__main__":
    main()
