"""Drill: the executor frozen (SIGSTOP) for 12 s with orders resting at polysim. The venue's dead-man switch
cancels them 10 s after the last heartbeat; after SIGCONT the executor notices the gap on its next heartbeat
and reconciles at once (its periodic reconciliation is set far away and its user channel off here, so only
noticing can pass), drops
the orders from its record (``absent`` / ``reconcile`` in ``orders``), and the next plan places again."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from drill_kit import (
    ExecutorProcess,
    Ops,
    Plans,
    best_bid,
    executor_env,
    free_port,
    funded_key,
    order_rows,
    own_nats,
    tick_of,
    until,
    venue_open,
)

from polysim.harness import RunningSim, running_sim

FROZEN_S = 12.0


async def test_sigstop_12s_the_venue_cancels_by_heartbeat_and_the_executor_reconciles_after_sigcont(
        database_url: str, tmp_path: Path) -> None:
    async with own_nats(tmp_path / "nats") as nats, running_sim(seed=31, n_markets=2) as sim:
        sim.freeze()
        key = await funded_key(sim)
        port = free_port()
        env = executor_env(sim, key, nats_url=nats.url, database_url=database_url, port=port,
                           POLYBOT_STATE_DIR=str(tmp_path / "state"),
                           POLYBOT_EXECUTOR__HEARTBEAT_INTERVAL_S="1.0",
                           POLYBOT_EXECUTOR__RECONCILE_INTERVAL_S="600",
                           POLYBOT_EXECUTOR__FILLS_POLL_INTERVAL_S="0.5",
                           # the user channel would tell of the venue's cancels itself (venue_cancel, in
                           # test_user_channel.py): off, only noticing the heartbeat gap can pass
                           POLYBOT_EXECUTOR__USER_CHANNEL="false")
        proc = ExecutorProcess(env, tmp_path, port).start()
        ops = Ops(port)
        try:
            await until(ops.ready, 40, "the executor process ready")
            market = sim.condition_ids()[0]
            yes, no = sim.token_ids(market)
            tick = tick_of(sim, yes)
            legs = [(yes, "BUY", best_bid(sim, yes) - 2 * tick), (no, "BUY", best_bid(sim, no) - 2 * tick)]
            plans = Plans(nats.bus, market, tick)
            await plans.publish(legs)

            async def two_resting() -> bool:
                return venue_open(sim, key.api_key) == 2 and bool((await ops.status())["open_orders"] == 2)

            await until(two_resting, 15, "two orders resting at polysim and in the executor's record")
            placed = {r["order_id"] for r in await order_rows(database_url, market) if r["status"] == "live"}
            assert len(placed) == 2

            proc.signal(signal.SIGSTOP)
            frozen_at = time.monotonic()
            t_cancel = await until(lambda: _none_open(sim, key.api_key), FROZEN_S, "polysim's heartbeat cancel")
            cancelled_after = time.monotonic() - frozen_at
            assert t_cancel and cancelled_after >= 8.0, f"cancelled {cancelled_after:.1f} s after SIGSTOP: too early"
            await asyncio.sleep(max(0.0, FROZEN_S - (time.monotonic() - frozen_at)))
            assert venue_open(sim, key.api_key) == 0
            proc.signal(signal.SIGCONT)
            resumed_at = time.monotonic()

            async def record_empty() -> bool:
                return bool((await ops.status())["open_orders"] == 0)

            await until(record_empty, 5, "the executor's record to drop the cancelled orders after SIGCONT")
            noticed_after = time.monotonic() - resumed_at
            rows = {r["order_id"]: (r["status"], r["end_reason"]) for r in await order_rows(database_url, market)}
            assert {rows[oid] for oid in placed} == {("absent", "reconcile")}, rows
            metrics = await ops.metrics()
            assert 'reconcile_fixes{kind="absent"} 2.0' in metrics, metrics[-2000:]

            await plans.publish(legs)  # the same target again: nothing rests, so both are placed anew
            await until(two_resting, 10, "two orders resting again after the next plan")
            fresh = {r["order_id"] for r in await order_rows(database_url, market) if r["status"] == "live"}
            assert len(fresh) == 2 and not fresh & placed
            print(f"drill: polysim cancelled {cancelled_after:.1f} s after SIGSTOP; "
                  f"the executor reconciled {noticed_after:.1f} s after SIGCONT")
        finally:
            await ops.close()
            code = await asyncio.to_thread(proc.stop)
            await key.client.close()
        assert code == 0, proc.tail()
        assert venue_open(sim, key.api_key) == 0  # SIGTERM cancels everything (cancel_all_on_stop)


async def _none_open(sim: RunningSim, api_key: str) -> bool:
    return venue_open(sim, api_key) == 0
