"""The market channel against a real websocket client: dump, deltas, hashes, subscriptions, faults."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from polysim.exchange_api import NewOrder
from polysim.harness import RunningSim, running_sim

BUSY = {"lp_rate_hz": 40.0, "taker_rate_hz": 8.0}


async def rest_meta(sim: RunningSim, tokens: list[str]) -> dict[str, tuple[str, bool]]:
    async with httpx.AsyncClient() as http:
        out = {}
        for t in tokens:
            book = (await http.get(sim.url + "/book", params={"token_id": t})).json()
            out[t] = (book["min_order_size"], book["neg_risk"])
        return out


async def collect(ws: Any, mirror: Any, seconds: float) -> list[str]:
    """Feed everything received for ``seconds`` into the mirror; returns the raw frames."""
    frames: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            text = await asyncio.wait_for(ws.recv(), left)
        except TimeoutError:
            break
        frames.append(text)
        mirror.feed(text)
    return frames


async def drain(ws: Any, mirror: Any, quiet_s: float = 0.3) -> None:
    while True:
        try:
            mirror.feed(await asyncio.wait_for(ws.recv(), quiet_s))
        except TimeoutError:
            return


def subscribe(tokens: list[str], custom: bool = True) -> str:
    return json.dumps({"assets_ids": tokens, "type": "market", "custom_feature_enabled": custom})


async def test_dump_then_deltas_reproduce_rest_book_and_every_hash_verifies(book_mirror: Any) -> None:
    async with running_sim(seed=3, n_markets=4, **BUSY) as sim:
        tokens = sim.token_ids()
        mirror = book_mirror(await rest_meta(sim, tokens))
        # An account rests a bid at the touch so the crowd's takers trade through it (real maker fills).
        first = tokens[0]
        sim.fund("acct", usdc="1000")
        best_bid = Decimal(sim.book(first)["bids"][-1]["price"])
        result = sim.engine.place(NewOrder("0x" + "ab" * 32, "acct", "0x" + "11" * 20, first, "BUY", best_bid,
                                           Decimal(20), "GTC", False, 0), sim.now_ms())
        assert result.ok, result.error
        async with websockets.connect(sim.ws_market_url) as ws:
            await ws.send(subscribe(tokens))
            dump = json.loads(await ws.recv())
            assert isinstance(dump, list) and {b["asset_id"] for b in dump} == set(tokens)
            assert all(list(b) == ["market", "asset_id", "timestamp", "hash", "bids", "asks", "tick_size",
                                   "event_type", "last_trade_price"] for b in dump)
            mirror.feed(json.dumps(dump))
            await collect(ws, mirror, 1.5)
            sim.freeze()
            await drain(ws, mirror)
        assert mirror.mismatches == []
        assert mirror.checked > 200
        assert {"book", "price_change", "last_trade_price", "best_bid_ask"} <= set(mirror.counts)
        async with httpx.AsyncClient() as http:
            for t in tokens:
                rest = (await http.get(sim.url + "/book", params={"token_id": t})).json()
                bids, asks = mirror.wire_levels(t)
                assert [(lv["price"], lv["size"]) for lv in rest["bids"]] == bids
                assert [(lv["price"], lv["size"]) for lv in rest["asks"]] == asks
                assert rest["hash"] == mirror.last_hash[t]
                assert rest["last_trade_price"] == mirror.ltp[rest["market"]]


async def test_post_trade_book_and_price_change_shapes() -> None:
    async with running_sim(seed=4, n_markets=2, lp_rate_hz=40.0, taker_rate_hz=20.0) as sim:
        async with websockets.connect(sim.ws_market_url) as ws:
            await ws.send(subscribe(sim.token_ids(), custom=False))
            await ws.recv()
            seen: dict[str, dict[str, Any]] = {}
            while len(seen) < 3:
                e = json.loads(await asyncio.wait_for(ws.recv(), 5))
                seen.setdefault(e["event_type"], e)
        assert "best_bid_ask" not in seen  # custom feature off
        assert list(seen["book"]) == ["market", "asset_id", "bids", "asks", "hash", "timestamp", "event_type"]
        pc = seen["price_change"]
        assert list(pc) == ["market", "price_changes", "timestamp", "event_type"]
        assert all(list(c) == ["asset_id", "price", "size", "side", "hash", "best_bid", "best_ask"]
                   for c in pc["price_changes"])
        # one message covers both tokens: YES level p on one side is NO level 1 - p on the other
        a, b = pc["price_changes"][:2]
        assert a["asset_id"] != b["asset_id"] and a["side"] != b["side"] and a["size"] == b["size"]
        assert Decimal(a["price"]) + Decimal(b["price"]) == 1
        ltp = seen["last_trade_price"]
        assert set(ltp) == {"asset_id", "event_type", "fee_rate_bps", "market", "price", "side", "size", "timestamp"}


async def test_ping_pong_and_dynamic_subscribe_unsubscribe() -> None:
    async with running_sim(seed=5, n_markets=3, **BUSY) as sim:
        t = sim.token_ids()
        async with websockets.connect(sim.ws_market_url) as ws:
            await ws.send(subscribe([t[0]]))
            assert [b["asset_id"] for b in json.loads(await ws.recv())] == [t[0]]
            await ws.send(json.dumps({"assets_ids": [t[2]], "operation": "subscribe"}))
            await ws.send(json.dumps({"assets_ids": [t[0]], "operation": "unsubscribe"}))
            await ws.send("PING")
            got_dump = got_pong = False
            assets: set[str] = set()
            loop = asyncio.get_running_loop()
            end = loop.time() + 1.5
            while loop.time() < end:
                try:
                    text = await asyncio.wait_for(ws.recv(), end - loop.time())
                except TimeoutError:
                    break
                if text == "PONG":
                    got_pong = True
                    continue
                data = json.loads(text)
                if isinstance(data, list):
                    got_dump = got_dump or [b["asset_id"] for b in data] == [t[2]]
                    continue
                if got_dump:  # after the resubscription settled
                    assets |= {c["asset_id"] for c in data.get("price_changes", [])} | {data.get("asset_id")}
            assert got_pong and got_dump
            assets.discard(None)
            assert assets and assets <= {t[2]}


async def test_more_than_500_assets_on_one_connection_is_refused(sim: RunningSim) -> None:
    async with websockets.connect(sim.ws_market_url) as ws:
        await ws.send(subscribe([str(10**70 + i) for i in range(501)]))
        assert "error" in json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 2)


async def test_corrupt_next_hash_breaks_exactly_one_hash(book_mirror: Any) -> None:
    async with running_sim(seed=6, n_markets=1, **BUSY) as sim:
        tokens = sim.token_ids()
        mirror = book_mirror(await rest_meta(sim, tokens))
        async with websockets.connect(sim.ws_market_url) as ws:
            await ws.send(subscribe(tokens))
            mirror.feed(await ws.recv())
            sim.corrupt_next_hash(tokens[1])
            await collect(ws, mirror, 1.0)
        assert [m[1] for m in mirror.mismatches] == [tokens[1]]
        assert mirror.checked > 40


async def test_drop_next_delta_desynchronizes_only_that_asset(book_mirror: Any) -> None:
    async with running_sim(seed=7, n_markets=1, lp_rate_hz=40.0, taker_rate_hz=0.0) as sim:
        tokens = sim.token_ids()
        mirror = book_mirror(await rest_meta(sim, tokens))
        async with websockets.connect(sim.ws_market_url) as ws:
            await ws.send(subscribe(tokens))
            mirror.feed(await ws.recv())
            sim.drop_next_delta(tokens[0])
            await collect(ws, mirror, 1.0)
            sim.freeze()
            await drain(ws, mirror)
        assert mirror.mismatches and {m[1] for m in mirror.mismatches} == {tokens[0]}
        # The complement's delta was sent, so its book stays exact (a later level update may heal token 0).
        other = sim.book(tokens[1])
        assert [(lv["price"], lv["size"]) for lv in other["bids"]] == mirror.wire_levels(tokens[1])[0]
        assert [(lv["price"], lv["size"]) for lv in other["asks"]] == mirror.wire_levels(tokens[1])[1]


async def test_silent_socket_still_answers_ping() -> None:
    async with running_sim(seed=8, n_markets=2, **BUSY) as sim, websockets.connect(sim.ws_market_url) as ws:
        await ws.send(subscribe(sim.token_ids()))
        await ws.recv()
        sim.silence_market(1.0)
        await asyncio.sleep(0.05)
        while True:  # flush what was queued before the silence began
            try:
                await asyncio.wait_for(ws.recv(), 0.05)
            except TimeoutError:
                break
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 0.5) == "PONG"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.6)
        await asyncio.sleep(0.4)
        assert json.loads(await asyncio.wait_for(ws.recv(), 2))["event_type"]


async def test_drop_market_sockets_closes_every_connection(sim: RunningSim) -> None:
    async with websockets.connect(sim.ws_market_url) as a, websockets.connect(sim.ws_market_url) as b:
        for ws in (a, b):
            await ws.send(subscribe(sim.token_ids()[:2]))
            await ws.recv()
        assert sim.drop_market_sockets() == 2
        for ws in (a, b):
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 2)


@pytest.mark.parametrize("new_tick", ["0.001", "0.1"])
async def test_tick_size_change_is_announced_and_book_requantized(book_mirror: Any, new_tick: str) -> None:
    async with running_sim(seed=9, n_markets=1, **BUSY) as sim:
        tokens = sim.token_ids()
        mirror = book_mirror(await rest_meta(sim, tokens))
        async with websockets.connect(sim.ws_market_url) as ws:
            await ws.send(subscribe(tokens))
            mirror.feed(await ws.recv())
            old = mirror.tick[tokens[0]]
            await collect(ws, mirror, 0.3)
            sim.change_tick_size(tokens[0], new_tick)
            await collect(ws, mirror, 0.7)
            sim.freeze()
            await drain(ws, mirror)
        assert mirror.counts["tick_size_change"] == 2
        assert mirror.tick == {t: new_tick for t in tokens}
        assert mirror.mismatches == []
        async with httpx.AsyncClient() as http:
            tick = (await http.get(sim.url + "/tick-size", params={"token_id": tokens[1]})).json()
        assert tick == {"minimum_tick_size": float(new_tick)} and old != new_tick
        for t in tokens:
            book = sim.book(t)
            assert book["tick_size"] == new_tick
            assert all(Decimal(lv["price"]) % Decimal(new_tick) == 0 for lv in book["bids"] + book["asks"])


async def test_fault_and_account_admin_routes(sim: RunningSim) -> None:
    token = sim.token_ids()[0]
    async with httpx.AsyncClient(base_url=sim.url) as http:
        r = await http.post("/_sim/faults", json={"corrupt_next_hash": [token], "drop_next_delta": [token],
                                                  "silent_s": 2})
        assert r.status_code == 200
        body = r.json()
        assert body["corrupt_next_hash"] == [token] == body["drop_next_delta"] and body["silent_for_ms"] > 1000
        assert (await http.post("/_sim/faults", json={"drop_next_delta": ["42"]})).status_code == 404
        cleared = (await http.post("/_sim/faults", json={"clear": True})).json()
        assert cleared["corrupt_next_hash"] == [] and cleared["silent_for_ms"] == 0
        cid = sim.condition_ids()[0]
        r = await http.post("/_sim/faults", json={"tick_size": {"market": cid, "tick_size": "0.001"}})
        assert r.status_code == 200
        assert (await http.get("/tick-size", params={"token_id": token})).json() == {"minimum_tick_size": 0.001}
        r = await http.post("/_sim/accounts/key-1", json={"usdc": "250.5", "positions": {token: "12"}})
        assert r.json() == {"owner": "key-1", "usdc": "250.5", "positions": {token: "12"}}
        state = (await http.get("/_sim/state")).json()
        assert state["seed"] == 1 and state["markets"] == 6 and state["accounts"] == 1
    assert sim.engine.balance("key-1", token) == Decimal(12)
