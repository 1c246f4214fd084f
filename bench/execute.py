"""Execution costs, measured against polysim with the real unified SDK (polymarket-client).

1. Signing: one V2 order built and signed by the SDK (``create_limit_order``), µs each, with coincurve (our
   dependency) and, in a child process on eth-keys' pure-Python backend, without.
2. Plan → all acks for a 2-order replace (cancel 2, place 2) through ``PlanRunner`` → ``ClobGateway`` →
   polysim over HTTP: p50 / p99 (target p99 ≤ 30 ms).
3. Order actions per second sustained (placements and cancels in batches of 15) with polysim's limits off.

    uv run python bench/execute.py [--replaces 200] [--actions 1500]

It prints the ingest bench's yardstick (one pydantic decode of a price_change) so figures from two machines
can be compared as ratios. Polysim runs in this process (the ratio to the yardstick is what matters).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
from eth_account import Account
from ingest import decode_us, make_frames  # the shared yardstick lives in the ingest bench
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


async def _client(sim: RunningSim) -> AsyncSecureClient:
    signer = Account.create()
    env = sim_environment(sim.url, sim.gamma_url, sim.url.replace("http://", "ws://", 1))
    client = await AsyncSecureClient.create(private_key=signer.key.hex(), wallet=signer.address, environment=env)
    sim.fund(client.credentials.key, usdc="100000000")
    return client


async def sign_us(n: int = 300) -> float:
    async with running_sim(seed=1, n_markets=1) as sim:
        sim.freeze()
        client = await _client(sim)
        token = sim.token_ids()[0]
        try:
            await client.create_limit_order(token_id=token, price=D("0.1"), size=D(5), side="BUY")  # warm up
            t0 = time.perf_counter()
            for i in range(n):
                await client.create_limit_order(token_id=token, price=D("0.1"), size=D(5 + i % 7), side="BUY")
            return (time.perf_counter() - t0) / n * 1e6
        finally:
            await client.close()


def sign_us_without_coincurve() -> float | None:
    """The same measure in a child process whose eth-keys uses its pure-Python backend instead of coincurve."""
    code = ("import asyncio, runpy\n"
            f"mod = runpy.run_path({str(Path(__file__))!r}, run_name='bench_execute')\n"
            "print(asyncio.run(mod['sign_us'](60)))\n")
    env = {**os.environ, "ECC_BACKEND_CLASS": "eth_keys.backends.NativeECCBackend",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                         check=False)
    try:
        return float(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        print(f"(without coincurve: not measured: {res.stderr.strip().splitlines()[-1:]})")
        return None


async def replace_latency(replaces: int) -> tuple[float, float]:
    async with running_sim(seed=2, n_markets=1) as sim, httpx.AsyncClient(base_url=sim.url) as http:
        sim.freeze()
        await http.post("/_sim/rate-limits", json={"enabled": False})
        client = await _client(sim)
        market = sim.condition_ids()[0]
        yes, no = sim.token_ids(market)
        # polysim's limits are off for this bench: ours too (the local buckets would pace it)
        gateway = ClobGateway(client, local_limits=False)
        runner = PlanRunner(gateway, LiveOrders(), RiskGuard(RiskLimits(max_position=D(10**9),
                            max_notional_usdc=D(10**12))), Inventory(), max_open=10)
        samples: list[float] = []
        try:
            for i in range(replaces + 5):
                price = D("0.05") + D("0.01") * (i % 2)  # alternate: every plan replaces both orders
                plan = QuotePlan(plan_id=f"b{i}", market=market, seq=i, created_ts_ms=0, ttl_ms=10**9,
                                 tick_size=D("0.01"),
                                 orders=(QuoteOrder(asset_id=yes, side="BUY", price=price, size=D(5)),
                                         QuoteOrder(asset_id=no, side="BUY", price=price, size=D(5))))
                t0 = time.perf_counter()
                run = await runner.run(plan)
                if i >= 5:  # warm-up excluded
                    samples.append((time.perf_counter() - t0) * 1000)
                if run.outcome != "executed":
                    raise RuntimeError(f"plan {i}: {run.outcome} {run.errors} {[a.error for a in run.acks]}")
        finally:
            await client.cancel_all()
            await client.close()
        samples.sort()
        return samples[len(samples) // 2], samples[int(len(samples) * 0.99) - 1]


async def actions_per_s(actions: int) -> float:
    async with running_sim(seed=3, n_markets=1) as sim, httpx.AsyncClient(base_url=sim.url) as http:
        sim.freeze()
        await http.post("/_sim/rate-limits", json={"enabled": False})
        client = await _client(sim)
        gw = ClobGateway(client, local_limits=False)
        market = sim.condition_ids()[0]
        yes = sim.token_ids(market)[0]
        done = 0
        t0 = time.perf_counter()
        try:
            while done < actions:
                batch = [OrderRequest(f"a{done}-{k}", market, yes, "BUY", D("0.02") + D("0.01") * (k % 3), D(5),
                                      D("0.01")) for k in range(15)]
                answers = await gw.place(batch)
                ids = [a.order_id for a in answers if a.order_id]
                await gw.cancel(ids)
                done += len(batch) + len(ids)
        finally:
            await client.close()
        return done / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replaces", type=int, default=200)
    ap.add_argument("--actions", type=int, default=1500)
    args = ap.parse_args()
    yard = decode_us(make_frames(1, 2)[2][0])
    signing = asyncio.run(sign_us())
    print(f"signing one V2 order (SDK, coincurve): {signing:,.0f} µs")
    slow = sign_us_without_coincurve()
    if slow is not None:
        print(f"signing one V2 order (SDK, pure-Python secp256k1): {slow:,.0f} µs ({slow / signing:.1f}×)")
    p50, p99 = asyncio.run(replace_latency(args.replaces))
    print(f"plan → all acks, 2-order replace (cancel 2 + place 2) against polysim: p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms (target p99 ≤ 30 ms: {'met' if p99 <= 30 else 'NOT met'})")
    rate = asyncio.run(actions_per_s(args.actions))
    print(f"order actions sustained (place 15 + cancel 15 per round, limits off): {rate:,.0f}/s")
    print(f"this machine: one pydantic decode of a price_change {yard:.2f} µs (yardstick)")


if __name__ == "__main__":
    main()
