"""The Gamma client over real HTTP: keyset walks, explicit filters, stuck cursors, deprecation notices, retries,
give-up, throttling, timeouts."""

from __future__ import annotations

import logging
import time
from typing import Any
from unittest import mock
from urllib.parse import parse_qs

import pytest

from polybot.runtime.embedded import free_port
from polybot.venue.gamma_client import (
    GammaClient,
    GammaClientConfig,
    GammaPaginationError,
    GammaResponseError,
    GammaUnavailable,
    Listing,
    is_retryable_status,
)


def _client(venue: Any, **kw: Any) -> GammaClient:
    cfg = GammaClientConfig(gamma_url=venue.gamma_url, clob_url=venue.url, backoff_base_s=0.01,
                            backoff_max_s=0.05, **kw)
    return GammaClient(cfg)


async def test_pages_through_every_event_following_cursors_until_absent(start_venue: Any) -> None:
    venue = await start_venue("pg", 23, 2)
    listing = Listing(closed=False, active=True, order="id", ascending=True, versions=("v1", "v2"))
    async with _client(venue) as client:
        pages = [p async for p in client.iter_events(listing, page_size=5)]
    assert [p.index for p in pages] == [0, 1, 2, 3, 4]
    assert [len(p.items) for p in pages] == [5, 5, 5, 5, 3]
    assert len(venue.requests) == 5  # the walk ends where next_cursor is absent, not at an empty page
    ids = [e["id"] for p in pages for e in p.items]
    assert ids == [e["id"] for e in venue.events]
    cursors = []
    for path, query in venue.requests:
        q = parse_qs(query)
        assert path == "/gamma/events/keyset" and "offset" not in q
        assert q["closed"] == ["false"] and q["active"] == ["true"] and q["version"] == ["v1", "v2"]
        cursors.append(q.get("after_cursor"))
    assert cursors[0] is None and len({c[0] for c in cursors[1:] if c}) == 4


async def test_a_short_page_does_not_end_the_walk(start_venue: Any) -> None:
    venue = await start_venue("pm", 9, 1)
    venue.max_limit = 2  # the venue clamps limit silently
    async with _client(venue) as client:
        pages = [p async for p in client.iter_markets(Listing(closed=False), page_size=4)]
    assert [len(p.items) for p in pages] == [2, 2, 2, 2, 1]
    assert sorted(m["conditionId"] for p in pages for m in p.items) == sorted(m["conditionId"]
                                                                               for m in venue.markets())


async def test_page_size_is_capped_at_the_venues_100(start_venue: Any) -> None:
    venue = await start_venue("cap", 3, 1)
    async with _client(venue) as client:
        _ = [p async for p in client.iter_events(Listing(closed=False), page_size=500)]
    assert parse_qs(venue.requests[0][1])["limit"] == ["100"]


async def test_a_venue_ignoring_the_cursor_is_detected_before_its_page_is_used(start_venue: Any) -> None:
    venue = await start_venue("io", 9, 1)
    venue.ignore_cursor = True
    seen: list[int] = []
    async with _client(venue) as client:
        with pytest.raises(GammaPaginationError, match="does not advance"):
            async for page in client.iter_events(Listing(closed=False), page_size=4):
                seen.append(page.index)
    assert seen == [0]  # the repeated page is never handed out
    assert len(venue.requests) == 2


async def test_a_malformed_cursor_answer_is_an_error_not_the_end(start_venue: Any) -> None:
    venue = await start_venue("mc", 2, 1)
    async with _client(venue) as client:
        with mock.patch("polysim.gamma_keyset.encode_cursor", lambda *_: ""), \
                pytest.raises(GammaPaginationError, match="next_cursor must be absent or a non-empty string"):
            _ = [p async for p in client.iter_events(Listing(closed=False), page_size=1)]


async def test_closed_markets_need_closed_true(start_venue: Any) -> None:
    venue = await start_venue("cl", 2, 2)
    closed_id = venue.events[0]["markets"][0]["conditionId"]
    venue.events[0]["markets"][0]["closed"] = True
    async with _client(venue) as client:
        open_ = await client.markets_by_condition_ids([closed_id], closed=False)
        closed = await client.markets_by_condition_ids([closed_id], closed=True)
    assert open_ == []
    assert [m["conditionId"] for m in closed] == [closed_id]


