"""Orders and requests the venue refuses, refused by polysim with the venue's status code and message."""

from __future__ import annotations

import dataclasses
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from py_clob_client_v2.clob_types import (
    ApiCreds,
    CreateOrderOptions,
    OrderArgsV2,
    OrderType,
    PostOrdersV2Args,
    RequestArgs,
)
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.headers.headers import create_level_1_headers, create_level_2_headers
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2

from polysim.harness import RunningSim


def best(sim: RunningSim, token: str) -> tuple[Decimal, Decimal]:
    book = sim.book(token)
    return Decimal(book["bids"][-1]["price"]), Decimal(book["asks"][-1]["price"])


async def refused(call: Any, status: int) -> str:
    """Run an SDK call that must fail; return the venue's error message after checking the status."""
    with pytest.raises(PolyApiException) as err:
        await call
    assert err.value.status_code == status, err.value.error_msg
    assert isinstance(err.value.error_msg, dict) and set(err.value.error_msg) == {"error"}
    return str(err.value.error_msg["error"])


async def test_tampered_signature_is_refused(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    token = sim.token_ids()[0]
    bid, _ = best(sim, token)
    order = await trader(
        "create_order", OrderArgsV2(token_id=token, price=float(bid - Decimal("0.03")), size=5, side="BUY")
    )
    tampered = dataclasses.replace(order, takerAmount=str(int(order.takerAmount) + 1_000_000))
    assert await refused(trader("post_order", tampered), 400) == "invalid signature"
    # A signature by a different wallet over the same order is refused too.
    other = await new_trader(sim)
    foreign = await other("create_order", OrderArgsV2(token_id=token, price=0.1, size=5, side="BUY"))
    stolen = dataclasses.replace(foreign, maker=trader.address, signer=trader.address)
    assert await refused(trader("post_order", stolen), 400) == "invalid signature"
    assert await trader("get_open_orders") == []


async def test_wrong_hmac_and_unknown_key_are_401(sim: RunningSim, new_trader: Any) -> None:
    trader = await new_trader(sim)
    good = trader.creds
    trader.client.set_api_creds(
        ApiCreds(good.api_key, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=", good.api_passphrase)
    )
    assert await refused(trader("get_open_orders"), 401) == "Unauthorized/Invalid api key"
    assert await refused(trader("cancel_all"), 401) == "Unauthorized/Invalid api key"
    trader.client.set_api_creds(ApiCreds("6f1c2b1e-0000-4000-8000-000000000000", good.api_secret, good.api_passphrase))
    assert await refused(trader("get_trades"), 401) == "Unauthorized/Invalid api key"
    trader.client.set_api_creds(good)
    assert await trader("get_open_orders") == []


async def test_stale_timestamps_are_refused_for_l1_and_l2(sim: RunningSim, new_trader: Any) -> None:
    trader = await new_trader(sim)
    stale = int(time.time()) - 3600
    async with httpx.AsyncClient(base_url=sim.url) as http:
        l2 = create_level_2_headers(
            trader.client.signer, trader.creds, RequestArgs(method="GET", request_path="/data/orders"), timestamp=stale
        )
        r = await http.get("/data/orders", headers=l2)
        assert (r.status_code, r.json()) == (401, {"error": "Unauthorized/Invalid api key"})
        l1 = create_level_1_headers(trader.client.signer, nonce=0, timestamp=stale)
        r = await http.get("/auth/derive-api-key", headers=l1)
        assert (r.status_code, r.json()) == (401, {"error": "Invalid L1 Request headers"})
        fresh = create_level_2_headers(
            trader.client.signer, trader.creds, RequestArgs(method="GET", request_path="/data/orders")
        )
        r = await http.get("/data/orders", params={"next_cursor": "MA=="}, headers=fresh)
        assert r.status_code == 200 and r.json()["next_cursor"] == "LTE="


async def test_forged_l1_signature_is_refused(sim: RunningSim, new_trader: Any) -> None:
    trader = await new_trader(sim)
    victim = await new_trader(sim)
    headers = create_level_1_headers(trader.client.signer, nonce=0)
    async with httpx.AsyncClient(base_url=sim.url) as http:
        r = await http.get("/auth/derive-api-key", headers={**headers, "POLY_ADDRESS": victim.address})
        assert (r.status_code, r.json()) == (401, {"error": "Invalid L1 Request headers"})
        r = await http.post("/auth/api-key", headers=headers)  # already created for nonce 0
        assert (r.status_code, r.json()) == (400, {"error": "Could not create api key"})


async def test_off_tick_price_is_refused(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    token = next(t for t in sim.token_ids() if sim.book(t)["tick_size"] == "0.01")
    # Sign for a finer tick than the market's (the SDK itself would refuse, so build the order directly).
    builder = OrderBuilder(trader.client.signer)
    order = builder.build_order(
        OrderArgsV2(token_id=token, price=0.055, size=10, side="BUY"),
        CreateOrderOptions(tick_size="0.001", neg_risk=sim.engine.neg_risk(token)),
    )
    message = await refused(trader("post_order", order), 400)
    assert message.startswith("order 0x") and message.endswith(
        "is invalid. Price (0.055) breaks minimum tick size rule: 0.01"
    )
    # A FAK is held to the grid as well (only the few-millionths slack of SDK market orders is tolerated).
    assert "breaks minimum tick size rule" in await refused(trader("post_order", order, OrderType.FAK), 400)


async def test_size_owner_balance_postonly_fok_and_batch_limits(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    trader = await new_trader(sim)
    token = sim.token_ids()[0]
    bid, ask = best(sim, token)

    small = await trader("create_order", OrderArgsV2(token_id=token, price=float(bid), size=4, side="BUY"))
    assert "lower than the minimum: 5" in await refused(trader("post_order", small), 400)

    poor = await trader("create_order", OrderArgsV2(token_id=token, price=float(bid), size=100_000, side="BUY"))
    assert await refused(trader("post_order", poor), 400) == "not enough balance / allowance"
    no_shares = await trader("create_order", OrderArgsV2(token_id=token, price=float(ask), size=5, side="SELL"))
    assert await refused(trader("post_order", no_shares), 400) == "not enough balance / allowance"

    crossing = await trader("create_order", OrderArgsV2(token_id=token, price=float(ask), size=5, side="BUY"))
    assert await refused(trader("post_order", crossing, OrderType.GTC, True), 400) == (
        "invalid post-only order: order crosses book"
    )
    huge_fok = await trader("create_order", OrderArgsV2(token_id=token, price=float(ask), size=5_000, side="BUY"))
    sim.fund(trader.api_key, usdc="100000")
    assert (await refused(trader("post_order", huge_fok, OrderType.FOK), 400)).startswith(
        "order couldn't be fully filled"
    )
    low_fak = await trader("create_order", OrderArgsV2(token_id=token, price=0.01, size=5, side="BUY"))
    assert (await refused(trader("post_order", low_fak, OrderType.FAK), 400)).startswith("no orders found to match")

    resting = await trader(
        "create_order", OrderArgsV2(token_id=token, price=float(bid - Decimal("0.02")), size=5, side="BUY")
    )
    first = await trader("post_order", resting)
    assert first["status"] == "live"
    assert await refused(trader("post_order", resting), 400) == f"order {first['orderID']} is invalid. Duplicated."

    batch = [PostOrdersV2Args(order=resting, orderType=OrderType.GTC)] * 16
    assert await refused(trader("post_orders", batch), 400) == "Too many orders in payload: 16, max allowed: 15"
    mixed = await trader(
        "post_orders",
        [
            PostOrdersV2Args(order=small, orderType=OrderType.GTC),
            PostOrdersV2Args(order=resting, orderType=OrderType.GTC),
        ],
    )
    assert [m["success"] for m in mixed] == [False, False]
    assert "lower than the minimum" in mixed[0]["errorMsg"] and "Duplicated" in mixed[1]["errorMsg"]


async def test_order_owner_must_be_the_callers_key(sim: RunningSim, new_trader: Any) -> None:
    sim.freeze()
    alice, bob = await new_trader(sim), await new_trader(sim)
    token = sim.token_ids()[0]
    bid, _ = best(sim, token)
    order = await alice(
        "create_order", OrderArgsV2(token_id=token, price=float(bid - Decimal("0.02")), size=5, side="BUY")
    )
    async with httpx.AsyncClient(base_url=sim.url) as http:
        for owner_key, creds, signer, expected in (
            (bob.api_key, alice.creds, alice.client.signer, "the order owner has to be the owner of the API KEY"),
            (
                bob.api_key,
                bob.creds,
                bob.client.signer,
                "the order signer address has to be the address of the API KEY",
            ),
        ):
            body = json.dumps(order_to_json_v2(order, owner_key, "GTC"), separators=(",", ":"))
            headers = create_level_2_headers(
                signer, creds, RequestArgs(method="POST", request_path="/order", body=None, serialized_body=body)
            )
            r = await http.post("/order", content=body, headers=headers)
            assert (r.status_code, r.json()) == (400, {"error": expected})
        garbage = '{"order":{"salt":1},"owner":"x","orderType":"GTC"}'
        headers = create_level_2_headers(
            alice.client.signer, alice.creds, RequestArgs(method="POST", request_path="/order", serialized_body=garbage)
        )
        r = await http.post("/order", content=garbage, headers=headers)
        assert (r.status_code, r.json()) == (400, {"error": "Invalid order payload"})


async def test_v1_orders_are_refused_unless_enabled(sim: RunningSim, new_trader: Any) -> None:
    v1 = await new_trader(sim, v1=True)
    token = sim.token_ids()[0]
    from py_clob_client.clob_types import OrderArgs

    order = await v1("create_order", OrderArgs(token_id=token, price=0.1, size=5, side="BUY"))
    with pytest.raises(Exception) as err:
        await v1("post_order", order)
    assert getattr(err.value, "status_code", None) == 400
    assert err.value.error_msg == {"error": "order_version_mismatch"}  # type: ignore[attr-defined]


async def test_proxy_wallet_orders_need_a_whitelisted_funder(sim: RunningSim) -> None:
    import asyncio

    from eth_account import Account
    from py_clob_client_v2.client import ClobClient

    sim.freeze()
    owner, proxy = Account.create(), Account.create().address
    client = ClobClient(sim.url, 137, key=owner.key.hex(), signature_type=2, funder=proxy)
    client.set_api_creds(await asyncio.to_thread(client.create_or_derive_api_key))
    token = sim.token_ids()[0]
    bid, _ = best(sim, token)
    args = OrderArgsV2(token_id=token, price=float(bid - Decimal("0.02")), size=5, side="BUY")
    order = await asyncio.to_thread(client.create_order, args)
    assert await refused(asyncio.to_thread(client.post_order, order), 400) == "invalid signature"
    async with httpx.AsyncClient(base_url=sim.url) as http:
        r = await http.post("/_sim/trading", json={"proxy_wallets": {proxy.lower(): owner.address.lower()}})
        assert r.status_code == 200
    placed = await asyncio.to_thread(client.post_order, order)
    assert placed["status"] == "live"
    (listed,) = await asyncio.to_thread(client.get_open_orders)
    assert listed["maker_address"] == proxy
