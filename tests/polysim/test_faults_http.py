"""Injected HTTP faults and rate limits, as the SDK experiences them."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from py_clob_client_v2.clob_types import OrderArgsV2, RequestArgs
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.headers.headers import create_level_2_headers
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2

from polysim.harness import RunningSim


async def admin(sim: RunningSim, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        r = await http.post(path, json=body)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result


async def order_args(sim: RunningSim, k: int = 2) -> OrderArgsV2:
    token = sim.token_ids()[0]
    bid = Decimal(sim.book(token)["bids"][-1]["price"])
    return OrderArgsV2(token_id=token, price=float(bid - Decimal("0.01") * k), size=5, side="BUY")


async def test_injected_5xx_then_recovery(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    await admin(sim, "/_sim/http-faults", {"error_next": 1, "error_status": 503, "paths": ["/order"]})
    with pytest.raises(PolyApiException) as err:
        await trader("create_and_post_order", await order_args(sim))
    assert err.value.status_code == 503
    assert await trader("get_open_orders") == []  # refused before handling: nothing placed
    placed = await trader("create_and_post_order", await order_args(sim))
    assert placed["status"] == "live"


async def test_dropped_connection_still_executes_the_order(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    await admin(sim, "/_sim/http-faults", {"timeout_next": 1, "timeout_mode": "drop", "paths": ["/order"]})
    with pytest.raises(PolyApiException) as err:
        await trader("create_and_post_order", await order_args(sim))
    assert err.value.status_code is None  # a transport error, not an HTTP answer
    (live,) = await trader("get_open_orders")  # ... yet the order is on the book
    assert live["status"] == "LIVE"


async def test_held_answer_times_out_the_client_but_the_order_rests(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    order = await trader("create_order", await order_args(sim))
    await admin(sim, "/_sim/http-faults", {"timeout_next": 1, "timeout_delay_s": 2.0, "latency_ms": 20})
    body = json.dumps(order_to_json_v2(order, trader.api_key, "GTC"), separators=(",", ":"))
    headers = create_level_2_headers(
        trader.client.signer, trader.creds, RequestArgs(method="POST", request_path="/order", serialized_body=body)
    )
    async with httpx.AsyncClient(base_url=sim.url, timeout=0.5) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/order", content=body, headers=headers)
    assert len(await trader("get_open_orders")) == 1
    faults = await admin(sim, "/_sim/http-faults", {"reset": True})
    assert faults["timeout_next"] == 0 and faults["latency_ms"] == 0


async def test_rate_limit_answers_429_and_the_window_is_per_key(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader, other = await new_trader(sim), await new_trader(sim)
    table = await admin(sim, "/_sim/rate-limits", {"limits": {"data-orders": 3}})
    assert {"name": "data-orders", "limit": 3, "window_s": 10.0} in table["rules"]
    for _ in range(3):
        await trader("get_open_orders")
    with pytest.raises(PolyApiException) as err:
        await trader("get_open_orders")
    assert (err.value.status_code, err.value.error_msg) == (429, {"error": "Too Many Requests"})
    assert await other("get_open_orders") == []
    await admin(sim, "/_sim/rate-limits", {"enabled": False})
    assert await trader("get_open_orders") == []


async def test_unknown_settings_are_refused(sim: RunningSim) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        r = await http.post("/_sim/http-faults", json={"latency": 5})
        assert r.status_code == 400
        r = await http.post("/_sim/rate-limits", json={"limits": {"nope": 1}})
        assert r.status_code == 400
        assert (await http.get("/_sim/trading")).json()["heartbeat_timeout_s"] == 10.0
