"""Gamma's keyset listings over real HTTP: page sizes, cursors, errors, filters, and walks that stay exact while
the catalog changes (run-time listings, delistings) or while the cursor is stuck (fault)."""

from __future__ import annotations

from typing import Any

import httpx

from polysim.harness import RunningSim, running_sim


async def get(sim: RunningSim, path: str, params: Any = None) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(sim.gamma_url + path, params=params)


async def page(sim: RunningSim, path: str, params: Any = None) -> dict[str, Any]:
    r = await get(sim, path, params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def walk(sim: RunningSim, path: str, params: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], list[int]]:
    """Every item of a full walk (it ends only when next_cursor is absent) and the page sizes."""
    key = path.split("/")[1]
    items: list[dict[str, Any]] = []
    sizes: list[int] = []
    body = await page(sim, path, params)
    while True:
        assert set(body) <= {key, "next_cursor"}
        items += body[key]
        sizes.append(len(body[key]))
        if "next_cursor" not in body:
            return items, sizes
        assert isinstance(body["next_cursor"], str) and body["next_cursor"]
        body = await page(sim, path, [*params, ("after_cursor", body["next_cursor"])])


def open_ids(sim: RunningSim) -> list[str]:
    return [m.gamma_id for m in sim.ctx.catalog.markets if not m.closed and m.version == "v1" and not m.delisted]


async def test_a_walk_returns_every_open_market_and_event_once_in_order_pages_of_at_most_100() -> None:
    async with running_sim(seed=2, n_markets=250, n_events=120, active_books=0) as sim:
        sim.patch_market(sim.condition_ids()[7], closed=True)
        markets, sizes = await walk(sim, "/markets/keyset", [("limit", "500")])
        assert sizes == [100, 100, 49]
        assert [m["id"] for m in markets] == open_ids(sim)
        assert all(m["closed"] is False for m in markets)
        events, sizes = await walk(sim, "/events/keyset", [("limit", "500")])
        assert sizes == [100, 20]
        assert [e["id"] for e in events] == [e.gamma_id for e in sim.ctx.catalog.events]
        assert sum(len(e["markets"]) for e in events) == 250  # an open event nests its closed market too
        default = await page(sim, "/markets/keyset")
        assert len(default["markets"]) == 20 and "next_cursor" in default


async def test_the_walk_ends_on_absence_even_when_the_last_page_is_full() -> None:
    async with running_sim(seed=3, n_markets=200, active_books=0) as sim:
        markets, sizes = await walk(sim, "/markets/keyset", [("limit", "100")])
        assert sizes == [100, 100] and len({m["id"] for m in markets}) == 200


async def test_cursor_is_not_a_parameter_offset_is_refused_and_bad_cursors_are_400() -> None:
    async with running_sim(seed=4, n_markets=60, active_books=0) as sim:
        sim.freeze()
        first = await page(sim, "/markets/keyset", {"limit": "10"})
        cursor = first["next_cursor"]
        assert await page(sim, "/markets/keyset", {"limit": "10", "cursor": cursor}) == first
        second = await page(sim, "/markets/keyset", {"limit": "10", "after_cursor": cursor})
        assert second["markets"][0]["id"] != first["markets"][0]["id"]
        for path in ("/markets/keyset", "/events/keyset"):
            for offset in ("0", "20"):
                r = await get(sim, path, {"offset": offset})
                assert r.status_code == 422 and r.json() == {
                    "type": "validation error",
                    "error": "offset is not supported on keyset endpoints, use after_cursor"}
        for params in ({"after_cursor": "not-a-cursor"}, {"after_cursor": cursor + "x"},
                       {"after_cursor": cursor, "closed": "true"}, {"after_cursor": cursor, "version": "v2"},
                       {"after_cursor": cursor, "order": "volumeNum"}):
            r = await get(sim, "/markets/keyset", {"limit": "10", **params})
            assert r.status_code == 400 and set(r.json()) == {"error"}, (params, r.text)
        r = await get(sim, "/events/keyset", {"limit": "10", "after_cursor": cursor})  # the other endpoint's
        assert r.status_code == 400 and "error" in r.json()


async def test_condition_ids_take_at_most_100_on_keyset_and_legacy_listings() -> None:
    async with running_sim(seed=5, n_markets=120, active_books=0) as sim:
        cids = sim.condition_ids()
        for path, key in (("/markets/keyset", "markets"), ("/markets", None)):
            hundred = await get(sim, path, [("condition_ids", c) for c in cids[:100]] + [("limit", "100")])
            assert hundred.status_code == 200
            found = hundred.json()[key] if key else hundred.json()
            assert {m["conditionId"] for m in found} == set(cids[:100])
            too_many = await get(sim, path, [("condition_ids", c) for c in cids[:101]])
            assert too_many.status_code == 422 and too_many.json() == {
                "type": "validation error", "error": "condition_ids: at most 100 values"}


