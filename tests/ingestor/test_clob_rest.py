"""The CLOB REST client against polysim: /book with all metadata, /tick-size, retries on 5xx, no retry on 4xx."""

from __future__ import annotations

import httpx
import pytest

from polybot.venue.clob_rest import ClobHttpError, ClobRestClient, ClobRestConfig, ClobTransportError
from polysim.harness import running_sim


def _client(url: str, **kw: object) -> ClobRestClient:
    return ClobRestClient(ClobRestConfig(url, timeout_s=2.0, backoff_base_s=0.01, backoff_max_s=0.05, **kw))  # type: ignore[arg-type]


async def test_book_carries_the_metadata_hashes_need_and_tick_size_matches() -> None:
    async with running_sim(seed=31, n_markets=1) as sim, _client(sim.url) as rest:
        token = sim.token_ids()[0]
        book = await rest.book(token)
        venue = sim.book(token)
        assert book.source == "rest" and book.asset_id == token and book.market == venue["market"]
        assert [(lv.raw_price, lv.raw_size) for lv in book.bids] == [(x["price"], x["size"]) for x in venue["bids"]]
        assert (book.tick_size, book.min_order_size, book.neg_risk) == (
            venue["tick_size"], venue["min_order_size"], venue["neg_risk"])
        assert book.hash == venue["hash"] and book.recv_ts_ms > 0
        assert await rest.tick_size(token) == venue["tick_size"]


async def test_5xx_is_retried_then_succeeds_and_4xx_is_not_retried() -> None:
    async with running_sim(seed=32, n_markets=1) as sim, _client(sim.url, max_retries=3) as rest:
        token = sim.token_ids()[0]
        async with httpx.AsyncClient() as http:
            r = await http.post(sim.url + "/_sim/http-faults", json={"error_next": 2, "paths": ["/book"]})
            assert r.status_code == 200, r.text
        book = await rest.book(token)
        assert book.asset_id == token and rest.retries == 2
        with pytest.raises(ClobHttpError) as err:
            await rest.book("123")
        assert 400 <= err.value.status < 500 and not err.value.retryable and rest.retries == 2


async def test_persistent_failures_end_in_an_error_after_the_retries() -> None:
    async with running_sim(seed=33, n_markets=1) as sim, _client(sim.url, max_retries=1) as rest:
        async with httpx.AsyncClient() as http:
            await http.post(sim.url + "/_sim/http-faults", json={"error_next": 5, "paths": ["/book"]})
        with pytest.raises(ClobHttpError) as err:
            await rest.book(sim.token_ids()[0])
        assert err.value.status == 503 and rest.requests == 2
    async with _client("http://127.0.0.1:9", max_retries=1) as dead:
        with pytest.raises(ClobTransportError):
            await dead.book("1")
        assert dead.requests == 2
