"""The trading side's 2026 venue habits, read on the wire where no SDK shows them: per-signer token buckets and
their headers, the tier endpoint, the restart's 425 / post-only answers byte for byte, GTD's one-minute rule,
``tradeIDs`` only, ``matchtime`` and failed settlements on the user channel. Orders are signed with
py-clob-client-v2; requests are sent with httpx so status, headers and bodies are seen as they are."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import httpx
from py_clob_client_v2.clob_types import OrderArgsV2, RequestArgs
from py_clob_client_v2.headers.headers import create_level_2_headers
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from websockets.asyncio.client import connect

from polysim.harness import RunningSim, running_sim
from polysim.signer_limits import TIERS

TICK = Decimal("0.01")
BUCKET_HEADERS = {"poly-ratelimit-remaining", "poly-ratelimit-reset", "poly-ratelimit-tier"}


async def call(sim: RunningSim, trader: Any, method: str, path: str, body: Any = None) -> httpx.Response:
    """An L2-signed request, its answer unparsed."""
    text = None if body is None else json.dumps(body, separators=(",", ":"))
    headers = create_level_2_headers(trader.client.signer, trader.creds,
                                     RequestArgs(method=method, request_path=path, serialized_body=text))
    async with httpx.AsyncClient(base_url=sim.url, verify=False) as http:
        return await http.request(method, path, content=text, headers=headers)


async def admin(sim: RunningSim, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sim.url, verify=False) as http:
        r = await http.post(path, json=body)
        assert r.status_code == status, r.text
        answer: dict[str, Any] = r.json()
        return answer


async def signed(sim: RunningSim, trader: Any, k: int = 2, size: float = 5, expiration: int = 0,
                 post_only: bool = False) -> dict[str, Any]:
    """The POST /order body of a BUY resting ``k`` ticks under the best bid of the first token."""
    token = sim.token_ids()[0]
    bid = Decimal(sim.book(token)["bids"][-1]["price"])
    order = await trader("create_order", OrderArgsV2(token_id=token, price=float(bid - k * TICK), size=size,
                                                     side="BUY", expiration=expiration))
    body: dict[str, Any] = order_to_json_v2(order, trader.api_key, "GTD" if expiration else "GTC", post_only)
    return body


def test_the_documented_tier_table() -> None:
    assert (TIERS["standard"].order_rate, TIERS["standard"].order_burst) == (40, 60)
    assert (TIERS["standard"].cancel_rate, TIERS["standard"].cancel_burst) == (80, 120)
    assert (TIERS["elite"].order_rate, TIERS["elite"].order_burst) == (600, 900)
    assert [t.negative_cancel for t in TIERS.values()] == [True] * 5 + [False] * 3


async def test_bucket_headers_tier_endpoint_and_warning_mode(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    tier = await call(sim, trader, "GET", "/v1/user/rate-limit-tier")
    assert tier.status_code == 200 and tier.json() == {
        "tier": "standard", "period": 30, "next_tier_threshold": 30_000,
        "tier_details": {"order_rate": 40, "order_burst": 60, "cancel_rate": 80, "cancel_burst": 120,
                         "negative_cancel": True}}
    placed = await call(sim, trader, "POST", "/order", await signed(sim, trader))
    assert placed.status_code == 200 and placed.headers.keys() >= BUCKET_HEADERS
    assert (placed.headers["poly-ratelimit-remaining"], placed.headers["poly-ratelimit-tier"]) == ("59", "standard")
    assert abs(int(placed.headers["poly-ratelimit-reset"]) - time.time()) <= 2  # admitted: the wait ends now
    assert "poly-ratelimit-warning" not in placed.headers
    assert "poly-ratelimit-tier" not in (await call(sim, trader, "GET", "/data/orders")).headers  # only order/cancel

    await admin(sim, "/_sim/rate-limits", {"signer_tiers": {trader.address: "elite"}})
    elite = (await call(sim, trader, "GET", "/v1/user/rate-limit-tier")).json()
    assert (elite["tier"], elite["tier_details"]["order_burst"]) == ("elite", 900)
    assert "next_tier_threshold" not in elite  # the top tier
    await admin(sim, "/_sim/rate-limits", {"signer_tiers": {trader.address: "standard"}, "reset": True,
                                           "tiers": {"standard": {"order_burst": 2, "order_rate": 0.01}}})
    first, second, third = [await signed(sim, trader, k) for k in (3, 4, 5)]
    assert (await call(sim, trader, "POST", "/order", first)).status_code == 200
    assert (await call(sim, trader, "POST", "/order", second)).headers["poly-ratelimit-remaining"] == "0"
    limited = await call(sim, trader, "POST", "/order", third)
    assert (limited.status_code, limited.json()) == (429, {"error": "Too Many Requests"})
    assert int(limited.headers["retry-after"]) >= 1 and int(limited.headers["poly-ratelimit-reset"]) > time.time()
    table = await admin(sim, "/_sim/rate-limits", {"signer_buckets": "warn"})
    assert table["signer_buckets"]["mode"] == "warn"
    warned = await call(sim, trader, "POST", "/order", third)  # the July 2026 warning period: processed, flagged
    assert warned.status_code == 200 and warned.json()["status"] == "live"
    assert warned.headers["poly-ratelimit-warning"] == "true"
    await admin(sim, "/_sim/rate-limits", {"signer_buckets": "nope"}, status=400)
    await admin(sim, "/_sim/rate-limits", {"signer_tiers": {trader.address: "mythril"}}, status=400)


async def test_cancel_costs_and_the_negative_cancel_balance(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    await admin(sim, "/_sim/rate-limits", {"tiers": {"standard": {"cancel_burst": 3, "cancel_rate": 0.01},
                                                     "platinum": {"cancel_burst": 3, "cancel_rate": 0.01}}})
    ids = [(await call(sim, trader, "POST", "/order", await signed(sim, trader, k))).json()["orderID"]
           for k in range(2, 8)]
    too_many = await call(sim, trader, "DELETE", "/orders", ids[:4])  # 4 tokens > the burst of 3: never admitted
    assert too_many.status_code == 429 and "retry-after" not in too_many.headers
    everything = await call(sim, trader, "DELETE", "/cancel-all")
    assert everything.status_code == 200 and sorted(everything.json()["canceled"]) == sorted(ids)
    assert everything.headers["poly-ratelimit-remaining"] == "-4"  # 3 - 1 up front - 6 canceled: in debt
    blocked = await call(sim, trader, "DELETE", "/order", {"orderID": ids[0]})
    assert blocked.status_code == 429 and int(blocked.headers["poly-ratelimit-remaining"]) == -4

    await admin(sim, "/_sim/rate-limits", {"signer_tiers": {trader.address: "platinum"}, "reset": True})
    again = [(await call(sim, trader, "POST", "/order", await signed(sim, trader, k, size=6))).json()["orderID"]
             for k in range(2, 6)]
    floored = await call(sim, trader, "DELETE", "/cancel-market-orders", {"market": sim.engine.market_of(
        sim.token_ids()[0])})
    assert sorted(floored.json()["canceled"]) == sorted(again)
    assert (floored.headers["poly-ratelimit-remaining"], floored.headers["poly-ratelimit-tier"]) == ("0", "platinum")


async def test_sim_state_counts_the_open_orders_of_every_api_key(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    alice, bob = await new_trader(sim), await new_trader(sim)

    async def state() -> dict[str, int]:
        async with httpx.AsyncClient(base_url=sim.url) as http:
            counts: dict[str, int] = (await http.get("/_sim/state")).json()["open_orders"]
            return counts

    assert await state() == {}
    ids = [(await call(sim, alice, "POST", "/order", await signed(sim, alice, k))).json()["orderID"] for k in (2, 3)]
    await call(sim, bob, "POST", "/order", await signed(sim, bob, 4))
    assert await state() == {alice.api_key: 2, bob.api_key: 1}
    await call(sim, alice, "DELETE", "/order", {"orderID": ids[0]})
    assert await state() == {alice.api_key: 1, bob.api_key: 1}
    await call(sim, alice, "DELETE", "/cancel-all")
    assert await state() == {alice.api_key: 0, bob.api_key: 1} == sim.open_orders()  # zeros stay listed


async def test_restart_answers_425_then_the_documented_post_only_answers(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    plain, maker = await signed(sim, trader, 2), await signed(sim, trader, 3, post_only=True)
    done = await admin(sim, "/_sim/faults", {"engine_restart": {"down_s": 90, "post_only_s": 120}})
    assert done["engine_restart"]["phase"] == "down" and done["engine_restart"]["post_only_for_ms"] == 120_000
    down = await call(sim, trader, "POST", "/order", plain)
    assert (down.status_code, down.json()) == (425, {"error": "Too Early"})
    assert 85 <= int(down.headers["retry-after"]) <= 90
    for method, path, body in (("POST", "/orders", [plain]), ("DELETE", "/cancel-all", None),
                               ("DELETE", "/orders", ["0x00"])):
        assert (await call(sim, trader, method, path, body)).status_code == 425
    assert (await call(sim, trader, "GET", "/data/orders")).status_code == 200  # reads are not order requests

    await admin(sim, "/_sim/faults", {"engine_restart": {"down_s": 0, "post_only_s": 5}})  # the engine is back
    refused = await call(sim, trader, "POST", "/order", plain)
    assert refused.status_code == 503
    body = refused.json()
    assert body.keys() == {"error", "code", "retry_after_seconds"} and body["code"] == "post_only_mode"
    assert body["error"] == "post-only mode: only post-only orders and cancels are allowed"
    assert refused.headers["retry-after"] == str(body["retry_after_seconds"]) and 0 < body["retry_after_seconds"] <= 5
    mixed = (await call(sim, trader, "POST", "/orders", [plain, maker])).json()
    assert mixed[0] == {"errorMsg": body["error"], "orderID": "", "takingAmount": "", "makingAmount": "",
                        "status": "", "success": True}
    assert mixed[1]["success"] and mixed[1]["status"] == "live"
    await admin(sim, "/_sim/faults", {"engine_restart": {"down_s": "soon"}}, status=400)
    cleared = await admin(sim, "/_sim/faults", {"clear": True})
    assert cleared["engine_restart"] is None
    assert (await call(sim, trader, "POST", "/order", plain)).status_code == 200


async def test_gtd_expiration_rules_and_trade_ids_only(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    now = int(time.time())
    soon = await call(sim, trader, "POST", "/order", await signed(sim, trader, 2, expiration=now + 55))
    assert (soon.status_code, soon.json()) == (400, {"error": "invalid expiration"})
    brief = await call(sim, trader, "POST", "/order", await signed(sim, trader, 3, expiration=now + 62))
    assert brief.status_code == 200 and brief.json()["status"] == "live"
    assert brief.json().keys() == {"success", "errorMsg", "orderID", "tradeIDs", "status", "takingAmount",
                                   "makingAmount"}  # since 2026-07-24: no transactionsHashes
    order_id = brief.json()["orderID"]
    # It leaves the book a minute before its stated expiration (the documented security threshold).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and sim.engine.all_orders[order_id].status == "LIVE":
        await asyncio.sleep(0.1)
        sim.step()
    assert sim.engine.all_orders[order_id].status == "CANCELED"
    failed = (await call(sim, trader, "POST", "/orders", [await signed(sim, trader, 2, size=1)])).json()
    assert failed == [{"errorMsg": failed[0]["errorMsg"], "orderID": "", "takingAmount": "", "makingAmount": "",
                       "status": "", "success": False}] and "lower than the minimum" in failed[0]["errorMsg"]


async def test_a_stale_heartbeat_id_answers_the_documented_and_the_sdk_keys(sim: RunningSim, new_trader: Any) -> None:
    trader = await new_trader(sim)
    first = (await call(sim, trader, "POST", "/v1/heartbeats", {"heartbeat_id": ""})).json()
    second = (await call(sim, trader, "POST", "/v1/heartbeats", {"heartbeat_id": first["heartbeat_id"]})).json()
    stale = await call(sim, trader, "POST", "/v1/heartbeats", {"heartbeat_id": first["heartbeat_id"]})
    invalid = "Invalid Heartbeat ID"
    assert (stale.status_code, stale.json()) == (400, {"error": invalid, "error_msg": invalid,
                                                       "heartbeat_id": second["heartbeat_id"]})


async def test_user_channel_matchtime_and_a_failed_settlement(new_trader: Any) -> None:
    async with running_sim(seed=1, n_markets=6, mined_delay_ms=100, confirmed_delay_ms=200) as sim:
        sim.freeze()
        trader = await new_trader(sim)
        token = sim.token_ids()[1]
        ask = sim.book(token)["asks"][-1]["price"]
        await admin(sim, "/_sim/trading", {"user_ws_match_time_key": "mixed"})
        await admin(sim, "/_sim/faults", {"fail_next_trades": 1})
        ws = await connect(sim.ws_user_url)
        try:
            creds = trader.creds
            auth = {"apiKey": creds.api_key, "secret": creds.api_secret, "passphrase": creds.api_passphrase}
            await ws.send(json.dumps({"auth": auth, "markets": [], "type": "user"}))
            await ws.send("PING")
            assert await asyncio.wait_for(ws.recv(), 5) == "PONG"
            order = await trader("create_order", OrderArgsV2(token_id=token, price=float(ask), size=5, side="BUY"))
            took = (await call(sim, trader, "POST", "/order", order_to_json_v2(order, trader.api_key, "FAK"))).json()
            (trade_id,) = took["tradeIDs"]
            trades = []
            while len(trades) < 3:
                event = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if event["event_type"] == "trade":
                    trades.append(event)
        finally:
            await ws.close()
        assert [(t["id"], t["status"]) for t in trades] == [(trade_id, s) for s in ("MATCHED", "RETRYING", "FAILED")]
        assert "matchtime" in trades[0] and "match_time" not in trades[0]
        assert all("match_time" in t and "matchtime" not in t for t in trades[1:])
        assert trades[0]["matchtime"] == trades[2]["match_time"]
        assert sim.engine.balance(trader.api_key, token) == 0  # the failed settlement moved no shares
