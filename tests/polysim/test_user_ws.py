"""The user channel: a websocket client sees its own order and trade events, shaped like the recorded ones."""

from __future__ import annotations

import asyncio
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from py_clob_client_v2.clob_types import OrderArgsV2, OrderPayload, OrderType
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from polysim.harness import RunningSim, running_sim

FIXTURES = Path(os.environ["POLYBOT_FIXTURES"]) / "ws_user"


def fixture_keys(name: str) -> set[str]:
    return set(json.loads((FIXTURES / name).read_text()))


async def subscribe(sim: RunningSim, trader: Any, markets: list[str]) -> ClientConnection:
    ws = await connect(sim.ws_user_url)
    creds = trader.creds
    auth = {"apiKey": creds.api_key, "secret": creds.api_secret, "passphrase": creds.api_passphrase}
    await ws.send(json.dumps({"auth": auth, "markets": markets, "type": "user"}))
    await ws.send("PING")
    assert await asyncio.wait_for(ws.recv(), 5) == "PONG"  # subscription processed before we act
    return ws


async def next_event(ws: ClientConnection, wait_s: float = 5.0) -> dict[str, Any]:
    while True:
        text = await asyncio.wait_for(ws.recv(), wait_s)
        if text != "PONG":
            event: dict[str, Any] = json.loads(text)
            return event


async def test_placement_cancellation_and_trade_lifecycle(new_trader: Any) -> None:
    async with running_sim(seed=1, n_markets=6, mined_delay_ms=200, confirmed_delay_ms=400) as sim:
        sim.freeze()
        maker, taker = await new_trader(sim), await new_trader(sim)
        token = sim.token_ids()[3]
        market = sim.engine.market_of(token)
        book = sim.book(token)
        ask = book["asks"][-1]
        sim.fund(maker.api_key, positions={token: "50"})
        ws = await subscribe(sim, maker, [market])
        try:
            # PLACEMENT, then CANCELLATION of a resting order.
            far = float(Decimal(ask["price"]) + Decimal("0.05"))
            placed = await maker("create_and_post_order", OrderArgsV2(token_id=token, price=far, size=7, side="SELL"))
            ev = await next_event(ws)
            assert ev.keys() == fixture_keys("order_placement_2024-09.json")
            assert (ev["event_type"], ev["type"], ev["status"], ev["id"]) == (
                "order",
                "PLACEMENT",
                "LIVE",
                placed["orderID"],
            )
            assert (ev["owner"], ev["order_owner"], ev["original_size"], ev["size_matched"]) == (
                maker.api_key,
                maker.api_key,
                "7",
                "0",
            )
            assert ev["market"] == market and ev["asset_id"] == token and ev["maker_address"] == maker.address
            assert int(ev["timestamp"]) // 1000 - int(ev["created_at"]) in (0, 1)
            await maker("cancel_order", OrderPayload(orderID=placed["orderID"]))
            ev = await next_event(ws)
            assert ev.keys() == fixture_keys("order_cancellation_2024-09.json")
            assert (ev["type"], ev["status"], ev["id"]) == ("CANCELLATION", "CANCELED", placed["orderID"])

            # Our SELL rests at the best ask; a second account takes the whole level.
            rest = await maker(
                "create_and_post_order", OrderArgsV2(token_id=token, price=float(ask["price"]), size=10, side="SELL")
            )
            assert (await next_event(ws))["type"] == "PLACEMENT"
            size = float(Decimal(ask["size"]) + 10)
            took = await taker(
                "create_and_post_order",
                OrderArgsV2(token_id=token, price=float(ask["price"]), size=size, side="BUY"),
                None,
                OrderType.FAK,
            )
            (trade_id,) = took["tradeIDs"]
            seen: list[dict[str, Any]] = []
            while len([e for e in seen if e["event_type"] == "trade"]) < 3:
                seen.append(await next_event(ws))
            trades = [e for e in seen if e["event_type"] == "trade"]
            assert [t["status"] for t in trades] == ["MATCHED", "MINED", "CONFIRMED"]
            assert {t["id"] for t in trades} == {trade_id}
            first = trades[0]
            assert fixture_keys("trade_matched_taker_2024-09.json") <= first.keys()
            assert (first["type"], first["trader_side"], first["owner"]) == ("TRADE", "MAKER", taker.api_key)
            mine = [m for m in first["maker_orders"] if m["owner"] == maker.api_key]
            assert [(m["order_id"], m["matched_amount"]) for m in mine] == [(rest["orderID"], "10")]
            assert first["transaction_hash"].startswith("0x") and first["taker_order_id"] == took["orderID"]
            updates = [e for e in seen if e["event_type"] == "order"]
            assert [(u["type"], u["status"], u["size_matched"]) for u in updates] == [("UPDATE", "MATCHED", "10")]
            assert updates[0]["associate_trades"] == [trade_id]
        finally:
            await ws.close()


