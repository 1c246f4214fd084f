"""The Gamma client over real HTTP: pagination, explicit filters, retries, give-up, throttling, timeouts."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

import pytest

from polybot.runtime.embedded import free_port
from polybot.venue.gamma_client import (
    GammaClient,
    GammaClientConfig,
    GammaResponseError,
    GammaUnavailable,
    is_retryable_status,
)


def _client(venue: Any, **kw: Any) -> GammaClient:
    cfg = GammaClientConfig(gamma_url=venue.gamma_url, clob_url=venue.url, backoff_base_s=0.01,
                            backoff_max_s=0.05, **kw)
    return GammaClient(cfg)


async def test_pages_through_every_event_with_explicit_closed_filter(start_venue: Any) -> None:
    venue = await start_venue("pg", 23, 2)
    async with _client(venue) as client:
        pages = [p async for p in client.iter_events(page_size=5, closed=False, active=True)]
    assert [p.offset for p in pages] == [0, 5, 10, 15, 20]
    assert [len(p.items) for p in pages] == [5, 5, 5, 5, 3]
    assert len(venue.requests) == 6  # the listing ends at an empty page (the venue may cap limit)
    ids = [e["id"] for p in pages for e in p.items]
    assert ids == [e["id"] for e in venue.events]
    for path, query in venue.requests:
        q = parse_qs(query)
        assert path == "/gamma/events"
        assert q["closed"] == ["false"] and q["active"] == ["true"]


async def test_a_venue_capping_limit_is_still_paged_to_the_end(start_venue: Any) -> None:
    venue = await start_venue("pm", 9, 1)
    venue.max_limit = 2
    async with _client(venue) as client:
        pages = [p async for p in client.iter_markets(page_size=4, closed=False)]
    assert [len(p.items) for p in pages] == [2, 2, 2, 2, 1]
    assert [p.offset for p in pages] == [0, 2, 4, 6, 8]


async def test_a_venue_ignoring_offset_is_detected(start_venue: Any) -> None:
    venue = await start_venue("io", 9, 1)
    venue.ignore_offset = True
    async with _client(venue) as client:
        with pytest.raises(GammaResponseError, match="does not advance"):
            _ = [p async for p in client.iter_events(page_size=4, closed=False)]


async def test_closed_markets_need_closed_true(start_venue: Any) -> None:
    venue = await start_venue("cl", 2, 2)
    closed_id = venue.events[0]["markets"][0]["conditionId"]
    venue.events[0]["markets"][0]["closed"] = True
    async with _client(venue) as client:
        open_ = await client.markets_by_condition_ids([closed_id], closed=False)
        closed = await client.markets_by_condition_ids([closed_id], closed=True)
    assert open_ == []
    assert [m["conditionId"] for m in closed] == [closed_id]


async def test_condition_id_lookups_are_batched(start_venue: Any) -> None:
    venue = await start_venue("bt", 5, 5)
    ids = [m["conditionId"] for m in venue.markets()]
    async with _client(venue) as client:
        found = await client.markets_by_condition_ids(ids, closed=False, batch=10)
    assert sorted(m["conditionId"] for m in found) == sorted(ids)
    lookups = [q for p, q in venue.requests if p == "/gamma/markets"]
    assert len(lookups) == 3
    assert all(len(parse_qs(q)["condition_ids"]) <= 10 for q in lookups)


async def test_retries_429_and_5xx_then_succeeds(start_venue: Any) -> None:
    venue = await start_venue("rt", 3, 1)
    venue.faults = [("/gamma/events", 429), ("/gamma/events", 503), ("/gamma/events", 500)]
    async with _client(venue, max_retries=3) as client:
        page = await client.events_page(offset=0, limit=10, closed=False)
        assert client.retries == 3
    assert len(page) == 3
    assert venue.faults == []


async def test_gives_up_after_max_retries(start_venue: Any) -> None:
    venue = await start_venue("gu", 1, 1)
    venue.faults = [("/gamma/events", 502)] * 3
    async with _client(venue, max_retries=2) as client:
        with pytest.raises(GammaUnavailable, match="HTTP 502"):
            await client.events_page(offset=0, limit=10, closed=False)
    assert len(venue.requests) == 3


async def test_client_errors_are_not_retried(start_venue: Any) -> None:
    venue = await start_venue("ce", 1, 1)
    venue.faults = [("/gamma/markets", 414)]
    async with _client(venue) as client:
        with pytest.raises(GammaResponseError) as info:
            await client.markets_page(offset=0, limit=10, closed=False)
    assert info.value.status == 414
    assert len(venue.requests) == 1


async def test_clob_market_and_404(start_venue: Any) -> None:
    venue = await start_venue("cm", 1, 1)
    cid = venue.markets()[0]["conditionId"]
    async with _client(venue) as client:
        body = await client.clob_market(cid)
        missing = await client.clob_market("0x" + "0" * 64)
    assert body["condition_id"] == cid
    assert missing is None


async def test_unreachable_host_is_unavailable() -> None:
    cfg = GammaClientConfig(gamma_url=f"http://127.0.0.1:{free_port()}/gamma", clob_url="http://127.0.0.1:1",
                            max_retries=1, backoff_base_s=0.01, timeout_s=1.0)
    async with GammaClient(cfg) as client:
        with pytest.raises(GammaUnavailable, match="ConnectError"):
            await client.events_page(offset=0, limit=1, closed=False)


async def test_throttle_holds_the_request_rate(start_venue: Any) -> None:
    venue = await start_venue("th", 1, 1)
    # 100 / 10 s: a burst of 10, then 9 per second
    async with _client(venue, markets_limit_per_10s=100) as client:
        t0 = time.monotonic()
        for _ in range(19):
            await client.markets_page(offset=0, limit=1, closed=False)
        elapsed = time.monotonic() - t0
    assert elapsed >= 0.95


@pytest.mark.parametrize(("status", "retry"), [(429, True), (500, True), (503, True), (599, True), (400, False),
                                               (404, False), (414, False), (200, False)])
def test_retryable_statuses(status: int, retry: bool) -> None:
    assert is_retryable_status(status) is retry


async def test_slow_answers_time_out_and_are_retried(start_venue: Any) -> None:
    venue = await start_venue("to", 1, 1)
    venue.clob_delay_s = 0.5
    cid = venue.markets()[0]["conditionId"]
    async with _client(venue, timeout_s=0.1, max_retries=2) as client:
        with pytest.raises(GammaUnavailable, match="ReadTimeout"):
            await client.clob_market(cid)
        assert client.retries == 2
    venue.clob_delay_s = 0.0
    async with _client(venue, timeout_s=0.5) as client:
        assert (await client.clob_market(cid))["condition_id"] == cid
