"""Replay mode: recorded market-channel JSONL drives the books; what polysim sends stays hash-consistent."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
import websockets

from polysim.config import SimConfig
from polysim.context import build_context
from polysim.harness import running_sim

WS = Path(os.environ["POLYBOT_FIXTURES"]) / "ws_market"
T0 = 1_770_000_000_000


def recorded(name: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in (WS / name).read_text().splitlines():
        if line.strip():
            frame = json.loads(line)
            out.extend(frame if isinstance(frame, list) else [frame])
    return out


def levels(raw: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(lv["price"], lv["size"]) for lv in raw]


def replay_all(name: str, book_mirror: Any) -> tuple[Any, Any]:
    """Replay a whole file through the engine into a client mirror; returns (mirror, ctx)."""
    ctx = build_context(SimConfig(replay=WS / name, start_ms=T0, seed=1))
    engine = ctx.engine
    meta = {t: (str(m.min_order_size), m.neg_risk) for m in ctx.catalog.markets for t in m.token_ids}
    mirror = book_mirror(meta)
    for m in ctx.catalog.markets:  # the dump a client would get on connecting before the first event
        book = engine.book(m.condition_id)
        mirror.feed("[" + ",".join(engine.wire.book_text(book, ti, book.updated_ms, True) for ti in (0, 1)) + "]")
    engine.wire.sinks.append(lambda msg: mirror.feed(msg.text))
    engine.step(T0 + 10_000_000)
    return mirror, ctx


@pytest.mark.parametrize("name", [
    "frames_2025-12_initial_dump_price_change_post_trade_book.jsonl",
    "hash_chain_2025-10_ws_book_price_changes_rest_book.jsonl",
    "stream_sequence_2024-12_changes_format_polypy.jsonl",
])
def test_replayed_stream_is_hash_consistent(name: str, book_mirror: Any) -> None:
    mirror, _ = replay_all(name, book_mirror)
    assert mirror.mismatches == []
    assert mirror.counts.get("price_change", 0) >= 1 and mirror.checked >= 6


def test_replay_reproduces_the_recorded_books(book_mirror: Any) -> None:
    events = recorded("frames_2025-12_initial_dump_price_change_post_trade_book.jsonl")
    final = events[-1]  # a post-trade book of the second token
    mirror, ctx = replay_all("frames_2025-12_initial_dump_price_change_post_trade_book.jsonl", book_mirror)
    found = ctx.engine.token_book(final["asset_id"])
    assert found is not None
    bids, asks = found[0].wire_levels(found[1])
    assert mirror.wire_levels(final["asset_id"]) == (levels(final["bids"]), levels(final["asks"]))
    # and the first token is its mirror image, as on the venue
    first = events[0]
    assert levels(first["bids"])[:3] == mirror.wire_levels(first["asset_id"])[0][:3]
    chain = recorded("hash_chain_2025-10_ws_book_price_changes_rest_book.jsonl")
    _, ctx2 = replay_all("hash_chain_2025-10_ws_book_price_changes_rest_book.jsonl", book_mirror)
    rest = chain[-1]  # the REST /book recorded after the last price_change
    found2 = ctx2.engine.token_book(rest["asset_id"])
    assert found2 is not None
    from polysim.units import PRICE_TEXT, size_text

    b2, a2 = found2[0].wire_levels(found2[1])
    assert [(PRICE_TEXT[p], size_text(s)) for p, s in b2] == levels(rest["bids"])
    assert [(PRICE_TEXT[p], size_text(s)) for p, s in a2] == levels(rest["asks"])
    assert bids and asks


async def test_replay_over_the_websocket(book_mirror: Any) -> None:
    name = "frames_2025-12_initial_dump_price_change_post_trade_book.jsonl"
    final = recorded(name)[-1]
    # The replay starts 1.5 s after the sim so the subscription is in place first, even on a loaded machine.
    async with running_sim(replay=WS / name, replay_delay_ms=1500) as sim, websockets.connect(sim.ws_market_url) as ws:
        tokens = sim.token_ids()
        mirror = book_mirror({t: ("5", False) for t in tokens})
        await ws.send(json.dumps({"assets_ids": tokens, "type": "market"}))
        loop = asyncio.get_running_loop()
        end = loop.time() + 10
        while loop.time() < end and mirror.counts.get("book", 0) < 8:  # dump 2, recorded 2 × 2, post-trade 2
            try:
                mirror.feed(await asyncio.wait_for(ws.recv(), end - loop.time()))
            except TimeoutError:
                raise AssertionError(f"got {mirror.counts}") from None
    assert mirror.mismatches == [] and mirror.counts.get("price_change") == 1
    assert mirror.wire_levels(final["asset_id"]) == (levels(final["bids"]), levels(final["asks"]))