async def test_taker_sees_its_own_trade_and_filters_hold(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader, stranger = await new_trader(sim), await new_trader(sim)
    t_in, t_out = sim.token_ids()[0], sim.token_ids()[2]
    market_in = sim.engine.market_of(t_in)
    ws = await subscribe(sim, trader, [market_in])
    spy = await subscribe(sim, stranger, [])
    try:
        # Activity in another market and another account's activity are not delivered.
        bid_out = Decimal(sim.book(t_out)["bids"][-1]["price"])
        await trader(
            "create_and_post_order",
            OrderArgsV2(token_id=t_out, price=float(bid_out - Decimal("0.02")), size=5, side="BUY"),
        )
        ask = sim.book(t_in)["asks"][-1]["price"]
        took = await trader(
            "create_and_post_order",
            OrderArgsV2(token_id=t_in, price=float(ask), size=5, side="BUY"),
            None,
            OrderType.FAK,
        )
        trade = await next_event(ws)
        assert (trade["event_type"], trade["status"], trade["trader_side"]) == ("trade", "MATCHED", "TAKER")
        assert trade["id"] == took["tradeIDs"][0] and trade["owner"] == trader.api_key
        placement = await next_event(ws)
        assert (placement["type"], placement["status"], placement["market"]) == ("PLACEMENT", "MATCHED", market_in)
        with pytest.raises(TimeoutError):
            await next_event(spy, wait_s=0.5)
    finally:
        await ws.close()
        await spy.close()


async def test_bad_credentials_close_the_socket(sim: RunningSim, new_trader: Any) -> None:
    trader = await new_trader(sim)
    async with connect(sim.ws_user_url) as ws:
        bad = {"apiKey": trader.api_key, "secret": trader.creds.api_secret, "passphrase": "nope"}
        await ws.send(json.dumps({"auth": bad, "markets": [], "type": "user"}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_injected_silence_still_answers_ping_and_drop_closes(sim: RunningSim, new_trader: Any) -> None:
    import httpx

    sim.freeze()
    trader = await new_trader(sim)
    token = sim.token_ids()[0]
    ws = await subscribe(sim, trader, [])
    try:
        async with httpx.AsyncClient(base_url=sim.url) as http:
            assert (await http.post("/_sim/user-ws", json={"silent": True})).json()["silent"] is True
            bid = Decimal(sim.book(token)["bids"][-1]["price"])
            await trader(
                "create_and_post_order",
                OrderArgsV2(token_id=token, price=float(bid - Decimal("0.02")), size=5, side="BUY"),
            )
            await ws.send("PING")
            assert await asyncio.wait_for(ws.recv(), 5) == "PONG"  # silent: no order event, but PONG
            assert (await http.post("/_sim/user-ws", json={"silent": False, "drop": True})).json()["dropped"] == 1
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    finally:
        await ws.close()
