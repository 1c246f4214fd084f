"""Public CLOB REST: exact shapes, errors, and the real SDKs (v2 and 0.34.6) reading them unchanged."""

from __future__ import annotations

import asyncio
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from py_clob_client.client import ClobClient as ClobClientV1
from py_clob_client.clob_types import BookParams as BookParamsV1
from py_clob_client.utilities import generate_orderbook_summary_hash as sdk_hash_v1
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import BookParams, OrderType
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.utilities import generate_orderbook_summary_hash, parse_raw_orderbook_summary

from polysim.harness import RunningSim

FIXTURES = Path(os.environ["POLYBOT_FIXTURES"])
BOOK_KEYS = ["market", "asset_id", "timestamp", "hash", "bids", "asks", "min_order_size", "tick_size", "neg_risk",
             "last_trade_price"]


async def get(sim: RunningSim, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(sim.url + path, params=params)


async def test_book_has_the_ten_keys_in_order_levels_worst_to_best(sim: RunningSim) -> None:
    token = sim.token_ids()[0]
    r = await get(sim, "/book", token_id=token)
    assert r.status_code == 200
    book = r.json()
    assert list(book) == BOOK_KEYS
    assert isinstance(book["timestamp"], str) and book["min_order_size"] == "5" and book["neg_risk"] in (True, False)
    bids = [Decimal(lv["price"]) for lv in book["bids"]]
    asks = [Decimal(lv["price"]) for lv in book["asks"]]
    assert bids == sorted(bids) and asks == sorted(asks, reverse=True) and bids[-1] < asks[-1]
    assert generate_orderbook_summary_hash(parse_raw_orderbook_summary(dict(book))) == book["hash"]


async def test_errors_are_the_venues(sim: RunningSim) -> None:
    r = await get(sim, "/book", token_id="123")
    assert (r.status_code, r.json()) == (404, {"error": "No orderbook exists for the requested token id"})
    assert (await get(sim, "/book")).status_code == 400
    r = await get(sim, "/price", token_id=sim.token_ids()[0], side="UP")
    assert r.status_code == 400 and "error" in r.json()
    assert (await get(sim, "/markets/0xdead")).status_code == 404
    assert (await get(sim, "/markets", next_cursor="@@")).status_code == 400


async def test_time_version_and_markets_paging(sim: RunningSim) -> None:
    r = await get(sim, "/time")
    assert r.text.isdigit()
    assert (await get(sim, "/version")).json() == {"version": 2}
    page = (await get(sim, "/markets")).json()
    assert page["next_cursor"] == "LTE=" and page["count"] == len(page["data"]) == len(sim.condition_ids())
    fixture_keys = set(json.loads((FIXTURES / "rest_clob" / "market_by_condition_id_2024-09.json").read_text()))
    assert set(page["data"][0]) == fixture_keys


async def test_markets_pagination_over_many_markets() -> None:
    from polysim.harness import running_sim

    async with running_sim(seed=2, n_markets=250, active_books=5) as big:
        cursor, seen = "MA==", []
        while cursor != "LTE=":
            page = (await get(big, "/markets", next_cursor=cursor)).json()
            seen += [m["condition_id"] for m in page["data"]]
            cursor = page["next_cursor"]
        assert seen == big.condition_ids()


def _sdk_reads(url: str, token: str, other: str, condition_id: str) -> dict[str, Any]:
    client = ClobClient(host=url, chain_id=137)
    out: dict[str, Any] = {
        "ok": client.get_ok(),
        "time": client.get_server_time(),
        "version": client.get_version(),
        "book": client.get_order_book(token),
        "books": client.get_order_books([BookParams(token_id=token), BookParams(token_id=other)]),
        "buy": client.get_price(token, "BUY"),
        "sell": client.get_price(token, "SELL"),
        "prices": client.get_prices([BookParams(token_id=token, side="BUY"), BookParams(token_id=other, side="SELL")]),
        "mid": client.get_midpoint(token),
        "mids": client.get_midpoints([BookParams(token_id=token), BookParams(token_id=other)]),
        "spread": client.get_spread(token),
        "spreads": client.get_spreads([BookParams(token_id=token)]),
        "tick": client.get_tick_size(token),
        "neg_risk": client.get_neg_risk(token),
        "fee": client.get_fee_rate_bps(token),
        "ltp": client.get_last_trade_price(token),
        "markets": client.get_markets(),
        "market": client.get_market(condition_id),
        "simplified": client.get_simplified_markets(),
        "info": client.get_clob_market_info(condition_id),
        "exponent": client.get_fee_exponent(other),
        "market_buy_price": client.calculate_market_price(token, "BUY", 10, OrderType.FOK),
    }
    try:
        client.get_order_book("1")
    except PolyApiException as exc:
        out["missing"] = (exc.status_code, exc.error_msg)
    return out


async def test_py_clob_client_v2_public_calls_unchanged(sim: RunningSim) -> None:
    sim.freeze()  # a still book, so the SDK's answers can be compared with ours
    market = sim.ctx.catalog.markets[0]
    token, other = market.token_ids
    res = await asyncio.to_thread(_sdk_reads, sim.url, token, other, market.condition_id)
    book = sim.book(token)
    assert res["ok"] == "OK" and isinstance(res["time"], int) and res["version"] == 2
    assert res["book"] == book
    assert [b["asset_id"] for b in res["books"]] == [token, other]
    best_bid, best_ask = book["bids"][-1]["price"], book["asks"][-1]["price"]
    assert res["buy"] == {"price": best_bid} and res["sell"] == {"price": best_ask}
    assert res["prices"] == {token: {"BUY": best_bid}, other: {"SELL": sim.book(other)["asks"][-1]["price"]}}
    mid = (Decimal(best_bid) + Decimal(best_ask)) / 2
    assert Decimal(res["mid"]["mid"]) == mid and Decimal(res["mids"][token]) == mid
    assert Decimal(res["spread"]["spread"]) == Decimal(best_ask) - Decimal(best_bid)
    assert res["spreads"] == {token: res["spread"]["spread"]}
    assert res["tick"] == book["tick_size"] and res["neg_risk"] is market.neg_risk and res["fee"] == 0
    assert set(res["ltp"]) == {"price", "side"}
    assert res["markets"]["next_cursor"] == "LTE=" and res["market"]["condition_id"] == market.condition_id
    assert [t["token_id"] for t in res["market"]["tokens"]] == [token, other]
    assert res["simplified"]["data"][0]["condition_id"] == market.condition_id
    assert res["info"]["mts"] == float(book["tick_size"]) and res["exponent"] == 0
    assert res["market_buy_price"] >= float(best_ask)
    assert res["missing"] == (404, {"error": "No orderbook exists for the requested token id"})


def _sdk_v1_reads(url: str, token: str) -> dict[str, Any]:
    client = ClobClientV1(url, chain_id=137)
    book = client.get_order_book(token)
    return {
        "book": book,
        "hash": sdk_hash_v1(book),
        "books": client.get_order_books([BookParamsV1(token_id=token)]),
        "price": client.get_price(token, "BUY"),
        "mid": client.get_midpoint(token),
        "tick": client.get_tick_size(token),
        "neg_risk": client.get_neg_risk(token),
        "markets": client.get_markets(),
    }


async def test_py_clob_client_0_34_6_public_calls_unchanged(sim: RunningSim) -> None:
    sim.freeze()
    token = sim.token_ids()[2]
    res = await asyncio.to_thread(_sdk_v1_reads, sim.url, token)
    raw = sim.book(token)
    assert res["hash"] == raw["hash"] == res["book"].hash
    assert res["books"][0].asset_id == token and res["tick"] == raw["tick_size"]
    assert res["price"] == {"price": raw["bids"][-1]["price"]} and "mid" in res["mid"]
    assert res["markets"]["data"]


@pytest.mark.parametrize("path", ["/tick-size", "/neg-risk"])
async def test_unknown_token_on_market_parameter_routes(sim: RunningSim, path: str) -> None:
    assert (await get(sim, path, token_id="42")).status_code == 404