async def test_version_selects_v1_by_default_both_or_v2_and_events_nest_only_matching_markets() -> None:
    async with running_sim(seed=6, n_markets=90, n_events=20, v2_markets=9, active_books=0) as sim:
        catalog = sim.ctx.catalog
        v2 = {m.gamma_id for m in catalog.markets if m.version == "v2"}
        assert len(v2) == 9 and len({m.event.gamma_id for m in catalog.markets if m.version == "v2"}) > 1
        every7 = [m for m in catalog.markets if m.version == "v1" and m.position_ids]
        assert every7, "some v1 markets carry positionIds"
        default, _ = await walk(sim, "/markets/keyset", [("limit", "100")])
        both, _ = await walk(sim, "/markets/keyset", [("version", "v1"), ("version", "v2"), ("limit", "100")])
        only2, _ = await walk(sim, "/markets/keyset", [("version", "v2")])
        assert {m["version"] for m in default} == {"v1"} and len(default) == 81
        assert len(both) == 90 and {m["id"] for m in only2} == v2
        assert all("positionIds" in m for m in only2)
        assert any("positionIds" in m for m in default)  # many v1 markets have them too
        events, _ = await walk(sim, "/events/keyset", [("version", "v2")])
        assert {m["id"] for e in events for m in e["markets"]} == v2
        assert {e["id"] for e in events} == {m.event.gamma_id for m in catalog.markets if m.version == "v2"}
        legacy = (await get(sim, "/markets", {"limit": "100"})).json()
        assert len(legacy) == 81


async def test_filters_and_orders_on_keyset_walks() -> None:
    async with running_sim(seed=7, n_markets=150, active_books=0) as sim:
        sim.freeze()
        everything, _ = await walk(sim, "/markets/keyset", [("limit", "100")])
        liq = sorted(m["liquidityNum"] for m in everything)[75]
        rich, _ = await walk(sim, "/markets/keyset", [("liquidity_num_min", str(liq)), ("limit", "30")])
        assert len(rich) == 75 and all(m["liquidityNum"] >= liq for m in rich)
        vol = sorted(m["volumeNum"] for m in everything)[100]
        busy, _ = await walk(sim, "/markets/keyset", [("volume_num_min", str(vol))])
        assert len(busy) == 50
        ordered, _ = await walk(sim, "/markets/keyset", [("order", "liquidityNum"), ("ascending", "false"),
                                                         ("limit", "40")])
        assert [m["liquidityNum"] for m in ordered] == sorted((m["liquidityNum"] for m in everything), reverse=True)
        assert len({m["id"] for m in ordered}) == 150
        cid = sim.condition_ids()[3]
        sim.patch_market(cid, endDate="2027-06-30T12:00:00Z")
        early, _ = await walk(sim, "/markets/keyset", [("end_date_max", "2028-01-01")])
        late, _ = await walk(sim, "/markets/keyset", [("end_date_min", "2028-01-01T00:00:00Z")])
        assert [m["conditionId"] for m in early] == [cid] and len(late) == 149
        r = await get(sim, "/markets/keyset", {"end_date_min": "soon"})
        assert r.status_code == 400


async def test_a_market_listed_mid_walk_after_the_cursor_appears_once_and_a_delisting_shifts_nothing() -> None:
    async with running_sim(seed=8, n_markets=230, active_books=0) as sim:
        before = open_ids(sim)
        first = await page(sim, "/markets/keyset", {"limit": "100"})
        seen = [m["id"] for m in first["markets"]]
        async with httpx.AsyncClient() as http:
            added = (await http.post(f"{sim.url}/_sim/gamma/events", json={"markets": 4})).json()
            gone_before = sim.ctx.catalog.markets[10].condition_id  # on a page already read
            gone_after = sim.ctx.catalog.markets[150].condition_id  # on a page still to come
            for cid in (gone_before, gone_after):
                assert (await http.delete(f"{sim.url}/_sim/markets/{cid}")).json() == {"delisted": cid}
        body = first
        while "next_cursor" in body:
            body = await page(sim, "/markets/keyset", {"limit": "100", "after_cursor": body["next_cursor"]})
            seen += [m["id"] for m in body["markets"]]
        new_ids = [sim.ctx.catalog.by_condition[c].gamma_id for c in added["condition_ids"]]
        assert min(int(i) for i in new_ids) > max(int(i) for i in before)
        assert len(seen) == len(set(seen))
        assert seen == [*before[:150], *before[151:], *new_ids]  # nothing skipped, the delisted one gone


async def test_the_stuck_cursor_fault_serves_page_one_again_with_the_same_cursor() -> None:
    async with running_sim(seed=9, n_markets=120, n_events=60, active_books=0) as sim:
        sim.freeze()
        async with httpx.AsyncClient() as http:
            for path, key in (("/markets/keyset", "markets"), ("/events/keyset", "events")):
                first = await page(sim, path, {"limit": "25"})
                r = await http.post(f"{sim.url}/_sim/faults", json={"gamma_cursor_stuck": True})
                assert r.json()["gamma_cursor_stuck"] is True
                assert (await http.get(f"{sim.url}/_sim/faults")).json()["gamma_cursor_stuck"] is True
                again = await page(sim, path, {"limit": "25", "after_cursor": first["next_cursor"]})
                assert again == first
                await http.post(f"{sim.url}/_sim/faults", json={"clear": True})
                assert (await http.get(f"{sim.url}/_sim/faults")).json()["gamma_cursor_stuck"] is False
                moved = await page(sim, path, {"limit": "25", "after_cursor": first["next_cursor"]})
                assert moved[key][0]["id"] != first[key][0]["id"]
            r = await http.post(f"{sim.url}/_sim/faults", json={"gamma_cursor_stuck": "yes"})
            assert r.status_code == 400
