"""The clob backend: PlanRunner → ClobGateway → Polymarket's unified SDK → polysim (real signatures, real HTTP).

The order id we compute before posting is the venue's; a post whose answer is lost comes back unknown with
that id and is found resting; targets become resting orders and orders inside tolerance are kept (the
cancel/replace churn is counted); cancel-all leaves nothing at the venue; heartbeats chain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

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
from polybot.venue.order_gateway import OrderRequest
from polybot.venue.sdk_environment import sim_environment
from polysim.harness import RunningSim, running_sim

D = Decimal
TICK = D("0.01")


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    async with running_sim(seed=11, n_markets=3) as s:
        s.freeze()
        yield s


@pytest.fixture
async def gateway(sim: RunningSim) -> AsyncIterator[ClobGateway]:
    signer = Account.create()
    env = sim_environment(sim.url, sim.gamma_url, sim.url.replace("http://", "ws://", 1))
    client = await AsyncSecureClient.create(private_key=signer.key.hex(), wallet=signer.address, environment=env)
    gw = ClobGateway(client)
    try:
        yield gw
    finally:
        await gw.close()


def touch(sim: RunningSim, token: str) -> tuple[Decimal, Decimal]:
    book = sim.book(token)
    return D(book["bids"][-1]["price"]), D(book["asks"][-1]["price"])


async def open_at_venue(sim: RunningSim) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        state = (await http.get("/_sim/state")).json()
    return dict(state.get("open_orders", {}))


def plan(seq: int, market: str, *orders: tuple[str, str, Decimal, str]) -> QuotePlan:
    return QuotePlan(plan_id=f"p{seq}", market=market, seq=seq, created_ts_ms=0, ttl_ms=60_000, tick_size=TICK,
                     keep_ticks=1, keep_size_frac=D("0.25"), reason="quote",
                     orders=tuple(QuoteOrder(asset_id=a, side=s, price=p, size=D(z))  # type: ignore[arg-type]
                                  for a, s, p, z in orders))


async def test_targets_rest_at_the_venue_kept_within_tolerance_and_replaced_beyond(
        sim: RunningSim, gateway: ClobGateway) -> None:
    market = sim.condition_ids()[0]
    yes, no = sim.token_ids(market)
    bid_y, _ = touch(sim, yes)
    bid_n, _ = touch(sim, no)
    runner = PlanRunner(gateway, LiveOrders(), RiskGuard(RiskLimits()), Inventory(), max_open=10)
    first = await runner.run(plan(1, market, (yes, "BUY", bid_y - 2 * TICK, "10"), (no, "BUY", bid_n - 2 * TICK, "10")))
    assert first.outcome == "executed", first.acks
    listed = await gateway.open_orders(market)
    assert sorted(o.order_id for o in listed) == sorted(a.order_id for a in first.acks if a.order_id)
    kept = await runner.run(plan(2, market, (yes, "BUY", bid_y - 3 * TICK, "9"), (no, "BUY", bid_n - 2 * TICK, "10")))
    assert kept.acks == [] and len(kept.intents["kept"]) == 2  # no churn inside one tick and 25 %
    moved = await runner.run(plan(3, market, (yes, "BUY", bid_y - 5 * TICK, "10"), (no, "BUY", bid_n - 2 * TICK, "10")))
    churn = [(a.action, a.status) for a in moved.acks]
    assert churn == [("cancel", "canceled"), ("place", "accepted")]
    prices = sorted(o.price for o in await gateway.open_orders(market))
    assert prices == sorted([bid_y - 5 * TICK, bid_n - 2 * TICK])
    assert sum((await open_at_venue(sim)).values()) == 2
    assert (await gateway.cancel_all()).canceled and sum((await open_at_venue(sim)).values()) == 0


async def test_the_order_id_is_known_before_the_answer_so_a_lost_answer_is_unknown_not_rejected(
        sim: RunningSim, gateway: ClobGateway) -> None:
    market = sim.condition_ids()[0]
    yes = sim.token_ids(market)[0]
    bid, _ = touch(sim, yes)
    req = OrderRequest("c1", market, yes, "BUY", bid - 3 * TICK, D(5), TICK)
    (placed,) = await gateway.place([req])
    assert placed.status == "live" and placed.order_id is not None
    async with httpx.AsyncClient(base_url=sim.url) as http:  # the venue takes the order, the answer never comes
        await http.post("/_sim/http-faults", json={"timeout_next": 1, "timeout_delay_s": 5, "paths": ["/order"]})
    gateway.timeout_s = 1.0
    (lost,) = await gateway.place([OrderRequest("c2", market, yes, "BUY", bid - 4 * TICK, D(5), TICK)])
    gateway.timeout_s = 5.0
    assert lost.status == "unknown" and lost.order_id is not None
    venue_ids = {o.order_id for o in await gateway.open_orders(market)}
    assert venue_ids == {placed.order_id, lost.order_id}  # it rests, under exactly the id we computed


async def test_heartbeats_chain_even_after_a_restart_of_ours(gateway: ClobGateway) -> None:
    first = await gateway.heartbeat(None)
    second = await gateway.heartbeat(first)
    assert second != first
    assert await gateway.heartbeat(None)  # a fresh executor joins the venue's chain instead of failing
