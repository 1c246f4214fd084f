"""py-clob-client-v2, unchanged but for the host, against a running polysim: keys, reads, orders, fills, cancels."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import httpx
from py_clob_client_v2.clob_types import (
    AssetType,
    BalanceAllowanceParams,
    MarketOrderArgsV2,
    OpenOrderParams,
    OrderArgsV2,
    OrderMarketCancelParams,
    OrderPayload,
    OrderType,
    PostOrdersV2Args,
    TradeParams,
)

from polysim.harness import RunningSim, running_sim
from polysim.trading_state import state_of


def touch(sim: RunningSim, token: str) -> tuple[dict[str, str], dict[str, str]]:
    """(best bid level, best ask level) as ``GET /book`` shows them (best is last)."""
    book = sim.book(token)
    return book["bids"][-1], book["asks"][-1]


async def test_derive_is_stable_and_reads_work(sim: RunningSim, new_trader: Any) -> None:
    trader = await new_trader(sim)
    again = await trader("create_or_derive_api_key")  # create now fails (400) → the SDK derives
    assert (again.api_key, again.api_secret, again.api_passphrase) == (
        trader.creds.api_key,
        trader.creds.api_secret,
        trader.creds.api_passphrase,
    )
    token = sim.token_ids()[0]
    book = await trader("get_order_book", token)
    assert book["asset_id"] == token and book["bids"] and book["asks"]
    bid, ask = Decimal(book["bids"][-1]["price"]), Decimal(book["asks"][-1]["price"])
    assert Decimal((await trader("get_price", token, "BUY"))["price"]) in (bid, ask)
    assert Decimal((await trader("get_midpoint", token))["mid"]) == (bid + ask) / 2
    assert Decimal((await trader("get_spread", token))["spread"]) == ask - bid
    assert await trader("get_api_keys") == {"apiKeys": [trader.api_key]}


async def test_gtc_rests_is_listed_and_cancels(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    token = sim.token_ids()[2]
    bid, _ = touch(sim, token)
    price = float(Decimal(bid["price"]) - Decimal("0.05"))
    res = await trader("create_and_post_order", OrderArgsV2(token_id=token, price=price, size=10, side="BUY"))
    assert res["success"] and res["status"] == "live" and res["errorMsg"] == ""
    assert res["orderID"].startswith("0x") and len(res["orderID"]) == 66
    listed = await trader("get_open_orders")
    assert [o["id"] for o in listed] == [res["orderID"]]
    mine = listed[0]
    assert (mine["status"], mine["side"], mine["original_size"], mine["size_matched"]) == ("LIVE", "BUY", "10", "0")
    assert Decimal(mine["price"]) == Decimal(str(price)) and mine["asset_id"] == token
    assert mine["maker_address"] == trader.address and mine["owner"] == trader.api_key
    assert (await trader("get_order", res["orderID"]))["id"] == res["orderID"]
    by_market = await trader("get_open_orders", OpenOrderParams(market=mine["market"]))
    assert len(by_market) == 1
    assert await trader("get_open_orders", OpenOrderParams(asset_id=sim.token_ids()[0])) == []

    canceled = await trader("cancel_order", OrderPayload(orderID=res["orderID"]))
    assert canceled == {"canceled": [res["orderID"]], "not_canceled": {}}
    assert await trader("get_open_orders") == []
    assert (await trader("get_order", res["orderID"]))["status"] == "CANCELED"
    again = await trader("cancel_order", OrderPayload(orderID=res["orderID"]))
    assert again["canceled"] == [] and res["orderID"] in again["not_canceled"]


async def test_open_orders_paginate_to_lte(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    state_of(sim.ctx).config.orders_page_size = 2
    trader = await new_trader(sim)
    token = sim.token_ids()[0]
    bid, _ = touch(sim, token)
    args = [
        PostOrdersV2Args(
            order=await trader(
                "create_order",
                OrderArgsV2(
                    token_id=token, price=float(Decimal(bid["price"]) - Decimal("0.01") * k), size=5, side="BUY"
                ),
            ),
            orderType=OrderType.GTC,
        )
        for k in range(1, 6)
    ]
    placed = await trader("post_orders", args)
    assert [p["status"] for p in placed] == ["live"] * 5
    listed = await asyncio.wait_for(trader("get_open_orders"), 10)
    assert sorted(o["id"] for o in listed) == sorted(p["orderID"] for p in placed)
    first = await trader("get_open_orders", None, True)
    assert len(first) == 2


async def test_fak_fills_against_the_book_and_the_trade_is_reported(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    token = sim.token_ids()[1]
    _, ask = touch(sim, token)
    res = await trader(
        "create_and_post_order",
        OrderArgsV2(token_id=token, price=float(ask["price"]), size=5, side="BUY"),
        None,
        OrderType.FAK,
    )
    assert res["success"] and res["status"] == "matched"
    assert Decimal(res["takingAmount"]) == 5 and Decimal(res["makingAmount"]) == 5 * Decimal(ask["price"])
    assert len(res["tradeIDs"]) == 1 and len(res["transactionsHashes"]) == 1
    trades = await asyncio.wait_for(trader("get_trades"), 10)
    assert [t["id"] for t in trades] == res["tradeIDs"]
    t = trades[0]
    assert (t["trader_side"], t["side"], t["size"], t["owner"]) == ("TAKER", "BUY", "5", trader.api_key)
    assert t["transaction_hash"] == res["transactionsHashes"][0] and t["taker_order_id"] == res["orderID"]
    assert await trader("get_trades", TradeParams(id=res["tradeIDs"][0])) == trades
    assert await trader("get_open_orders") == []  # a FAK never rests
    shares = await trader(
        "get_balance_allowance", BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=token)
    )
    assert shares["balance"] == "5000000"
    # A market order (amount in USDC, off-grid implied price) is accepted too.
    market = await trader(
        "create_and_post_market_order",
        MarketOrderArgsV2(token_id=token, amount=3, side="BUY", price=float(ask["price"]) + 0.02),
        None,
        OrderType.FAK,
    )
    assert market["status"] == "matched"


async def test_a_second_account_crossing_fills_our_resting_order(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    maker, taker = await new_trader(sim), await new_trader(sim)
    token = sim.token_ids()[3]
    _, ask = touch(sim, token)
    sim.fund(maker.api_key, positions={token: "20"})
    rest = await maker(
        "create_and_post_order", OrderArgsV2(token_id=token, price=float(ask["price"]), size=20, side="SELL")
    )
    assert rest["status"] == "live"
    # Buy the whole best level: the crowd's entries first (time priority), then ours.
    take_size = float(Decimal(ask["size"]) + 20)
    took = await taker(
        "create_and_post_order",
        OrderArgsV2(token_id=token, price=float(ask["price"]), size=take_size, side="BUY"),
        None,
        OrderType.FAK,
    )
    assert took["status"] == "matched" and Decimal(took["takingAmount"]) == Decimal(str(take_size))
    order = await maker("get_order", rest["orderID"])
    assert (order["status"], order["size_matched"]) == ("MATCHED", "20")
    (seen,) = await maker("get_trades")
    assert seen["trader_side"] == "MAKER" and seen["owner"] == taker.api_key
    ours = [m for m in seen["maker_orders"] if m["owner"] == maker.api_key]
    assert [(m["order_id"], m["matched_amount"], m["side"]) for m in ours] == [(rest["orderID"], "20", "SELL")]
    assert (await taker("get_trades"))[0]["id"] == seen["id"]
    usdc = await maker("get_balance_allowance", BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
    assert Decimal(usdc["balance"]) == (10_000 + 20 * Decimal(ask["price"])) * 1_000_000


async def test_cancel_all_and_cancel_market_orders(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    t0, t1 = sim.token_ids()[0], sim.token_ids()[2]
    ids = []
    for token in (t0, t0, t1):
        bid, _ = touch(sim, token)
        args = OrderArgsV2(token_id=token, price=float(Decimal(bid["price"]) - Decimal("0.02")), size=6, side="BUY")
        ids.append((await trader("create_and_post_order", args))["orderID"])
    market0 = sim.engine.market_of(t0)
    out = await trader("cancel_market_orders", OrderMarketCancelParams(market=market0))
    assert sorted(out["canceled"]) == sorted(ids[:2])
    assert [o["id"] for o in await trader("get_open_orders")] == [ids[2]]
    assert (await trader("cancel_all"))["canceled"] == [ids[2]]
    assert await trader("get_open_orders") == []
    assert (await trader("cancel_orders", ids))["canceled"] == []


async def test_resting_order_gets_filled_by_simulated_flow(new_trader: Any) -> None:
    async with running_sim(seed=1, n_markets=6, taker_rate_hz=40.0, lp_rate_hz=2.0) as sim:
        trader = await new_trader(sim)
        # Fast takers can empty a side for a moment: pick among books with both sides, from one look each.
        touches = {}
        for t in sim.token_ids():
            book = sim.book(t)
            if book["bids"] and book["asks"]:
                touches[t] = (book["bids"][-1], book["asks"][-1])
        assert touches, "every book had an empty side"
        token = max(touches, key=lambda t: Decimal(touches[t][1]["price"]) - Decimal(touches[t][0]["price"]))
        bid, ask = touches[token]
        tick = Decimal(sim.book(token)["tick_size"])
        price = (
            Decimal(ask["price"]) - tick
            if Decimal(ask["price"]) - Decimal(bid["price"]) > tick
            else Decimal(bid["price"])
        )
        res = await trader("create_and_post_order", OrderArgsV2(token_id=token, price=float(price), size=5, side="BUY"))
        deadline = time.monotonic() + 20
        order = await trader("get_order", res["orderID"])
        while Decimal(order["size_matched"]) == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            order = await trader("get_order", res["orderID"])
        assert Decimal(order["size_matched"]) > 0, "no simulated taker reached our bid"
        trades = await trader("get_trades")
        assert trades and all(t["trader_side"] == "MAKER" and t["owner"] == "" for t in trades)


async def test_version_endpoint_drives_v2_signing(sim: RunningSim) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        assert (await http.get("/version")).json() == {"version": 2}
