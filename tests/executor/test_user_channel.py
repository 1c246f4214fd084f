"""The executor's own user-channel client against polysim's ``/ws/user`` (sim mode, the real SDK): a taker
filling our resting order reaches ``fills`` and ``positions`` through the channel long before the fills poll
(set to 30 s here) could, and a dropped user socket reconnects and reconciles (an order of the key the
executor does not know is cancelled at once, with the periodic reconciliation set to 10 minutes); an order
the venue cancelled without us leaves our record at once, and a frame of the wrong shape is counted."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import asyncpg
from drill_kit import (
    FundedKey,
    Ops,
    Plans,
    best_bid,
    free_port,
    funded_key,
    metric,
    own_nats,
    running_executor,
    tick_of,
    until,
    venue_open,
)
from pydantic import SecretStr

from polybot.runtime.settings import ExecutorSettings, OpsPorts, Settings
from polysim.harness import RunningSim, running_sim
from polysim.trading_state import state_of
from polysim.user_ws import UserHub, hub_of

D = Decimal


def _settings(sim: RunningSim, private_key: str, nats_url: str, database_url: str, tmp_path: Path,
              port: int) -> Settings:
    return Settings(
        mode="sim", private_key=SecretStr(private_key), nats_url=nats_url, database_url=database_url,
        state_dir=tmp_path, ops=OpsPorts(executor=port),
        executor=ExecutorSettings(clob_url=sim.url, ws_user_url=sim.ws_user_url, gamma_url=sim.gamma_url,
                                  heartbeat_interval_s=1.0, reconcile_interval_s=600.0,
                                  fills_poll_interval_s=30.0))


def _hub(sim: RunningSim) -> UserHub:
    return hub_of(state_of(sim.ctx))


async def _subscribed(sim: RunningSim, api_key: str) -> bool:
    return any(s.owner == api_key for s in _hub(sim).subscribers)


async def _channel_task_ok(ops: Ops) -> bool:
    ready = await ops.http.get("/readyz")
    return ready.status_code == 200


async def test_a_fill_arrives_through_the_user_channel_before_the_poll(database_url: str, tmp_path: Path) -> None:
    async with own_nats(tmp_path / "nats") as nats, running_sim(seed=41, n_markets=2) as sim:
        sim.freeze()
        key = await funded_key(sim, usdc="5000")
        port = free_port()
        market = sim.condition_ids()[0]
        yes, _no = sim.token_ids(market)
        tick = tick_of(sim, yes)
        taker = await funded_key(sim, usdc="5000", positions={yes: "100000"})
        top = max(sim.book(yes)["bids"], key=lambda lv: D(lv["price"]))
        ours = D(top["price"])  # the crowd's best level is sold away: we alone will bid there
        await taker.client.place_limit_order(token_id=yes, price=ours, size=D(top["size"]), side="SELL")
        assert best_bid(sim, yes) < ours
        async with running_executor(_settings(sim, key.private_key, nats.url, database_url, tmp_path, port),
                                    port) as ops:
            await until(lambda: _subscribed(sim, key.api_key), 10, "the executor on the user channel")
            await Plans(nats.bus, market, tick).publish([(yes, "BUY", ours)], size=D(10))
            await until(lambda: _venue(sim, key.api_key, 1), 10, "our bid resting at polysim")
            conn = await asyncpg.connect(database_url)
            try:
                sold = time.monotonic()
                await taker.client.place_limit_order(token_id=yes, price=ours, size=D(5), side="SELL")

                async def filled() -> object:
                    return await conn.fetchval("SELECT size FROM positions WHERE asset_id = $1", yes)

                await until(filled, 2.0, "the fill in positions within 2 s (the poll is 30 s away)")
                took = time.monotonic() - sold
                assert await conn.fetchval("SELECT sum(size) FROM fills WHERE asset_id = $1", yes) == D(5)
                assert await filled() == D(5)
                assert took < 2.0
            finally:
                await conn.close()
            assert await _channel_task_ok(ops)


async def _frozen_market(sim: RunningSim) -> tuple[FundedKey, str, str, Decimal]:
    """Our funded key, and the first market of ``sim`` frozen: (key, condition id, YES, tick)."""
    sim.freeze()
    key = await funded_key(sim, usdc="5000")
    market = sim.condition_ids()[0]
    yes = sim.token_ids(market)[0]
    return key, market, yes, tick_of(sim, yes)


async def _venue(sim: RunningSim, api_key: str, n: int) -> bool:
    return venue_open(sim, api_key) == n


async def test_a_dropped_user_socket_reconnects_and_reconciles(database_url: str, tmp_path: Path) -> None:
    async with own_nats(tmp_path / "nats") as nats, running_sim(seed=42, n_markets=2) as sim:
        key, _market, yes, tick = await _frozen_market(sim)
        port = free_port()
        async with running_executor(_settings(sim, key.private_key, nats.url, database_url, tmp_path, port),
                                    port):
            await until(lambda: _subscribed(sim, key.api_key), 10, "the executor on the user channel")
            # an order of the key the executor never placed: only a reconciliation cancels it
            await key.client.place_limit_order(token_id=yes, price=best_bid(sim, yes) - 5 * tick, size=D(5),
                                               side="BUY")
            assert venue_open(sim, key.api_key) == 1
            assert _hub(sim).drop_all() == 1
            await until(lambda: _venue(sim, key.api_key, 0), 5, "the orphan cancelled by the reconnect's reconcile")
            await until(lambda: _subscribed(sim, key.api_key), 5, "the executor back on the user channel")


async def test_a_cancel_by_the_venue_leaves_our_record_at_once_and_a_bad_frame_is_counted(
        database_url: str, tmp_path: Path) -> None:
    async with own_nats(tmp_path / "nats") as nats, running_sim(seed=43, n_markets=2) as sim:
        key, market, yes, tick = await _frozen_market(sim)
        port = free_port()
        async with running_executor(_settings(sim, key.private_key, nats.url, database_url, tmp_path, port),
                                    port) as ops:
            await until(lambda: _subscribed(sim, key.api_key), 10, "the executor on the user channel")
            await Plans(nats.bus, market, tick).publish([(yes, "BUY", best_bid(sim, yes) - 3 * tick)], size=D(10))
            await until(lambda: _venue(sim, key.api_key, 1), 10, "our bid resting at polysim")
            assert ops.service is not None and ops.service.executor is not None
            (order_id,) = list(ops.service.executor.orders.by_id)

            # someone with the same key cancels it at the venue (the reconciliation is 10 minutes away)
            await key.client.cancel_orders(order_ids=[order_id])
            assert venue_open(sim, key.api_key) == 0

            async def dropped() -> bool:
                return bool((await ops.status())["open_orders"] == 0)

            await until(dropped, 2.0, "our record of it dropped through the user channel")
            conn = await asyncpg.connect(database_url)
            try:
                row = await conn.fetchrow("SELECT status, end_reason FROM orders WHERE order_id = $1", order_id)
            finally:
                await conn.close()
            assert (row["status"], row["end_reason"]) == ("canceled", "venue_cancel")
            text = await ops.metrics()
            assert metric(text, "orders_canceled", reason="venue_cancel") == 1.0

            # a frame of no shape the venue sends: skipped and counted, the channel stays up
            assert metric(text, "user_channel_bad_frames") == 0.0
            for sub in _hub(sim).subscribers:
                sub.push({"event_type": "no_such_event", "id": "x"})

            async def counted() -> bool:
                return metric(await ops.metrics(), "user_channel_bad_frames") == 1.0

            await until(counted, 2.0, "the bad frame counted")
            assert await _channel_task_ok(ops) and await _subscribed(sim, key.api_key)
