"""Cancel/replace churn against polysim: a stream of plans whose prices and sizes move within the plan's
tolerance (``keep_ticks``, ``keep_size_frac``) keeps the resting orders (their ids, hence their queue
places, survive: zero replace cancels); a move beyond the tolerance replaces exactly the side that moved."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import asyncpg
from drill_kit import (
    Ops,
    Plans,
    best_bid,
    free_port,
    funded_key,
    metric,
    order_rows,
    own_nats,
    running_executor,
    tick_of,
    until,
    venue_open,
)
from pydantic import SecretStr

from polybot.bus.messages import QuotePlan
from polybot.runtime.settings import ExecutorSettings, OpsPorts, Settings
from polysim.harness import running_sim

D = Decimal
# (YES offset in ticks, YES size, NO offset, NO size) around the first target: all within 2 ticks and 25 %
JITTER = [(1, 10, 0, 10), (-1, 12, 1, 9), (2, 8, -2, 11), (0, 11, 2, 12), (-2, 9, -1, 8), (1, 10, 1, 10),
          (2, 12, 0, 9), (-1, 8, -2, 12), (0, 10, 0, 10), (-2, 11, 2, 8), (1, 9, -1, 11), (0, 12, 1, 10)]


async def test_moves_within_tolerance_keep_the_orders_and_a_move_beyond_replaces_only_that_side(
        database_url: str, tmp_path: Path) -> None:
    async with own_nats(tmp_path / "nats") as nats, running_sim(seed=35, n_markets=2) as sim:
        sim.freeze()
        key = await funded_key(sim, usdc="5000")
        port = free_port()
        settings = Settings(
            mode="sim", private_key=SecretStr(key.private_key), nats_url=nats.url, database_url=database_url,
            state_dir=tmp_path, ops=OpsPorts(executor=port),
            executor=ExecutorSettings(clob_url=sim.url, ws_user_url=sim.ws_user_url, gamma_url=sim.gamma_url,
                                      heartbeat_interval_s=1.0, reconcile_interval_s=600.0))
        market = sim.condition_ids()[0]
        yes, no = sim.token_ids(market)
        tick = tick_of(sim, yes)
        base_y, base_n = best_bid(sim, yes) - 4 * tick, best_bid(sim, no) - 4 * tick
        try:
            async with running_executor(settings, port) as ops:
                plans = Plans(nats.bus, market, tick, keep_ticks=2, keep_size_frac=D("0.25"))

                async def send(dy: int, sy: int, dn: int, sn: int) -> QuotePlan:
                    plan = await plans.publish([(yes, "BUY", base_y + dy * tick), (no, "BUY", base_n + dn * tick)],
                                               sizes=[D(sy), D(sn)])
                    await _executed(ops, market, plan)
                    return plan

                await send(0, 10, 0, 10)
                assert venue_open(sim, key.api_key) == 2
                first = await _live_by_asset(database_url, market)
                assert set(first) == {yes, no}

                for move in JITTER:
                    await send(*move)
                assert await _live_by_asset(database_url, market) == first  # the same two orders rest
                assert venue_open(sim, key.api_key) == 2
                assert await _replaced(database_url, market) == []
                metrics = await ops.metrics()
                assert metric(metrics, "orders_canceled", reason="replace") in (None, 0.0)
                assert metric(metrics, "orders_placed", market=market) == 2.0
                kept = await _intents(database_url, [p.plan_id for p in plans.sent[1:]])
                assert all(len(i["kept"]) == 2 and not i["cancels"] and not i["places"] for i in kept), kept

                # YES moves 3 ticks (past keep_ticks = 2), NO stays within: only YES is replaced
                await send(-3, 10, 1, 10)
                after = await _live_by_asset(database_url, market)
                assert after[no] == first[no] and after[yes] != first[yes]
                assert await _replaced(database_url, market) == [first[yes][0]]
                assert after[yes][1] == base_y - 3 * tick

                # NO's size moves by 40 % (past keep_size_frac = 25 %), YES stays: only NO is replaced
                await send(-3, 11, 0, 14)
                last = await _live_by_asset(database_url, market)
                assert last[yes] == after[yes] and last[no] != after[no]
                assert sorted(await _replaced(database_url, market)) == sorted([first[yes][0], first[no][0]])
                metrics = await ops.metrics()
                assert metric(metrics, "orders_canceled", reason="replace") == 2.0
                assert metric(metrics, "orders_placed", market=market) == 4.0
                assert venue_open(sim, key.api_key) == 2
                print(f"churn: {len(JITTER)} plans within tolerance, 0 replaced; 2 moves beyond, 2 replaced")
        finally:
            await key.client.close()


async def _executed(ops: Ops, market: str, plan: QuotePlan) -> None:
    async def done() -> bool:
        last = ((await ops.status())["markets"].get(market) or {}).get("last_plan") or {}
        if last.get("plan_id") == plan.plan_id:
            assert last["outcome"] == "executed", last
            return True
        return False

    await until(done, 10, f"plan {plan.seq} executed")


async def _live_by_asset(database_url: str, market: str) -> dict[str, tuple[str, Decimal]]:
    """asset → (order id, price) of the live orders in the executor's ``orders`` table."""
    live = [r for r in await order_rows(database_url, market) if r["status"] == "live"]
    out = {r["asset_id"]: (r["order_id"], r["price"]) for r in live}
    assert len(out) == len(live), live  # one live order per token
    return out


async def _replaced(database_url: str, market: str) -> list[str]:
    return [r["order_id"] for r in await order_rows(database_url, market) if r["end_reason"] == "replaced"]


async def _intents(database_url: str, plan_ids: list[str]) -> list[dict[str, list[object]]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT plan_id, intents FROM exec_audit WHERE plan_id = ANY($1::text[])", plan_ids)
    finally:
        await conn.close()
    assert len(rows) == len(plan_ids)
    return [_json_object(r["intents"]) for r in rows]


def _json_object(raw: object) -> dict[str, list[object]]:
    """A jsonb read on a plain connection (text), whether the row holds the object or, as ``insert_audit``
    writes it through the pool's codec today, a JSON string holding the object."""
    while isinstance(raw, str):
        raw = json.loads(raw)
    assert isinstance(raw, dict), raw
    return raw
