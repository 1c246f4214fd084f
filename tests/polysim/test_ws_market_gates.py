"""The market channel gated like the venue in 2026: PING before a subscription, huge frames, the level, and
books left out of a large subscription that did not ask for the initial dump."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from polysim.harness import running_sim


async def _books_in_first_answer(ws: Any) -> set[str]:
    dump = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return {b["asset_id"] for b in dump if b.get("event_type") == "book"}


async def test_a_ping_before_any_subscription_is_closed_with_1008() -> None:
    async with running_sim(seed=3, n_markets=1, active_books=0) as sim, websockets.connect(sim.ws_market_url) as ws:
        await ws.send("PING")
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1008


async def test_a_frame_listing_too_many_ids_gets_the_socket_closed() -> None:
    async with running_sim(seed=3, n_markets=1, active_books=0, max_ids_per_frame=50) as sim, \
            websockets.connect(sim.ws_market_url) as ws:
        await ws.send(json.dumps({"assets_ids": [str(i) for i in range(51)], "type": "market"}))
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009


async def test_a_bad_level_is_an_error_and_pings_are_answered_once_subscribed() -> None:
    async with running_sim(seed=3, n_markets=1, active_books=0) as sim, websockets.connect(sim.ws_market_url) as ws:
        tokens = sim.token_ids()
        await ws.send(json.dumps({"assets_ids": tokens, "type": "market", "level": 7}))
        assert "invalid level" in json.loads(await asyncio.wait_for(ws.recv(), 5))["error"]
        await ws.send(json.dumps({"assets_ids": tokens, "type": "market", "level": 2, "initial_dump": True}))
        assert await _books_in_first_answer(ws) == set(tokens)
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 5) == "PONG"


@pytest.mark.parametrize(("dump", "expect_all"), [(True, True), (None, False), (False, None)])
async def test_large_subscriptions_get_every_book_only_when_they_ask_for_it(dump: bool | None,
                                                                           expect_all: bool | None) -> None:
    async with running_sim(seed=4, n_markets=80, active_books=0) as sim, websockets.connect(sim.ws_market_url) as ws:
        tokens = sim.token_ids()  # 160 assets
        sub: dict[str, Any] = {"assets_ids": tokens, "type": "market"}
        if dump is not None:
            sub["initial_dump"] = dump
        await ws.send(json.dumps(sub))
        if expect_all is None:  # initial_dump: false: no books at all
            await ws.send("PING")
            assert await asyncio.wait_for(ws.recv(), 5) == "PONG"
            return
        books = await _books_in_first_answer(ws)
        if expect_all:
            assert books == set(tokens)
        else:
            assert books < set(tokens) and len(set(tokens) - books) == 6  # every 10th past the first 100
