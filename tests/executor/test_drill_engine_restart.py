"""Drill: polysim's matching engine restarts (HTTP 425 on every order and cancel, then a post-only window)
while a stream of plans replaces both of a market's orders. Plans hitting the restart fail as a pause (the
venue's 425 in their audit row), never as order errors: no risk limit trips although the error-rate limit
here is set to trip on a handful of failures; post-only plans go through in the post-only window, and after
the restart the orders rest again exactly as the newest target says."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import asyncpg
from drill_kit import (
    FundedKey,
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

from polybot.runtime.settings import ExecutorSettings, OpsPorts, RiskSettings, Settings
from polybot.venue.clob_gateway import ClobGateway
from polybot.venue.order_gateway import VenueOrder
from polysim.harness import RunningSim, running_sim
from polysim.trading_state import state_of

DOWN_S = 3.0
POST_ONLY_S = 3.0
EVERY_S = 0.3


async def test_an_engine_restart_pauses_the_plans_and_they_resume_without_tripping_a_limit(
        database_url: str, tmp_path: Path) -> None:
    async with own_nats(tmp_path / "nats") as nats, running_sim(seed=33, n_markets=2) as sim:
        sim.freeze()
        key = await funded_key(sim, usdc="5000")
        port = free_port()
        # a tight error-rate limit (one failed action in five, from the fourth on): counting the 425s would trip it
        risk = RiskSettings(max_error_rate=Decimal("0.2"), error_min_actions=4, error_window_ms=60_000)
        settings = Settings(
            mode="sim", private_key=SecretStr(key.private_key), nats_url=nats.url, database_url=database_url,
            state_dir=tmp_path, ops=OpsPorts(executor=port),
            executor=ExecutorSettings(clob_url=sim.url, ws_user_url=sim.ws_user_url, gamma_url=sim.gamma_url,
                                      heartbeat_interval_s=1.0, reconcile_interval_s=1.0, risk=risk))
        market = sim.condition_ids()[0]
        yes, no = sim.token_ids(market)
        tick = tick_of(sim, yes)
        bids = best_bid(sim, yes), best_bid(sim, no)
        try:
            async with running_executor(settings, port) as ops:
                plans = Plans(nats.bus, market, tick, keep_ticks=1)
                phase_of: dict[str, str] = {}

                def legs(n: int) -> list[tuple[str, str, Decimal]]:
                    off = (2 if n % 2 == 0 else 5) * tick  # 3 ticks apart: every plan replaces both orders
                    return [(yes, "BUY", bids[0] - off), (no, "BUY", bids[1] - off)]

                async def send(n: int) -> None:
                    phase = state_of(sim.ctx).restart.phase(sim.now_ms()) or "normal"
                    phase_of[(await plans.publish(legs(n))).plan_id] = phase

                n = 0
                for _ in range(4):
                    await send(n)
                    n += 1
                    await asyncio.sleep(EVERY_S)
                await until(lambda: _has(sim, key.api_key, 2), 10, "two orders resting before the restart")
                sim.restart_engine(down_s=DOWN_S, post_only_s=POST_ONLY_S)
                ends = time.monotonic() + DOWN_S + POST_ONLY_S + 1.0
                while time.monotonic() < ends:
                    await send(n)
                    n += 1
                    await asyncio.sleep(EVERY_S)
                assert state_of(sim.ctx).restart.phase(sim.now_ms()) is None
                last = plans.sent[-1]

                async def settled() -> bool:
                    s = await ops.status()
                    assert s["halted"] == [], f"a risk limit tripped: {s['halted']}"
                    return (s["markets"].get(market, {}).get("last_plan") or {}).get("plan_id") == last.plan_id \
                        and venue_open(sim, key.api_key) == 2

                await until(settled, 10, "the last plan executed and two orders resting")
                status = await ops.status()
                metrics = await ops.metrics()
                venue = {(o.asset_id, o.price) for o in await _venue_orders(key)}

            assert status["halted"] == [], status["halted"]
            assert "risk_halted{" not in metrics or all(
                line.endswith(" 0.0") for line in metrics.splitlines() if line.startswith("risk_halted{")), metrics
            assert status["open_orders"] == 2
            assert venue == {(o.asset_id, o.price) for o in last.orders}

            conn = await asyncpg.connect(database_url)
            try:
                audit = {r["plan_id"]: (r["outcome"], r["errors"], r["acks"]) for r in await conn.fetch(
                    "SELECT plan_id, outcome, errors::text AS errors, acks::text AS acks FROM exec_audit "
                    "WHERE market = $1", market)}
            finally:
                await conn.close()
            assert set(audit) == set(phase_of)  # one audit row per plan
            by_phase: dict[str, list[str]] = {}
            for plan_id, phase in phase_of.items():
                by_phase.setdefault(phase, []).append(audit[plan_id][0])
            down = [audit[p] for p, ph in phase_of.items() if ph == "down"]
            assert down and any(o == "failed" and "425" in e for o, e, _ in down), down
            # while it is down nothing is done: a plan fails on the 425, or finds the orders its predecessor
            # could not cancel already on target (kept: executed with no action), or is superseded
            assert all((o == "failed" and "425" in e) or o == "superseded" or (o == "executed" and "order_id" not in a)
                       for o, e, a in down), down
            assert "executed" in by_phase.get("post_only", []), by_phase  # post-only plans pass the window
            assert audit[last.plan_id][0] == "executed"
            assert metric(metrics, "order_rejects", reason="risk_limit") in (None, 0.0)
            print(f"drill: outcomes by phase {by_phase}")
        finally:
            await key.client.close()


async def _has(sim: RunningSim, api_key: str, n: int) -> bool:
    return venue_open(sim, api_key) == n


async def _venue_orders(key: FundedKey) -> list[VenueOrder]:
    return await ClobGateway(key.client).open_orders()
