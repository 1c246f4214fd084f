"""The admin fault that switches the venue's hash layout at run time (``{"hash_layout": "F9"}``).

Every hash polysim sends after the switch — websocket books, ``price_change`` entries, REST ``/book`` — is
checked against the reference hash (``polybot.domain.book_hash``, a second implementation) in the new layout.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

from polybot.domain.book_hash import HashInput, HashLayout, book_hash
from polysim.book import HASH_LAYOUTS
from polysim.harness import running_sim

BUSY = {"lp_rate_hz": 40.0, "taker_rate_hz": 8.0}


def test_polysim_knows_the_layouts_by_the_names_polybot_uses() -> None:
    assert sorted(HASH_LAYOUTS) == sorted(layout.value for layout in HashLayout)


async def _post(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> httpx.Response:
    return await http.post(url + "/_sim/faults", json=body)


async def test_the_fault_is_shown_validated_and_cleared() -> None:
    async with running_sim(seed=2, n_markets=2) as sim, httpx.AsyncClient() as http:
        assert (await http.get(sim.url + "/_sim/faults")).json()["hash_layout"] == "F10"
        answer = await _post(http, sim.url, {"hash_layout": "F9"})
        assert answer.status_code == 200 and answer.json()["hash_layout"] == "F9"
        assert (await http.get(sim.url + "/_sim/faults")).json()["hash_layout"] == "F9"
        bad = await _post(http, sim.url, {"hash_layout": "F11"})
        assert bad.status_code == 400 and "F5b, F6, F9, F10" in bad.json()["error"]
        assert (await _post(http, sim.url, {"clear": True, "hash_layout": "F6"})).json()["hash_layout"] == "F6"
        assert (await _post(http, sim.url, {"clear": True})).json()["hash_layout"] == "F10"


def _reference(book: dict[str, Any], layout: str, meta: tuple[str, str, bool], ltp: str) -> str:
    bids = [(lv["price"], lv["size"]) for lv in book["bids"]]
    asks = [(lv["price"], lv["size"]) for lv in book["asks"]]
    min_size, tick, neg_risk = meta
    return book_hash(HashInput(book["market"], book["asset_id"], book["timestamp"], bids, asks, min_size, tick,
                               neg_risk, ltp), HashLayout(layout))


async def test_every_hash_sent_after_a_switch_is_in_the_new_layout(book_mirror: Any) -> None:
    async with running_sim(seed=4, n_markets=3, **BUSY) as sim, httpx.AsyncClient() as http:
        tokens = sim.token_ids()
        rest = {t: (await http.get(sim.url + "/book", params={"token_id": t})).json() for t in tokens}
        meta = {t: (b["min_order_size"], b["tick_size"], b["neg_risk"]) for t, b in rest.items()}

        class LayoutMirror(book_mirror):  # type: ignore[misc,valid-type]
            """``BookMirror``'s books, hashed with the reference function in ``layout``."""

            layout = "F10"

            def expected_hash(self, asset: str, timestamp: str) -> str:
                bids, asks = self.wire_levels(asset)
                book = {"market": self.market_of[asset], "asset_id": asset, "timestamp": timestamp,
                        "bids": [{"price": p, "size": s} for p, s in bids],
                        "asks": [{"price": p, "size": s} for p, s in asks]}
                return _reference(book, self.layout, meta[asset], self.ltp.get(self.market_of[asset], ""))

        mirror = LayoutMirror({t: (m[0], m[2]) for t, m in meta.items()})
        async with websockets.connect(sim.ws_market_url) as ws:
            await ws.send(json.dumps({"assets_ids": tokens, "type": "market"}))
            mirror.feed(await ws.recv())
            for layout in ("F9", "F6", "F5b", "F10"):
                sim.freeze()  # nothing is built while the layout changes: every frame after it is in it
                await _drain(ws, mirror)
                assert (await _post(http, sim.url, {"hash_layout": layout})).json()["hash_layout"] == layout
                mirror.layout = layout
                for t in tokens:  # REST /book: the same layout, the body keeps its ten keys
                    body = (await http.get(sim.url + "/book", params={"token_id": t})).json()
                    assert list(body)[:3] == ["market", "asset_id", "timestamp"] and len(body) == 10
                    assert body["hash"] == _reference(body, layout, meta[t], body["last_trade_price"])
                before = mirror.checked
                sim.freeze(False)
                await _collect(ws, mirror, 0.6)
                assert mirror.checked - before > 30, layout
            sim.freeze()
            await _drain(ws, mirror)
        assert mirror.mismatches == []
        assert {"book", "price_change"} <= set(mirror.counts)


async def _collect(ws: Any, mirror: Any, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            mirror.feed(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            return


async def _drain(ws: Any, mirror: Any, quiet_s: float = 0.2) -> None:
    while True:
        try:
            mirror.feed(await asyncio.wait_for(ws.recv(), quiet_s))
        except TimeoutError:
            return
