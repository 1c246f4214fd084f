"""Our per-signer buckets against polysim's: a burst bigger than the bucket is refused here, never by a 429.

polysim's standard tier is shrunk through ``/_sim/rate-limits``; the gateway reads it from
``GET /v1/user/rate-limit-tier`` before its first order and follows the ``Poly-RateLimit-*`` headers after.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from eth_account import Account
from polymarket import AsyncSecureClient

from polybot.app.execute.live_orders import LiveOrders
from polybot.app.execute.plan_run import PlanRunner
from polybot.bus.messages import QuoteOrder, QuotePlan
from polybot.domain.inventory import Inventory
from polybot.domain.risk import RiskGuard, RiskLimits
from polybot.venue.clob_gateway import ClobGateway
from polybot.venue.order_gateway import GatewayError, OrderRequest
from polybot.venue.sdk_environment import sim_environment
from polysim.harness import RunningSim, running_sim

D = Decimal
TICK = D("0.01")
SMALL = {"order_rate": 1, "order_burst": 4, "cancel_rate": 1, "cancel_burst": 3}


async def admin(sim: RunningSim, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        answer = await http.post(path, json=body)
        answer.raise_for_status()
        return dict(answer.json())


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    async with running_sim(seed=23, n_markets=2) as s:
        s.freeze()
        await admin(s, "/_sim/rate-limits", {"signer_buckets": "enforce", "tiers": {"standard": SMALL}})
        yield s


@pytest.fixture
async def key(sim: RunningSim) -> str:
    return str(Account.create().key.hex())


async def sdk_client(sim: RunningSim, private_key: str) -> AsyncSecureClient:
    env = sim_environment(sim.url, sim.gamma_url, sim.url.replace("http://", "ws://", 1))
    return await AsyncSecureClient.create(private_key=private_key, wallet=Account.from_key(private_key).address,
                                          environment=env)


@pytest.fixture
async def gateway(sim: RunningSim, key: str) -> AsyncIterator[ClobGateway]:
    gw = ClobGateway(await sdk_client(sim, key))
    try:
        yield gw
    finally:
        await gw.close()


def orders(sim: RunningSim, n: int, first: int = 0) -> list[OrderRequest]:
    market = sim.condition_ids()[0]
    yes = sim.token_ids(market)[0]
    bid = D(sim.book(yes)["bids"][-1]["price"])
    return [OrderRequest(f"c{first + k}", market, yes, "BUY", bid - (2 + k % 3) * TICK, D(5 + first + k), TICK)
            for k in range(n)]


async def test_a_burst_beyond_the_tier_is_refused_here_and_resumes_after_the_refill(
        sim: RunningSim, gateway: ClobGateway) -> None:
    placed = await gateway.place(orders(sim, 3))
    assert [a.status for a in placed] == ["live"] * 3
    assert gateway.limits.tier.order_burst == 4 and not gateway.limits.tier_stale  # read from the venue
    with pytest.raises(GatewayError) as refused:  # 2 orders, 1 token: refused whole, before sending
        await gateway.place(orders(sim, 2, first=3))
    assert refused.value.paused and refused.value.status is None and "local rate limit" in str(refused.value)
    assert refused.value.retry_after_s is not None and 0.5 < refused.value.retry_after_s <= 1.0
    assert sum(sim.open_orders().values()) == 3 and gateway.local_refusals == 1
    with pytest.raises(GatewayError) as too_big:  # above the burst: never sendable, not a pause
        await gateway.place(orders(sim, 5, first=5))
    assert too_big.value.status == 400 and not too_big.value.paused

    await asyncio.sleep(refused.value.retry_after_s + 0.05)
    resumed = await gateway.place(orders(sim, 2, first=3))
    assert [a.status for a in resumed] == ["live"] * 2 and sum(sim.open_orders().values()) == 5


async def test_the_venue_headers_lower_our_bucket_when_the_signer_spends_elsewhere(
        sim: RunningSim, gateway: ClobGateway, key: str) -> None:
    await gateway.place(orders(sim, 1))  # ours and the venue's: 3 left
    other = await sdk_client(sim, key)  # another process with the same signer
    try:
        signed = [await other.create_limit_order(token_id=o.asset_id, price=o.price, size=o.size, side="BUY")
                  for o in orders(sim, 3, first=1)]
        await other.post_orders(signed)  # the venue's bucket: 0; ours still thinks 3
    finally:
        await other.close()
    await asyncio.sleep(1.0)  # one token back at both
    await gateway.place(orders(sim, 1, first=4))  # admitted; its answer says 0 remain
    assert gateway.limits.available("order", gateway._clock_ms()) == 0
    with pytest.raises(GatewayError) as refused:
        await gateway.place(orders(sim, 1, first=5))
    assert refused.value.status is None and refused.value.paused  # here, not the venue's 429


async def test_a_locally_refused_plan_is_a_pause_not_an_error_for_the_risk_limits(
        sim: RunningSim, gateway: ClobGateway) -> None:
    market = sim.condition_ids()[0]
    reqs = orders(sim, 4)
    guard = RiskGuard(RiskLimits())
    runner = PlanRunner(gateway, LiveOrders(), guard, Inventory(), max_open=10)

    def plan(seq: int, reqs: list[OrderRequest]) -> QuotePlan:
        return QuotePlan(plan_id=f"p{seq}", market=market, seq=seq, created_ts_ms=0, ttl_ms=60_000, tick_size=TICK,
                         keep_ticks=0, keep_size_frac=D(0), reason="quote",
                         orders=tuple(QuoteOrder(asset_id=r.asset_id, side=r.side, price=r.price, size=r.size)
                                      for r in reqs))

    assert (await runner.run(plan(1, reqs[:3]))).outcome == "executed"
    # three more cancels-and-places would need 3 order tokens: 1 is there
    moved = [OrderRequest(r.client_id, r.market, r.asset_id, r.side, r.price - TICK, r.size, TICK) for r in reqs[:3]]
    second = await runner.run(plan(2, moved))
    assert second.outcome == "failed" and second.paused, second.errors
    assert any("local rate limit" in e for e in second.errors)
    assert guard.halted(market) is None
    assert all(ok for _, ok in guard._actions)  # the refusal was not recorded as a failed action
