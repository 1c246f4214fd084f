"""py-clob-client 0.34.6 (V1-signed orders) against polysim with ``accept_v1_orders`` on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from py_clob_client.clob_types import (
    AssetType,
    BalanceAllowanceParams,
    MarketOrderArgs,
    OpenOrderParams,
    OrderArgs,
    OrderType,
    PostOrdersArgs,
    TradeParams,
)

from polysim.harness import RunningSim, running_sim


@pytest.fixture
async def v1_sim() -> AsyncIterator[RunningSim]:
    async with running_sim(seed=2, n_markets=6, accept_v1_orders=True) as s:
        s.freeze()
        yield s


async def test_full_order_flow_with_the_legacy_sdk(v1_sim: RunningSim, new_trader: Any) -> None:
    sim = v1_sim
    trader = await new_trader(sim, v1=True)
    again = await trader("create_or_derive_api_creds")
    assert again.api_key == trader.api_key
    token = next(t for t in sim.token_ids() if sim.book(t)["tick_size"] == "0.01" and not sim.book(t)["neg_risk"])
    neg_token = next(t for t in sim.token_ids() if sim.book(t)["neg_risk"])
    book = await trader("get_order_book", token)  # parses all 10 keys
    assert book.asset_id == token and book.hash
    assert await trader("get_order_book_hash", book) == book.hash
    assert Decimal((await trader("get_midpoint", token))["mid"]) > 0
    bid, ask = Decimal(book.bids[-1].price), Decimal(book.asks[-1].price)

    rest = await trader(
        "create_and_post_order", OrderArgs(token_id=token, price=float(bid - Decimal("0.03")), size=8, side="BUY")
    )
    assert rest["success"] and rest["status"] == "live"
    neg_bid = Decimal(sim.book(neg_token)["bids"][-1]["price"])
    tick = Decimal(sim.book(neg_token)["tick_size"])
    neg = await trader(
        "create_and_post_order", OrderArgs(token_id=neg_token, price=float(neg_bid - 2 * tick), size=6, side="BUY")
    )
    assert neg["status"] == "live"  # signed under the V1 neg-risk exchange
    orders = await asyncio.wait_for(trader("get_orders"), 10)
    assert sorted(o["id"] for o in orders) == sorted([rest["orderID"], neg["orderID"]])
    assert [o["id"] for o in await trader("get_orders", OpenOrderParams(asset_id=token))] == [rest["orderID"]]

    fok = await trader("create_order", OrderArgs(token_id=token, price=float(ask), size=5, side="BUY"))
    filled = await trader("post_order", fok, OrderType.FOK)
    assert filled["status"] == "matched" and filled["tradeIDs"] and "transactionsHashes" not in filled  # 2026
    trades = await asyncio.wait_for(trader("get_trades"), 10)
    assert [t["taker_order_id"] for t in trades] == [filled["orderID"]]
    assert await trader("get_trades", TradeParams(market=trades[0]["market"])) == trades
    bal = await trader(
        "get_balance_allowance", BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=token)
    )
    assert bal["balance"] == "5000000"

    sell = await trader(
        "create_market_order",
        MarketOrderArgs(token_id=token, amount=5, side="SELL", price=float(bid - Decimal("0.02"))),
    )
    sold = await trader("post_orders", [PostOrdersArgs(order=sell, orderType=OrderType.FAK)])
    assert [s["status"] for s in sold] == ["matched"]

    assert (await trader("cancel", rest["orderID"]))["canceled"] == [rest["orderID"]]
    assert (await trader("post_heartbeat", None))["status"] == "ok"
    assert (await trader("cancel_all"))["canceled"] == [neg["orderID"]]
    assert await trader("get_orders") == []
