"""Liquidity rewards from polysim's Gamma and CLOB to ``MarketInfo``: the fields as the venue sends them, carried
on the bus, and a change of a reward programme alone publishes the market again (``info_hash`` covers it)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from decimal import Decimal

import asyncpg
import httpx
from nats.aio.msg import Msg

from polybot.app.gamma.refresh import GammaRefresher, RefreshCounts, client_config
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.codec import decode
from polybot.bus.messages import MarketInfo
from polybot.runtime.settings import GammaSettings
from polybot.store.migrate import apply_migrations
from polybot.store.pool import create_pool
from polybot.venue.gamma_client import GammaClient
from polybot.venue.gamma_schemas import parse_clob_market, parse_market
from polysim.catalog import pays_rewards
from polysim.harness import RunningSim, running_sim


async def _refresh(sim: RunningSim, pool: asyncpg.Pool, bus: Bus) -> RefreshCounts:
    settings = GammaSettings(gamma_url=sim.gamma_url, clob_url=sim.url)
    async with GammaClient(client_config(settings)) as client:
        return await GammaRefresher(client, pool, bus, settings).full()


async def test_polysim_serves_rewards_like_the_venue() -> None:
    async with running_sim(seed=3, n_markets=8, n_events=4) as sim, httpx.AsyncClient() as http:
        markets = sim.ctx.catalog.markets
        paying = [m for m in markets if pays_rewards(m)]
        assert 0 < len(paying) < len(markets)  # some, not all
        for m in markets:
            item = (await http.get(f"{sim.gamma_url}/markets/{m.gamma_id}")).json()
            clob = (await http.get(f"{sim.url}/markets/{m.condition_id}")).json()
            record, _ = parse_market(item)
            parsed = parse_clob_market(clob)
            assert parsed.rewards is not None
            if pays_rewards(m):
                assert record.rewards_eligible
                assert (record.rewards_min_size, record.rewards_max_spread, record.rewards_daily_rate) == (
                    m.rewards_min_size, m.rewards_max_spread, m.rewards_daily_rate)
                assert item["clobRewards"][0]["conditionId"] == m.condition_id
                rates = parsed.rewards.rates or []
                assert (parsed.rewards.min_size, parsed.rewards.max_spread) == (m.rewards_min_size,
                                                                                m.rewards_max_spread)
                assert [r.rewards_daily_rate for r in rates] == [m.rewards_daily_rate]
            else:
                assert (item["clobRewards"], item["rewardsMinSize"], item["rewardsMaxSpread"]) == ([], 0, 0)
                assert not record.rewards_eligible and parsed.rewards.rates is None


async def test_rewards_reach_market_info_and_a_change_publishes_once(database_url: str, bus: Bus) -> None:
    pool = await create_pool(database_url)
    await apply_migrations(pool, ("gamma",))
    seen: Counter[str] = Counter()
    last: dict[str, MarketInfo] = {}

    async def on_msg(msg: Msg) -> None:
        info = decode(msg.data)
        assert isinstance(info, MarketInfo)
        seen[info.condition_id] += 1
        last[info.condition_id] = info

    sub = await bus.nc.subscribe(subjects.GAMMA_MARKET_ALL, cb=on_msg)
    try:
        # condition ids derive from the seed: a fresh one keeps JetStream's duplicate window out of the way
        async with running_sim(seed=random.randrange(10**6, 10**9), n_markets=8, n_events=4) as sim:
            first = await _refresh(sim, pool, bus)
            assert first.published == 8
            await bus.nc.flush()
            await asyncio.sleep(0.2)
            for m in sim.ctx.catalog.markets:
                info = last[m.condition_id]
                if pays_rewards(m):
                    assert (info.rewards_min_size, info.rewards_max_spread, info.rewards_daily_rate) == (
                        m.rewards_min_size, m.rewards_max_spread, m.rewards_daily_rate)
                else:
                    assert info.rewards_daily_rate is None and not info.rewards_max_spread
            target = next(m for m in sim.ctx.catalog.markets if pays_rewards(m))
            seen.clear()
            async with httpx.AsyncClient() as http:
                resp = await http.post(f"{sim.url}/_sim/markets/{target.condition_id}",
                                       json={"rewardsMaxSpread": 1.5})
            assert resp.status_code == 200, resp.text
            second = await _refresh(sim, pool, bus)
            assert (second.updated, second.published) == (1, 1)
            await bus.nc.flush()
            await asyncio.sleep(0.2)
            assert seen == Counter({target.condition_id: 1})
            assert last[target.condition_id].rewards_max_spread == Decimal("1.5")
    finally:
        await sub.unsubscribe()
        await pool.close()
