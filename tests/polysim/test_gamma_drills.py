"""Catalog drills over HTTP: listing a new event at run time, delisting a market, patching ``version``; and the
2026 market fields (version, positionIds, feesEnabled/feeSchedule)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from polymarket.models import Market

from polysim.cli_args import config_from_args
from polysim.harness import RunningSim, running_sim


async def ok(http: httpx.AsyncClient, url: str, params: Any = None) -> Any:
    r = await http.get(url, params=params)
    assert r.status_code == 200, (url, r.text)
    return r.json()


async def test_a_new_event_is_listed_everywhere_with_larger_ids_and_moving_books() -> None:
    async with running_sim(seed=11, n_markets=40, n_events=12, active_books=40) as sim, httpx.AsyncClient() as http:
        old_markets = [int(m.gamma_id) for m in sim.ctx.catalog.markets]
        old_events = [int(e.gamma_id) for e in sim.ctx.catalog.events]
        r = await http.post(f"{sim.url}/_sim/gamma/events", json={"markets": 3, "neg_risk": True})
        assert r.status_code == 200 and set(r.json()) == {"event_id", "condition_ids"}
        event_id, cids = r.json()["event_id"], r.json()["condition_ids"]
        assert int(event_id) > max(old_events) and len(cids) == 3
        g = sim.gamma_url
        listed = {m["conditionId"]: m for m in await ok(http, f"{g}/markets", {"limit": "100"})}
        keyset = {m["conditionId"] for m in (await ok(http, f"{g}/markets/keyset", {"limit": "100"}))["markets"]}
        assert set(cids) <= set(listed) and set(cids) <= keyset
        ids = [int(listed[c]["id"]) for c in cids]
        assert min(ids) > max(old_markets) and ids == sorted(ids)
        for c in cids:
            m = listed[c]
            assert len(json.loads(m["clobTokenIds"])) == 2 and m["orderPriceMinTickSize"] in (0.01, 0.001)
            assert m["orderMinSize"] == 5 and m["negRisk"] is True and m["version"] == "v1"
            Market.parse_response(m)
            assert await ok(http, f"{g}/markets/{m['id']}") == m
            assert (await ok(http, f"{g}/markets/slug/{m['slug']}"))["id"] == m["id"]
            assert (await ok(http, f"{sim.url}/markets/{c}"))["condition_id"] == c
            assert (await ok(http, f"{sim.url}/clob-markets/{c}"))["t"][0]["t"] == json.loads(m["clobTokenIds"])[0]
        event = await ok(http, f"{g}/events/{event_id}")
        assert [m["conditionId"] for m in event["markets"]] == cids
        assert {m["negRiskMarketID"] for m in event["markets"]} == {event["negRiskMarketID"]}
        found = await ok(http, f"{g}/public-search", {"q": event["title"]})
        assert event_id in [e["id"] for e in found["events"]]
        token = sim.token_ids(cids[0])[0]
        before = await ok(http, f"{sim.url}/book", {"token_id": token})
        assert before["bids"] and before["asks"]
        sim.engine.step(sim.now_ms() + 120_000)  # two minutes of the crowd, at once
        after = await ok(http, f"{sim.url}/book", {"token_id": token})
        assert after["hash"] != before["hash"], "the new market's book moves like the others"


async def test_new_event_bodies_are_checked() -> None:
    async with running_sim(seed=12, n_markets=5) as sim, httpx.AsyncClient() as http:
        for body in ({"markets": 0}, {"markets": 51}, {"markets": "3"}, {"markets": 2, "neg_risk": "no"},
                     {"markets": 2, "version": "v3"}, []):
            r = await http.post(f"{sim.url}/_sim/gamma/events", json=body)
            assert r.status_code == 400 and "error" in r.json(), body
        r = await http.post(f"{sim.url}/_sim/gamma/events", json={"markets": 50, "version": "v2"})
        assert len(r.json()["condition_ids"]) == 50
        assert len(sim.ctx.catalog.markets) == 55


async def test_a_delisted_market_leaves_every_gamma_view_and_keeps_its_clob_side(sim: RunningSim) -> None:
    catalog = sim.ctx.catalog
    event = next(e for e in catalog.events if len(e.markets) > 1)
    gone = event.markets[0]
    g = sim.gamma_url
    async with httpx.AsyncClient() as http:
        assert (await http.delete(f"{sim.url}/_sim/markets/0x{'0' * 64}")).status_code == 404
        r = await http.delete(f"{sim.url}/_sim/markets/{gone.condition_id}")
        assert r.status_code == 200 and r.json() == {"delisted": gone.condition_id}
        assert gone.condition_id not in {m["conditionId"] for m in await ok(http, f"{g}/markets", {"limit": "100"})}
        keyset = await ok(http, f"{g}/markets/keyset", {"limit": "100"})
        assert gone.condition_id not in {m["conditionId"] for m in keyset["markets"]}
        assert await ok(http, f"{g}/markets", {"condition_ids": gone.condition_id}) == []
        assert (await ok(http, f"{g}/markets/keyset", {"condition_ids": gone.condition_id}))["markets"] == []
        assert (await http.get(f"{g}/markets/{gone.gamma_id}")).status_code == 404
        assert (await http.get(f"{g}/markets/slug/{gone.slug}")).status_code == 404
        nested = (await ok(http, f"{g}/events/{event.gamma_id}"))["markets"]
        assert [m["id"] for m in nested] == [m.gamma_id for m in event.markets[1:]]
        for e in await ok(http, f"{g}/events", {"limit": "100"}) + (await ok(http, f"{g}/events/keyset"))["events"]:
            assert gone.gamma_id not in [m["id"] for m in e["markets"]]
        searched = await ok(http, f"{g}/public-search", {"q": event.title.split(":")[0]})
        assert gone.gamma_id not in [m["id"] for e in searched["events"] for m in e["markets"]]
        assert (await ok(http, f"{sim.url}/markets/{gone.condition_id}"))["condition_id"] == gone.condition_id
        for m in event.markets[1:]:
            await http.delete(f"{sim.url}/_sim/markets/{m.condition_id}")
        assert (await http.get(f"{g}/events/{event.gamma_id}")).status_code == 404  # no market left: gone too
        assert event.gamma_id not in [e["id"] for e in await ok(http, f"{g}/events", {"limit": "100"})]


async def test_version_is_patchable_and_a_v2_market_gets_position_ids(sim: RunningSim) -> None:
    cid = sim.condition_ids()[2]
    async with httpx.AsyncClient() as http:
        assert (await http.post(f"{sim.url}/_sim/markets/{cid}", json={"version": "v3"})).status_code == 400
        assert (await http.post(f"{sim.url}/_sim/markets/{cid}", json={"version": "v2"})).status_code == 200
        v2 = (await ok(http, f"{sim.gamma_url}/markets/keyset", {"version": "v2"}))["markets"]
        assert [m["conditionId"] for m in v2] == [cid]
        ids = json.loads(v2[0]["positionIds"])
        assert len(ids) == 2 and not set(ids) & set(sim.token_ids(cid))
        assert cid not in {m["conditionId"] for m in await ok(http, f"{sim.gamma_url}/markets")}


async def test_fees_show_as_fees_enabled_with_a_fee_schedule() -> None:
    async with running_sim(seed=13, n_markets=8, fee_rate_bps=200, active_books=0) as sim, \
            httpx.AsyncClient() as http:
        for m in await ok(http, f"{sim.gamma_url}/markets"):
            assert m["feesEnabled"] is True and m["makerBaseFee"] == 0 and m["takerBaseFee"] == 0
            assert m["feeSchedule"] == {"exponent": 1, "rate": "0.02", "takerOnly": True, "rebateRate": "0.25"}
            fees = Market.parse_response(m).trading
            assert fees.fees_enabled is True and fees.fee_schedule is not None
            assert str(fees.fee_schedule.rate) == "0.02" and fees.fee_schedule.taker_only
    async with running_sim(seed=13, n_markets=8, active_books=0) as sim, httpx.AsyncClient() as http:
        for m in await ok(http, f"{sim.gamma_url}/markets"):
            assert m["feesEnabled"] is False and "feeSchedule" not in m


def test_the_command_line_sets_the_new_gamma_settings() -> None:
    config, _ = config_from_args(["--gamma-legacy-max-offset", "500", "--v2-markets", "3", "--fee-rate-bps", "10"])
    assert (config.gamma_legacy_max_offset, config.v2_markets, config.fee_rate_bps) == (500, 3, 10)
    default, _ = config_from_args([])
    assert (default.gamma_legacy_max_offset, default.v2_markets, default.fee_rate_bps) == (100, 0, 0)
