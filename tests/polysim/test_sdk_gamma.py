"""The venue's own unified SDK (polymarket-client 0.14.0) reading polysim's Gamma unchanged: keyset paginators
over a few hundred markets, its pydantic models, version selection, single items by id and slug.

The SDK only offers its production environment; it is pointed at polysim by
``polybot.venue.sdk_environment.sim_environment``, the one place that uses its private environment hook. If that
hook moves in a new release these tests fail (never skip): ``sim_environment`` raises ``SdkEnvironmentError``
naming the hook.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from polymarket import AsyncPublicClient
from polymarket.models import Event, Market, ProtocolVersion

from polybot.venue.sdk_environment import sim_environment
from polysim.harness import RunningSim, running_sim

N_MARKETS, N_V2 = 300, 6


@pytest.fixture
async def big_sim() -> AsyncIterator[RunningSim]:
    async with running_sim(seed=21, n_markets=N_MARKETS, n_events=110, v2_markets=N_V2, fee_rate_bps=100,
                           active_books=0) as sim:
        sim.freeze()
        yield sim


@pytest.fixture
async def client(big_sim: RunningSim) -> AsyncIterator[AsyncPublicClient]:
    environment = sim_environment(big_sim.url, big_sim.gamma_url, big_sim.url.replace("http://", "ws://", 1))
    async with AsyncPublicClient(environment) as c:
        yield c


async def test_list_markets_walks_every_open_market_once(big_sim: RunningSim, client: AsyncPublicClient) -> None:
    catalog = big_sim.ctx.catalog
    closed = catalog.markets[5]
    big_sim.patch_market(closed.condition_id, closed=True)
    want = [m.gamma_id for m in catalog.markets if m.version == "v1" and not m.closed]
    pages = [page async for page in client.list_markets(closed=False, page_size=100)]
    got = [m.id for page in pages for m in page.items]
    assert got == want and len(got) == N_MARKETS - N_V2 - 1  # the models parsed every item: none dropped
    assert [len(p.items) for p in pages] == [100, 100, 93]
    assert pages[-1].next_cursor is None and all(p.next_cursor for p in pages[:-1])
    first = pages[0].items[0]
    assert isinstance(first, Market) and first.version == ProtocolVersion.V1
    assert first.outcomes.yes.token_id == catalog.by_gamma_id[first.id].token_ids[0]
    assert first.trading.fees_enabled and first.trading.fee_schedule is not None
    assert str(first.trading.fee_schedule.rate) == "0.01"


async def test_both_versions_on_request_and_v1_markets_with_position_ids_stay_v1(
        big_sim: RunningSim, client: AsyncPublicClient) -> None:
    both = [m async for m in client.list_markets(closed=False, page_size=100, version=["v1", "v2"]).iter_items()]
    assert len(both) == N_MARKETS
    v2 = [m for m in both if m.version == ProtocolVersion.V2]
    assert len(v2) == N_V2 and all(m.outcomes.yes.position_id for m in v2)
    v1_with_positions = [m for m in both if m.version == ProtocolVersion.V1 and m.outcomes.yes.position_id]
    assert v1_with_positions
    only2 = [m.id async for m in client.list_markets(closed=False, page_size=100, version="v2").iter_items()]
    assert only2 == [m.id for m in v2]


async def test_list_events_walks_every_event_once_with_its_markets(
        big_sim: RunningSim, client: AsyncPublicClient) -> None:
    catalog = big_sim.ctx.catalog
    pages = [page async for page in client.list_events(closed=False, page_size=100)]
    events = [e for page in pages for e in page.items]
    with_v1 = [e for e in catalog.events if any(m.version == "v1" for m in e.markets)]
    assert [e.id for e in events] == [e.gamma_id for e in with_v1]
    assert sum(len(e.markets) for e in events) == N_MARKETS - N_V2
    assert all(isinstance(e, Event) for e in events) and pages[-1].next_cursor is None
    both = [e async for e in client.list_events(closed=False, page_size=100, version=["v1", "v2"]).iter_items()]
    assert sum(len(e.markets) for e in both) == N_MARKETS


async def test_single_markets_and_events_by_id_and_slug_parse(big_sim: RunningSim, client: AsyncPublicClient) -> None:
    catalog = big_sim.ctx.catalog
    v2 = next(m for m in catalog.markets if m.version == "v2")
    for sim_market in (catalog.markets[0], v2):
        by_id = await client.get_market(id=sim_market.gamma_id)
        by_slug = await client.get_market(slug=sim_market.slug)
        assert by_id == by_slug and by_id.condition_id == sim_market.condition_id
        assert by_id.version == ProtocolVersion(sim_market.version)
        assert [e.id for e in by_id.events] == [sim_market.event.gamma_id]
    event = v2.event
    by_id_e = await client.get_event(id=event.gamma_id)
    by_slug_e = await client.get_event(slug=event.slug)
    assert by_id_e == by_slug_e and [m.id for m in by_id_e.markets] == [m.gamma_id for m in event.markets]