async def test_condition_id_lookups_take_at_most_100_ids(start_venue: Any) -> None:
    venue = await start_venue("bt", 50, 5)
    ids = [m["conditionId"] for m in venue.markets()]
    async with _client(venue) as client:
        found = await client.markets_by_condition_ids(ids, closed=False, batch=500)
        few = await client.markets_by_condition_ids(ids[:30], closed=False, batch=10)
    assert sorted(m["conditionId"] for m in found) == sorted(ids)
    assert sorted(m["conditionId"] for m in few) == sorted(ids[:30])
    sizes = [len(parse_qs(q)["condition_ids"]) for p, q in venue.requests if p == "/gamma/markets/keyset"]
    assert sizes[:3] == [100, 100, 50]  # 250 ids: three chunks, each one page (next_cursor absent)
    assert sizes[3:] == [10, 10, 10]


async def test_versions_are_asked_for_explicitly(start_venue: Any) -> None:
    venue = await start_venue("ver", 2, 2)
    venue.events[1]["markets"][0]["version"] = "v2"
    async with _client(venue) as client:
        default = [m async for p in client.iter_markets(Listing(closed=False), page_size=10) for m in p.items]
        both = [m async for p in client.iter_markets(Listing(closed=False, versions=("v1", "v2")), page_size=10)
                for m in p.items]
    assert len(default) == 3 and len(both) == 4


async def test_deprecation_headers_are_logged_once_and_counted_each_time(
    start_venue: Any, caplog: pytest.LogCaptureFixture
) -> None:
    venue = await start_venue("dep", 6, 1)
    venue.notice_headers = {"Deprecation": "true", "Sunset": "Fri, 01 Jan 2027 00:00:00 GMT"}
    seen: list[tuple[str, str]] = []
    cfg = GammaClientConfig(gamma_url=venue.gamma_url, clob_url=venue.url)
    with caplog.at_level(logging.WARNING, logger="polybot.venue.gamma_client"):
        async with GammaClient(cfg, on_notice=lambda e, h: seen.append((e, h))) as client:
            _ = [p async for p in client.iter_events(Listing(closed=False), page_size=2)]
    assert seen == [("/events/keyset", "deprecation"), ("/events/keyset", "sunset")] * 3
    assert client.notices == {("/events/keyset", "deprecation", "true"): 3,
                              ("/events/keyset", "sunset", "Fri, 01 Jan 2027 00:00:00 GMT"): 3}
    warned = [r for r in caplog.records if r.getMessage() == "the venue announces a deprecation"]
    assert len(warned) == 2


async def test_retries_429_and_5xx_then_succeeds(start_venue: Any) -> None:
    venue = await start_venue("rt", 3, 1)
    venue.faults = [("/gamma/events", 429), ("/gamma/events", 503), ("/gamma/events", 500)]
    async with _client(venue, max_retries=3) as client:
        page = await client.keyset_page("events", Listing(closed=False), limit=10)
        assert client.retries == 3
    assert len(page.items) == 3 and page.next_cursor is None
    assert venue.faults == []


async def test_gives_up_after_max_retries(start_venue: Any) -> None:
    venue = await start_venue("gu", 1, 1)
    venue.faults = [("/gamma/events", 502)] * 3
    async with _client(venue, max_retries=2) as client:
        with pytest.raises(GammaUnavailable, match="HTTP 502"):
            await client.keyset_page("events", Listing(closed=False), limit=10)
    assert len(venue.requests) == 3


async def test_client_errors_are_not_retried(start_venue: Any) -> None:
    venue = await start_venue("ce", 1, 1)
    venue.faults = [("/gamma/markets", 414)]
    async with _client(venue) as client:
        with pytest.raises(GammaResponseError) as info:
            await client.keyset_page("markets", Listing(closed=False), limit=10)
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
            await client.keyset_page("events", Listing(closed=False), limit=1)


async def test_throttle_holds_the_request_rate(start_venue: Any) -> None:
    venue = await start_venue("th", 1, 1)
    # 100 / 10 s: a burst of 10, then 9 per second
    async with _client(venue, markets_limit_per_10s=100) as client:
        t0 = time.monotonic()
        for _ in range(19):
            await client.keyset_page("markets", Listing(closed=False), limit=1)
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
    async with _client(venue, timeout_s=10.0) as client:  # generous: a loaded CI machine must not time out
        assert (await client.clob_market(cid))["condition_id"] == cid
