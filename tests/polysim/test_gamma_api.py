"""Gamma under /gamma: field names and string-encoded lists as recorded, pagination, filters, admin patches."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx

from polybot.venue.gamma_schemas import parse_clob_market, parse_event, parse_market
from polysim.harness import RunningSim, running_sim

FIXTURES = Path(os.environ["POLYBOT_FIXTURES"]) / "gamma"


def fixture_market_keys() -> set[str]:
    single = json.loads((FIXTURES / "gamma_market_2026-03_btc_updown.json").read_text())
    nested = json.loads((FIXTURES / "gamma_events_list_2026.json").read_text())[0]["markets"][0]
    return set(single) | set(nested)


async def gamma(sim: RunningSim, path: str, params: Any = None) -> Any:
    async with httpx.AsyncClient() as http:
        r = await http.get(sim.gamma_url + path, params=params)
        assert r.status_code == 200, r.text
        return r.json()


async def test_market_fields_are_the_recorded_ones(sim: RunningSim) -> None:
    items = await gamma(sim, "/markets", {"limit": "100"})
    assert len(items) == len(sim.condition_ids())
    recorded = fixture_market_keys()
    for item in items:
        assert set(item) - recorded <= {"clobRewards", "version", "positionIds", "feeSchedule"}, set(item) - recorded
        assert item["version"] == "v1"
        for key in ("outcomes", "outcomePrices", "clobTokenIds"):
            assert isinstance(item[key], str) and len(json.loads(item[key])) == 2
        assert json.loads(item["clobTokenIds"]) == sim.token_ids(item["conditionId"])
        assert isinstance(item["orderPriceMinTickSize"], float) and item["orderMinSize"] == 5
        record, tags = parse_market(item)
        assert record.condition_id == item["conditionId"] and tags
    single = json.loads((FIXTURES / "gamma_market_2026-03_btc_updown.json").read_text())
    assert [k for k in items[0] if k in single] == [k for k in single if k in items[0]]  # same key order


async def test_events_nest_their_markets_and_neg_risk_is_consistent() -> None:
    async with running_sim(seed=4, n_markets=30, n_events=8, active_books=2) as sim:
        events = await gamma(sim, "/events", {"limit": "50"})
        assert len(events) == 8 and sum(len(e["markets"]) for e in events) == 30
        assert any(e["negRisk"] for e in events) and any(len(e["markets"]) > 1 and not e["negRisk"] for e in events)
        for e in events:
            parse_event(e)
            assert all(m["negRisk"] == e["negRisk"] for m in e["markets"])
            if e["negRisk"]:
                assert {m["negRiskMarketID"] for m in e["markets"]} == {e["negRiskMarketID"]}
        one = await gamma(sim, f"/events/{events[3]['id']}")
        assert one == events[3]


async def test_offset_pagination_and_filters(sim: RunningSim) -> None:
    sim.freeze()  # prices in the items stay put between requests
    everything = await gamma(sim, "/markets", {"limit": "100"})
    pages = [await gamma(sim, "/markets", {"limit": "4", "offset": str(o)}) for o in (0, 4, 8)]
    assert [m["id"] for page in pages for m in page] == [m["id"] for m in everything]
    descending = await gamma(sim, "/markets", {"limit": "100", "order": "id", "ascending": "false"})
    assert [m["id"] for m in descending] == [m["id"] for m in everything][::-1]
    cids = [everything[1]["conditionId"], everything[3]["conditionId"]]
    by_cid = await gamma(sim, "/markets", [("condition_ids", c) for c in cids])
    assert [m["conditionId"] for m in by_cid] == cids
    assert [m["id"] for m in await gamma(sim, "/markets", {"id": everything[2]["id"]})] == [everything[2]["id"]]
    assert await gamma(sim, "/markets", {"slug": everything[0]["slug"]}) == [everything[0]]
    assert await gamma(sim, f"/markets/{everything[5]['id']}") == everything[5]
    async with httpx.AsyncClient() as http:
        assert (await http.get(sim.gamma_url + "/markets/999")).status_code == 404
        assert (await http.get(sim.gamma_url + "/markets", params={"limit": "x"})).status_code == 400


async def test_admin_patch_changes_gamma_and_clob_views(sim: RunningSim) -> None:
    cid = sim.condition_ids()[0]
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{sim.url}/_sim/markets/{cid}", json={"question": "Renamed?", "closed": True,
                                                                  "orderMinSize": 15})
        assert r.status_code == 200 and r.json()["closed"] is True
        assert (await http.post(f"{sim.url}/_sim/markets/{cid}", json={"nope": 1})).status_code == 400
        clob = parse_clob_market((await http.get(f"{sim.url}/markets/{cid}")).json())
        book = (await http.get(f"{sim.url}/book", params={"token_id": sim.token_ids(cid)[0]})).json()
    assert clob.closed and clob.question == "Renamed?" and str(clob.minimum_order_size) == "15"
    assert book["min_order_size"] == "15"
    open_ids = {m["conditionId"] for m in await gamma(sim, "/markets", {"limit": "100"})}
    closed = await gamma(sim, "/markets", {"closed": "true"})
    assert cid not in open_ids and [m["conditionId"] for m in closed] == [cid]
    assert closed[0]["question"] == "Renamed?" and closed[0]["orderMinSize"] == 15
    sim.patch_market(cid, closed=False)
    assert cid in {m["conditionId"] for m in await gamma(sim, "/markets", {"limit": "100"})}


async def test_public_search_and_tags(sim: RunningSim) -> None:
    title = sim.ctx.catalog.events[0].title
    found = await gamma(sim, "/public-search", {"q": title.split()[0].lower()})
    assert set(found) == {"events", "pagination"} and set(found["pagination"]) == {"hasMore", "totalResults"}
    assert title in [e["title"] for e in found["events"]]
    tags = await gamma(sim, "/tags")
    assert tags and all({"id", "label", "slug"} <= set(t) for t in tags)


async def test_five_thousand_markets_in_a_thousand_events() -> None:
    started = time.monotonic()
    async with running_sim(seed=1, n_markets=5000, n_events=1000, active_books=10) as sim:
        ready_s = time.monotonic() - started
        total_markets = events = pages = 0
        body: dict[str, Any] = {}
        while pages == 0 or "next_cursor" in body:
            params = {"limit": "500", **({"after_cursor": body["next_cursor"]} if body else {})}
            body = await gamma(sim, "/events/keyset", params)
            assert len(body["events"]) <= 100
            events += len(body["events"])
            total_markets += sum(len(e["markets"]) for e in body["events"])
            pages += 1
        assert (events, total_markets, pages) == (1000, 5000, 10)
        assert len(await gamma(sim, "/markets", {"limit": "1000", "offset": "100"})) == 1000
    assert ready_s < 5


async def test_legacy_listings_are_deprecated_and_refuse_deep_offsets() -> None:
    headers = {"deprecation": "true", "sunset": "Fri, 01 May 2026 00:00:00 GMT",
               "warning": '299 - "use /markets/keyset"'}
    too_large = {"type": "validation error", "error": "offset too large, use /markets/keyset for deeper pagination"}
    async with running_sim(seed=2, n_markets=150, gamma_legacy_max_offset=40, active_books=0) as sim, \
            httpx.AsyncClient() as http:
        for path in ("/markets", "/events"):
            answers = {}
            for name, params in (("ok", {}), ("edge", {"offset": "40"}), ("deep", {"offset": "41"}),
                                 ("bad", {"limit": "x"}), ("many", [("condition_ids", str(i)) for i in range(101)])):
                r = await http.get(sim.gamma_url + path, params=params)
                answers[name] = r.status_code
                assert {k: r.headers.get(k) for k in headers} == headers, (path, name)
                if name == "deep":
                    assert r.json() == too_large
            assert answers == {"ok": 200, "edge": 200, "deep": 422, "bad": 400, "many": 422}
        edge = (await http.get(sim.gamma_url + "/markets", params={"offset": "40", "limit": "5"})).json()
        assert [m["id"] for m in edge] == [m.gamma_id for m in sim.ctx.catalog.markets[40:45]]
        for path in ("/markets/keyset", "/markets/1", "/events/keyset"):  # only the legacy listings
            assert "deprecation" not in (await http.get(sim.gamma_url + path)).headers
    async with running_sim(seed=2, n_markets=5, active_books=0) as sim, httpx.AsyncClient() as http:
        assert (await http.get(sim.gamma_url + "/markets", params={"offset": "100"})).status_code == 200
        assert (await http.get(sim.gamma_url + "/markets", params={"offset": "101"})).status_code == 422


async def test_catalog_loaded_from_recorded_gamma_json() -> None:
    recorded = json.loads((FIXTURES / "gamma_events_list_2026.json").read_text())
    want = {m["conditionId"]: json.loads(m["clobTokenIds"]) for e in recorded for m in e["markets"]}
    async with running_sim(catalog=FIXTURES / "gamma_events_list_2026.json") as sim:
        assert {cid: sim.token_ids(cid) for cid in sim.condition_ids()} == want
        listed = await gamma(sim, "/events", {"closed": "false"}) + await gamma(sim, "/events", {"closed": "true"})
        assert [e["id"] for e in listed] == [e["id"] for e in recorded]
        served = {m["conditionId"]: m for e in listed for m in e["markets"]}
        for e in recorded:
            for m in e["markets"]:
                assert served[m["conditionId"]]["question"] == m["question"]
                assert served[m["conditionId"]]["orderPriceMinTickSize"] == m["orderPriceMinTickSize"]
        token = next(iter(want.values()))[0]
        assert sim.book(token)["tick_size"] == str(recorded[0]["markets"][0]["orderPriceMinTickSize"])
    async with running_sim(catalog=FIXTURES / "gamma_public_search_response.json", active_books=1) as sim:
        assert sim.condition_ids()
