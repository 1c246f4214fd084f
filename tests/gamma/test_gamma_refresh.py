"""The refresh pipeline against a local Gamma/CLOB, real PostgreSQL and a real JetStream."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from polybot.app.gamma.publish import InfoPublisher, MemoryPublisher
from polybot.app.gamma.refresh import GammaRefresher, client_config
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.codec import decode
from polybot.bus.messages import MarketInfo
from polybot.bus.streams import MARKETS
from polybot.runtime.settings import GammaSelectionSettings, GammaSettings
from polybot.store.migrate import apply_migrations
from polybot.venue.gamma_client import GammaClient, GammaPaginationError


@pytest.fixture
async def gamma_pool(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    await apply_migrations(pool, ("gamma",))
    yield pool


def _settings(venue: Any, **kw: Any) -> GammaSettings:
    base: dict[str, Any] = {"gamma_url": venue.gamma_url, "clob_url": venue.url, "events_page_size": 4,
                            "backoff_base_s": 0.01, "backoff_max_s": 0.05}
    return GammaSettings(**{**base, **kw})


async def _last_seq(bus: Bus) -> int:
    return int((await bus.js.stream_info(MARKETS.name)).state.last_seq)


async def _last_info(bus: Bus, cid: str) -> MarketInfo:
    msg = await bus.js.get_last_msg(MARKETS.name, subjects.gamma_market(cid))
    info = decode(msg.data)
    assert isinstance(info, MarketInfo)
    return info


async def _refresh(venue: Any, pool: asyncpg.Pool, bus: InfoPublisher, *, incremental: bool = False,
                   **kw: Any) -> Any:
    settings = _settings(venue, **kw)
    async with GammaClient(client_config(settings)) as client:
        refresher = GammaRefresher(client, pool, bus, settings)
        return await (refresher.incremental() if incremental else refresher.full())


def _prefix() -> str:
    return uuid.uuid4().hex[:8]


async def test_full_refresh_lands_everything_and_a_rerun_changes_nothing(
    start_venue: Any, gamma_pool: asyncpg.Pool, bus: Bus
) -> None:
    venue = await start_venue(_prefix(), 10, 3)
    first_cid = venue.markets()[0]["conditionId"]
    seq0 = await _last_seq(bus)
    c = await _refresh(venue, gamma_pool, bus, selection={"condition_ids": (first_cid,)})
    assert (c.events, c.markets, c.outcomes, c.inserted, c.updated, c.unchanged) == (10, 30, 60, 30, 0, 0)
    assert (c.skipped_invalid, c.selected_for_making, c.published, c.clob_enriched) == (0, 1, 30, 30)
    assert await _last_seq(bus) == seq0 + 30
    async with gamma_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM events") == 10
        assert await conn.fetchval("SELECT count(*) FROM markets") == 30
        assert await conn.fetchval("SELECT count(*) FROM outcomes") == 60
        row = await conn.fetchrow("SELECT * FROM markets WHERE condition_id = $1", first_cid)
        assert row["selected_for_making"] and row["selection_reason"] == "explicit condition id"
        assert row["tick_size"] == Decimal("0.001") and row["min_order_size"] == Decimal(5)
        assert row["neg_risk"] is True and row["order_params_source"] == "clob"
        assert row["raw"]["conditionId"] == first_cid and row["event_id"] == venue.events[0]["id"]
        assert row["rewards_daily_rate"] == Decimal("0.001") and row["published_hash"] == row["info_hash"]
        outs = await conn.fetch("SELECT * FROM outcomes WHERE condition_id = $1 ORDER BY outcome_index", first_cid)
        assert [(o["token_id"], o["outcome"]) for o in outs] == list(
            zip(json.loads(venue.markets()[0]["clobTokenIds"]), ["Yes", "No"], strict=True))
        before = await conn.fetch("SELECT condition_id, updated_at FROM markets ORDER BY 1")
    info = await _last_info(bus, first_cid)
    assert info.selected_for_making and info.tick_size == Decimal("0.001") and len(info.tokens) == 2

    venue.requests.clear()
    again = await _refresh(venue, gamma_pool, bus, selection={"condition_ids": (first_cid,)})
    assert (again.inserted, again.updated, again.unchanged, again.published) == (0, 0, 30, 0)
    assert again.clob_enriched == 1  # only the selected market is re-read from the CLOB
    assert await _last_seq(bus) == seq0 + 30
    async with gamma_pool.acquire() as conn:
        assert await conn.fetch("SELECT condition_id, updated_at FROM markets ORDER BY 1") == before


async def test_a_changed_market_is_updated_and_published_once(
    start_venue: Any, gamma_pool: asyncpg.Pool, bus: Bus
) -> None:
    venue = await start_venue(_prefix(), 3, 2)
    await _refresh(venue, gamma_pool, bus)
    market = venue.markets()[3]
    market["orderPriceMinTickSize"] = 0.01
    market["acceptingOrders"] = False
    seq = await _last_seq(bus)
    c = await _refresh(venue, gamma_pool, bus)
    assert (c.inserted, c.updated, c.unchanged, c.published) == (0, 1, 5, 1)
    assert await _last_seq(bus) == seq + 1
    info = await _last_info(bus, market["conditionId"])
    assert info.tick_size == Decimal("0.01") and info.accepting_orders is False
    c = await _refresh(venue, gamma_pool, bus)
    assert (c.updated, c.published) == (0, 0)
    assert await _last_seq(bus) == seq + 1


async def test_clob_wins_over_gamma_for_order_params(start_venue: Any, gamma_pool: asyncpg.Pool, bus: Bus) -> None:
    venue = await start_venue(_prefix(), 1, 2)
    cid = venue.markets()[0]["conditionId"]
    venue.clob_overrides[cid] = {"minimum_tick_size": 0.01, "minimum_order_size": 15, "neg_risk": False}
    c = await _refresh(venue, gamma_pool, bus)
    assert c.clob_overrides == 1
    async with gamma_pool.acquire() as conn:
        row = await conn.fetchrow("SELECT tick_size, min_order_size, neg_risk, order_params_source FROM markets "
                                  "WHERE condition_id = $1", cid)
    assert tuple(row) == (Decimal("0.01"), Decimal(15), False, "clob")
    assert (await _last_info(bus, cid)).tick_size == Decimal("0.01")
    again = await _refresh(venue, gamma_pool, bus)  # unchanged on Gamma: the CLOB values stay, nothing moves
    assert (again.updated, again.unchanged, again.published, again.clob_enriched) == (0, 2, 0, 0)


async def test_closed_and_vanished_markets_are_marked_never_deleted(
    start_venue: Any, gamma_pool: asyncpg.Pool, bus: Bus
) -> None:
    venue = await start_venue(_prefix(), 3, 2)
    await _refresh(venue, gamma_pool, bus, selection={"auto": True})
    in_open_event = venue.events[0]["markets"][0]
    in_open_event["closed"] = True  # still nested in its (open) event
    closed_event = venue.events[1]
    closed_event["closed"] = True  # drops out of the closed=false listing with both its markets
    for m in closed_event["markets"]:
        m["closed"] = True
    gone = venue.events[2]["markets"].pop()  # Gamma forgets it entirely
    c = await _refresh(venue, gamma_pool, bus, selection={"auto": True})
    assert c.missing_marked == 1
    assert (c.markets, c.updated, c.unchanged) == (5, 3, 2)
    async with gamma_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM markets") == 6
        assert await conn.fetchval("SELECT count(*) FROM outcomes") == 12
        closed = {r["condition_id"] for r in await conn.fetch("SELECT condition_id FROM markets WHERE closed")}
        row = await conn.fetchrow("SELECT * FROM markets WHERE condition_id = $1", gone["conditionId"])
    assert closed == {in_open_event["conditionId"], *(m["conditionId"] for m in closed_event["markets"])}
    assert row["missing_since"] is not None and not row["selected_for_making"]
    info = await _last_info(bus, gone["conditionId"])
    assert info.missing and not info.selected_for_making
    assert (await _last_info(bus, in_open_event["conditionId"])).closed
    # it comes back: listed again, no longer missing
    venue.events[2]["markets"].append(gone)
    c = await _refresh(venue, gamma_pool, bus, selection={"auto": True})
    assert (c.updated, c.missing_marked) == (1, 0)
    assert not (await _last_info(bus, gone["conditionId"])).missing
    assert (await _refresh(venue, gamma_pool, bus, selection={"auto": True})).published == 0


async def test_malformed_items_are_skipped_and_counted(start_venue: Any, gamma_pool: asyncpg.Pool, bus: Bus) -> None:
    venue = await start_venue(_prefix(), 2, 3)
    venue.events[0]["markets"][1]["clobTokenIds"] = '["1", "2", "3"]'
    venue.events[1]["markets"][0]["conditionId"] = "not-a-condition-id"
    venue.events.insert(1, {"id": {"not": "an id"}, "markets": "nope"})
    c = await _refresh(venue, gamma_pool, bus)
    assert (c.skipped_invalid, c.markets, c.inserted, c.events) == (3, 4, 4, 2)
    venue.events[0]["markets"][1]["clobTokenIds"] = '["11", "22"]'
    c = await _refresh(venue, gamma_pool, bus)
    assert (c.skipped_invalid, c.inserted, c.missing_marked) == (2, 1, 0)


async def test_unacknowledged_markets_are_published_by_the_next_run(
    start_venue: Any, gamma_pool: asyncpg.Pool, bus: Bus
) -> None:
    venue = await start_venue(_prefix(), 2, 2)
    lost = MemoryPublisher(acked=False)  # published, but no ack came back: stored, never acknowledged
    c = await _refresh(venue, gamma_pool, lost)
    assert len({o.subject for o in lost.sent}) == 4  # each tried (and tried again at the run's end)
    assert (c.inserted, c.published) == (4, 0)
    c = await _refresh(venue, gamma_pool, bus)
    assert (c.unchanged, c.published) == (4, 4)
    assert (await _refresh(venue, gamma_pool, bus)).published == 0


async def test_incremental_picks_up_new_events_and_rereads_selected(
    start_venue: Any, gamma_pool: asyncpg.Pool, bus: Bus
) -> None:
    venue = await start_venue(_prefix(), 12, 2)
    selected = venue.markets()[0]["conditionId"]
    sel = GammaSelectionSettings(condition_ids=(selected,))
    await _refresh(venue, gamma_pool, bus, selection=sel)
    newcomer = await start_venue(_prefix(), 1, 2)
    newcomer.events[0]["id"] = "99999"
    venue.events.append(newcomer.events[0])
    venue.market(selected)["orderMinSize"] = 10
    venue.requests.clear()
    c = await _refresh(venue, gamma_pool, bus, selection=sel, incremental=True)
    assert (c.inserted, c.updated, c.published) == (2, 1, 3)
    event_pages = [q for p, q in venue.requests if p == "/gamma/events/keyset"]
    assert len(event_pages) == 2  # the newest page had something new, the next one did not
    assert (await _last_info(bus, selected)).min_order_size == Decimal(10)


async def _rows(pool: asyncpg.Pool, cids: list[str]) -> list[tuple[Any, ...]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT condition_id, content_hash, updated_at, closed, missing_since FROM markets "
                                "WHERE condition_id = ANY($1::text[]) ORDER BY 1", cids)
    return [tuple(r) for r in rows]


async def test_a_cursor_that_does_not_advance_fails_the_refresh_and_writes_nothing(
    start_venue: Any, gamma_pool: asyncpg.Pool, bus: Bus
) -> None:
    venue = await start_venue(_prefix(), 10, 2)
    cids = [m["conditionId"] for m in venue.markets()]
    venue.ignore_cursor = True
    seq = await _last_seq(bus)
    with pytest.raises(GammaPaginationError, match="cursor does not advance"):
        await _refresh(venue, gamma_pool, bus)
    assert await _rows(gamma_pool, cids) == []  # not even the first page
    assert await _last_seq(bus) == seq

    venue.ignore_cursor = False
    await _refresh(venue, gamma_pool, bus)
    before = await _rows(gamma_pool, cids)
    assert len(before) == 20
    venue.markets()[0]["question"] = "changed while the venue is broken"
    venue.events.pop()  # gone from the listing: a completed walk would explain it
    venue.ignore_cursor = True
    seq = await _last_seq(bus)
    with pytest.raises(GammaPaginationError):
        await _refresh(venue, gamma_pool, bus)
    assert await _rows(gamma_pool, cids) == before  # nothing updated, nothing marked missing
    assert await _last_seq(bus) == seq


async def test_markets_added_and_removed_during_the_walk_end_in_the_right_state(
    start_venue: Any, gamma_pool: asyncpg.Pool, bus: Bus
) -> None:
    prefix = _prefix()
    venue = await start_venue(prefix, 12, 2)
    await _refresh(venue, gamma_pool, bus)
    newcomer = (await start_venue(_prefix(), 1, 2)).events[0]
    newcomer["id"] = str(int(venue.events[-1]["id"]) + 1)
    last_event = venue.events[-1]  # not reached by the walk's first page
    delisted, closing = last_event["markets"][1], venue.events[-2]["markets"][0]
    new_cids = [m["conditionId"] for m in newcomer["markets"]]

    def during_walk(path: str, page: int) -> None:
        if path == "/gamma/events/keyset" and page == 1:  # the first page has been served
            venue.events.append(newcomer)
            last_event["markets"].remove(delisted)
            closing["closed"] = True

    venue.on_listing = during_walk
    venue.requests.clear()
    seq = await _last_seq(bus)
    c = await _refresh(venue, gamma_pool, bus)
    venue.on_listing = None
    assert (c.inserted, c.missing_marked) == (2, 1)
    async with gamma_pool.acquire() as conn:
        rows = {r["condition_id"]: r for r in await conn.fetch(
            "SELECT condition_id, closed, missing_since FROM markets WHERE condition_id = ANY($1::text[])",
            [*new_cids, delisted["conditionId"], closing["conditionId"]])}
    assert all(rows[cid]["missing_since"] is None and not rows[cid]["closed"] for cid in new_cids)
    assert rows[delisted["conditionId"]]["missing_since"] is not None
    assert rows[closing["conditionId"]]["closed"] and rows[closing["conditionId"]]["missing_since"] is None
    # each change published once: two new markets, one missing, one closed
    assert await _last_seq(bus) == seq + 4
    pages = [q for p, q in venue.requests if p == "/gamma/events/keyset"]
    assert len(pages) == 4  # 13 events at 4 a page: the newcomer was listed on the last page, once


async def test_v2_markets_are_stored_with_their_version_and_fees_but_not_selected(
    start_venue: Any, gamma_pool: asyncpg.Pool, bus: Bus
) -> None:
    venue = await start_venue(_prefix(), 2, 2)
    v2, v1_with_positions, with_fees = venue.events[0]["markets"][0], venue.events[0]["markets"][1], \
        venue.events[1]["markets"][0]
    v2.update(version="v2", positionIds=json.dumps(["11", "12"]))
    v1_with_positions.update(version="v1", positionIds=json.dumps(["21", "22"]))
    with_fees.update(feesEnabled=True, feeSchedule={"exponent": 1, "rate": 0.02, "takerOnly": True,
                                                    "rebateRate": 0.25})
    c = await _refresh(venue, gamma_pool, bus, selection={"auto": True})
    assert (c.inserted, c.selected_for_making) == (4, 3)
    async with gamma_pool.acquire() as conn:
        rows = {r["condition_id"]: r for r in await conn.fetch(
            "SELECT condition_id, version, fees_enabled, fee_schedule, selected_for_making, selection_reason "
            "FROM markets WHERE condition_id = ANY($1::text[])", [m["conditionId"] for m in venue.markets()])}
    r = rows[v2["conditionId"]]
    assert (r["version"], r["selected_for_making"]) == ("v2", False)
    assert r["selection_reason"] == "protocol version v2 is not supported by the executor yet"
    assert rows[v1_with_positions["conditionId"]]["selected_for_making"]  # chosen by version, not by positionIds
    r = rows[with_fees["conditionId"]]
    assert r["version"] == "v1" and r["fees_enabled"] is True
    assert r["fee_schedule"] == {"exponent": "1", "rate": "0.02", "takerOnly": True, "rebateRate": "0.25"}
    info = await _last_info(bus, with_fees["conditionId"])
    assert info.fee_schedule is not None and info.fee_schedule.rate == Decimal("0.02") and info.fees_enabled
    assert (await _last_info(bus, v2["conditionId"])).version == "v2"
