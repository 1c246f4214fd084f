"""The /v1/heartbeats dead-man switch: orders survive while heartbeats flow and are cancelled once they stop."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
from py_clob_client_v2.clob_types import OrderArgsV2

from polysim.harness import RunningSim


async def rest_two(sim: RunningSim, trader: Any) -> list[str]:
    token = sim.token_ids()[0]
    bid = Decimal(sim.book(token)["bids"][-1]["price"])
    ids = []
    for k in (2, 3):
        args = OrderArgsV2(token_id=token, price=float(bid - Decimal("0.01") * k), size=5, side="BUY")
        ids.append((await trader("create_and_post_order", args))["orderID"])
    return ids


async def test_orders_are_cancelled_after_the_timeout_without_heartbeat(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    async with httpx.AsyncClient(base_url=sim.url) as http:
        r = await http.post("/_sim/trading", json={"heartbeat_timeout_s": 0.6})
        assert r.json()["heartbeat_timeout_s"] == 0.6
    trader, bystander = await new_trader(sim), await new_trader(sim)
    mine = await rest_two(sim, trader)
    theirs = await rest_two(sim, bystander)
    # No heartbeat yet: the switch is not armed, nothing is cancelled.
    await asyncio.sleep(0.8)
    assert len(await trader("get_open_orders")) == 2

    first = await trader("post_heartbeat", "")
    assert first["status"] == "ok" and first["heartbeat_id"]
    sent = [first["heartbeat_id"]]
    for _ in range(4):  # heartbeats inside the timeout keep the orders alive; each answers the next id
        await asyncio.sleep(0.3)
        sent.append((await trader("post_heartbeat", sent[-1]))["heartbeat_id"])
    assert len(set(sent)) == len(sent)
    assert len(await trader("get_open_orders")) == 2

    await asyncio.sleep(1.0)  # silence past the timeout
    assert await trader("get_open_orders") == []
    assert {(await trader("get_order", oid))["status"] for oid in mine} == {"CANCELED"}
    assert sorted(o["id"] for o in await bystander("get_open_orders")) == sorted(theirs)

    # The switch disarmed itself; new orders stay until heartbeats start again.
    again = await rest_two(sim, trader)
    await asyncio.sleep(0.8)
    assert sorted(o["id"] for o in await trader("get_open_orders")) == sorted(again)
