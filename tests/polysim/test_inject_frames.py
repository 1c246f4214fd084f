"""The ``inject_frames`` chaos drill: raw texts reach every market socket exactly as given, in order, between the
real events (never folded into a batch), and the answer says how many sockets got them."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets

from polysim.harness import running_sim

BUSY = {"lp_rate_hz": 40.0, "taker_rate_hz": 8.0}
RAW = ['{"event_type":["book"]}', "not json {", '{"a":1}', "💥 ünïcode\u0000junk", "[" * 3000, "x" * 1_000_000]


async def _until_all_raw(ws: websockets.ClientConnection, timeout_s: float = 10.0) -> list[str]:
    """Frames received until the last injected one, then one real frame more."""
    frames: list[str] = []
    async with asyncio.timeout(timeout_s):
        while RAW[-1] not in frames:
            frames.append(str(await ws.recv()))
        frames.append(str(await ws.recv()))
    return frames


async def test_injected_frames_reach_every_socket_verbatim_in_order_between_real_events() -> None:
    async with running_sim(seed=5, n_markets=2, ws_batch_max=8, **BUSY) as sim, httpx.AsyncClient() as http:
        assert (await http.post(f"{sim.url}/_sim/faults", json={"inject_frames": ["x"]})).json()["injected"] == 0
        tokens = sim.token_ids()
        sub = json.dumps({"assets_ids": tokens, "type": "market"})
        async with websockets.connect(sim.ws_market_url, max_size=None) as a, \
                websockets.connect(sim.ws_market_url, max_size=None) as b:
            for ws in (a, b):
                await ws.send(sub)
                assert isinstance(json.loads(await ws.recv()), list)  # the initial dump
            await asyncio.sleep(0.3)  # real events queue up (batched by 8)
            r = await http.post(f"{sim.url}/_sim/faults", json={"inject_frames": RAW})
            assert r.status_code == 200 and r.json()["injected"] == 2
            for ws in (a, b):
                frames = await _until_all_raw(ws)
                at = [frames.index(t) for t in RAW]
                assert at == sorted(at) and at[-1] - at[0] == len(RAW) - 1  # verbatim, in order, unbatched
                real = frames[:at[0]] + frames[at[-1] + 1:]
                assert real and all(json.loads(f) for f in real)  # the real stream around them is intact
                assert json.loads(frames[-1])  # and goes on after them
        for bad in ("x", [1], {"a": "b"}):
            r = await http.post(f"{sim.url}/_sim/faults", json={"inject_frames": bad})
            assert r.status_code == 400 and "inject_frames" in r.json()["error"]


async def test_injected_frames_go_out_while_the_socket_is_silenced() -> None:
    async with running_sim(seed=6, n_markets=1, **BUSY) as sim, websockets.connect(sim.ws_market_url) as ws:
        await ws.send(json.dumps({"assets_ids": sim.token_ids(), "type": "market"}))
        await ws.recv()
        sim.silence_market(5.0)
        await asyncio.sleep(0.2)
        while True:  # what was queued before the silence
            try:
                await asyncio.wait_for(ws.recv(), 0.3)
            except TimeoutError:
                break
        assert sim.inject_frames("junk 1", "junk 2") == 1
        assert [await asyncio.wait_for(ws.recv(), 2), await asyncio.wait_for(ws.recv(), 2)] == ["junk 1", "junk 2"]
