"""The executor service in sim mode: plans on NATS → orders at polysim through the unified SDK → fills,
positions and exactly one exec_audit row per plan in PostgreSQL; the kill switch over POST /kill leaves no
open order at polysim within 2 s; live mode without both opt-ins refuses to start."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from eth_account import Account
from polymarket import AsyncSecureClient
from pydantic import SecretStr

from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.messages import KillSwitch, QuoteOrder, QuotePlan
from polybot.runtime.embedded import free_port
from polybot.runtime.infra import Infra
from polybot.runtime.lifecycle import serve
from polybot.runtime.settings import ExecutorSettings, OpsPorts, Settings
from polybot.venue.sdk_environment import sim_environment
from polybot_executor.service import ExecutorService
from polysim.harness import RunningSim, running_sim

D = Decimal
TICK = D("0.01")
TOKEN = "kill-token-for-tests"


async def until(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = await check()
        if got:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def venue_open(sim: RunningSim) -> int:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        return sum((await http.get("/_sim/state")).json().get("open_orders", {}).values())


def plan(seq: int, market: str, orders: list[tuple[str, str, Decimal]], tick: Decimal = TICK,
         ttl_ms: int = 30_000) -> QuotePlan:
    return QuotePlan(plan_id=f"plan-{seq}-{time.time_ns()}", market=market, seq=seq,
                     created_ts_ms=time.time_ns() // 1_000_000, ttl_ms=ttl_ms, tick_size=tick, keep_ticks=1,
                     keep_size_frac=D("0.25"), reason="quote",
                     orders=tuple(QuoteOrder(asset_id=a, side=s, price=p, size=D(10))  # type: ignore[arg-type]
                                  for a, s, p in orders))


async def test_plans_become_orders_fills_and_audit_rows_and_the_kill_switch_clears_the_venue(
        infra: Infra, database_url: str, bus: Bus, tmp_path: Path) -> None:
    async with running_sim(seed=5, n_markets=6) as sim, httpx.AsyncClient() as http:
        sim.freeze()
        signer = Account.create()
        env = sim_environment(sim.url, sim.gamma_url, sim.url.replace("http://", "ws://", 1))
        me = await AsyncSecureClient.create(private_key=signer.key.hex(), wallet=signer.address, environment=env)
        sim.fund(me.credentials.key, usdc="1000")
        port = free_port()
        settings = Settings(
            mode="sim", private_key=SecretStr(signer.key.hex()), nats_url=infra.nats_url, database_url=database_url,
            state_dir=tmp_path, ops=OpsPorts(executor=port),
            executor=ExecutorSettings(clob_url=sim.url, ws_user_url=sim.ws_user_url, gamma_url=sim.gamma_url,
                                      kill_token=SecretStr(TOKEN), heartbeat_interval_s=1.0,
                                      reconcile_interval_s=1.0, fills_poll_interval_s=0.3))
        await _clear_kill(bus)  # the kill switch persists (last per subject) until cleared: start from clear
        stopping = asyncio.Event()
        task = asyncio.create_task(serve(ExecutorService(), settings, port, stopping=stopping))
        base = f"http://127.0.0.1:{port}"

        async def ready() -> bool:
            try:
                return (await http.get(f"{base}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            await until(ready, 30, "the executor ready")
            market = sim.condition_ids()[0]
            yes, no = sim.token_ids(market)
            ticks = (await http.get(f"{sim.url}/tick-size", params={"token_id": yes})).json()
            tick = D(str(ticks["minimum_tick_size"]))
            taker_key = Account.create()
            taker = await AsyncSecureClient.create(private_key=taker_key.key.hex(), wallet=taker_key.address,
                                                   environment=env)
            sim.fund(taker.credentials.key, usdc="100000", positions={yes: "100000"})
            best = sim.book(yes)["bids"][-1]
            bid_y = D(best["price"])  # the crowd's whole best level is sold away: we alone will bid there
            await taker.place_limit_order(token_id=yes, price=bid_y, size=D(best["size"]), side="SELL")
            assert D(sim.book(yes)["bids"][-1]["price"]) < bid_y
            bid_n = D(sim.book(no)["bids"][-1]["price"])
            first = plan(10, market, [(yes, "BUY", bid_y), (no, "BUY", bid_n - 2 * tick)], tick=tick)
            await bus.publish(subjects.quote_plan(market), first, msg_id=first.plan_id)
            await until(lambda: _venue_has(sim, 2), 10, "two orders resting at polysim")
            stale = plan(9, market, [(yes, "BUY", bid_y - 5 * tick)], tick=tick)  # older seq: never acted on
            await bus.publish(subjects.quote_plan(market), stale, msg_id=stale.plan_id)

            # someone sells into our YES bid: the fill reaches fills, positions and orders_filled
            await taker.place_limit_order(token_id=yes, price=bid_y, size=5, side="SELL")
            conn = await asyncpg.connect(database_url)
            try:
                async def filled() -> bool:
                    return bool(await conn.fetchval("SELECT size FROM positions WHERE asset_id = $1", yes))

                await until(filled, 10, "the fill in positions")
                assert await conn.fetchval("SELECT sum(size) FROM fills WHERE asset_id = $1", yes) == D(5)
                metrics = (await http.get(f"{base}/metrics")).text
                assert f'orders_filled{{market="{market}"}} 1.0' in metrics, metrics[-3000:]
                assert "engine_execute_plan_ms_sum" in metrics and "engine_execute_plan_ms_count" in metrics

                async def audited() -> bool:
                    # of this market: the shared plans stream may hold other tests' plans, audited as expired
                    return await conn.fetchval("SELECT count(*) FROM exec_audit WHERE market = $1", market) == 2

                await until(audited, 5, "one audit row per plan")
                rows = {r["plan_id"]: r["outcome"] for r in await conn.fetch(
                    "SELECT plan_id, outcome FROM exec_audit WHERE market = $1", market)}
                assert rows == {first.plan_id: "executed", stale.plan_id: "stale"}
            finally:
                await conn.close()

            # the kill switch, over the ops API: nothing left open at the venue within 2 s
            refused = await http.post(f"{base}/kill", json={"reason": "test"}, headers={"authorization": "Bearer x"})
            assert refused.status_code == 401
            t0 = time.monotonic()
            killed = await http.post(f"{base}/kill", json={"reason": "test"},
                                     headers={"authorization": f"Bearer {TOKEN}"})
            assert killed.status_code == 200 and killed.json()["engaged"] is True
            await until(lambda: _venue_has(sim, 0), 2, "zero open orders at polysim")
            assert time.monotonic() - t0 < 2
            status = (await http.get(f"{base}/status")).json()
            assert status["kill"]["engaged"] is True and status["open_orders"] == 0
            again = plan(11, market, [(yes, "BUY", bid_y - 3 * tick)], tick=tick)
            await bus.publish(subjects.quote_plan(market), again, msg_id=again.plan_id)
            await asyncio.sleep(0.5)
            assert await venue_open(sim) == 0  # held while engaged
            # the user channel heard the venue's cancels too: the reason stays ours, not the venue's
            conn = await asyncpg.connect(database_url)
            try:
                reasons = {r["end_reason"] for r in await conn.fetch(
                    "SELECT end_reason FROM orders WHERE market = $1 AND plan_id = $2", market, first.plan_id)}
            finally:
                await conn.close()
            assert reasons == {"kill_switch"}, reasons
        finally:
            stopping.set()
            await asyncio.wait_for(task, 30)
            await me.close()
            await _clear_kill(bus)


async def _clear_kill(bus: Bus) -> None:
    msg = KillSwitch(engaged=False, reason="test reset", ts_ms=time.time_ns() // 1_000_000)
    await bus.publish(subjects.CTL_KILL, msg, msg_id=f"kill-reset-{time.time_ns()}")


async def _venue_has(sim: RunningSim, n: int) -> bool:
    return await venue_open(sim) == n


def test_live_mode_without_both_opt_ins_refuses_to_start(tmp_path: Path) -> None:
    env = {"POLYBOT_MODE": "live", "POLYBOT_PRIVATE_KEY": "0x" + "22" * 32,
           "POLYBOT_EXECUTOR__CLOB_URL": "https://clob.polymarket.com", "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-m", "polybot_executor"], capture_output=True, text=True, timeout=60,
                         env=env, cwd=tmp_path, check=False)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, res.stderr[-1500:]
    assert "live confirmation" in lines[0] and "POLYBOT_CONFIRM_LIVE" in lines[0]
    assert "22222222" not in res.stderr  # the key is never echoed


async def test_the_cli_doors_cancel_all_and_kill_reach_a_running_executor(
        infra: Infra, database_url: str, bus: Bus, tmp_path: Path) -> None:
    async with running_sim(seed=7, n_markets=2) as sim, httpx.AsyncClient() as http:
        sim.freeze()
        signer = Account.create()
        env = sim_environment(sim.url, sim.gamma_url, sim.url.replace("http://", "ws://", 1))
        me = await AsyncSecureClient.create(private_key=signer.key.hex(), wallet=signer.address, environment=env)
        sim.fund(me.credentials.key, usdc="1000")
        port = free_port()
        settings = Settings(
            mode="sim", private_key=SecretStr(signer.key.hex()), nats_url=infra.nats_url, database_url=database_url,
            state_dir=tmp_path, ops=OpsPorts(executor=port),
            executor=ExecutorSettings(clob_url=sim.url, ws_user_url=sim.ws_user_url, gamma_url=sim.gamma_url))
        await _clear_kill(bus)
        stopping = asyncio.Event()
        task = asyncio.create_task(serve(ExecutorService(), settings, port, stopping=stopping))
        base = f"http://127.0.0.1:{port}"

        async def ready() -> bool:
            try:
                return (await http.get(f"{base}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        async def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "polybot.cli", *args,
                                                            "--nats-url", infra.nats_url], capture_output=True,
                                           text=True, timeout=60, check=False, cwd=tmp_path)

        try:
            await until(ready, 30, "the executor ready")
            market = sim.condition_ids()[0]
            yes, no = sim.token_ids(market)
            ticks = (await http.get(f"{sim.url}/tick-size", params={"token_id": yes})).json()
            tick = D(str(ticks["minimum_tick_size"]))
            bid_y, bid_n = (D(sim.book(t)["bids"][-1]["price"]) - 2 * tick for t in (yes, no))
            first = plan(20, market, [(yes, "BUY", bid_y), (no, "BUY", bid_n)], tick=tick)
            await bus.publish(subjects.quote_plan(market), first, msg_id=first.plan_id)
            await until(lambda: _venue_has(sim, 2), 10, "two orders resting")
            done = await cli("cancel-all", "--reason", "drill", "--json")
            assert done.returncode == 0, done.stderr
            (answer,) = json.loads(done.stdout)["executors"]
            assert answer["canceled"] == 2 and answer["open_orders"] == 0 and await venue_open(sim) == 0

            second = plan(21, market, [(yes, "BUY", bid_y), (no, "BUY", bid_n)], tick=tick)
            await bus.publish(subjects.quote_plan(market), second, msg_id=second.plan_id)
            await until(lambda: _venue_has(sim, 2), 10, "two orders resting again")
            t0 = time.monotonic()
            killed = await cli("kill", "--reason", "drill from the CLI")
            assert killed.returncode == 0 and "ENGAGED" in killed.stdout, killed.stderr
            await until(lambda: _venue_has(sim, 0), 2, "zero open orders after polybot kill")
            assert time.monotonic() - t0 < 4  # the process start included
            status = (await http.get(f"{base}/status")).json()
            assert status["kill"] == {**status["kill"], "engaged": True, "reason": "drill from the CLI"}
            cleared = await cli("kill", "--clear", "--json")
            assert cleared.returncode == 0 and json.loads(cleared.stdout)["engaged"] is False

            async def released() -> bool:
                return (await http.get(f"{base}/status")).json()["kill"]["engaged"] is False

            await until(released, 5, "the kill switch cleared")

            # a target that runs out with no plan after it (the quoter is gone): its orders do not outlive it
            short = plan(22, market, [(yes, "BUY", bid_y), (no, "BUY", bid_n)], tick=tick, ttl_ms=1_500)
            await bus.publish(subjects.quote_plan(market), short, msg_id=short.plan_id)
            await until(lambda: _venue_has(sim, 2), 10, "two orders resting on a short target")
            t0 = time.monotonic()
            await until(lambda: _venue_has(sim, 0), 6, "the lapsed target's orders cancelled")
            assert time.monotonic() - t0 >= 1.0  # not before the target ran out (1.5 s TTL + 1 s grace)
            conn = await asyncpg.connect(database_url)
            try:
                ends = await conn.fetch("SELECT end_reason FROM orders WHERE market = $1 AND created_at > now() - "
                                        "interval '10 seconds'", market)
            finally:
                await conn.close()
            assert [r["end_reason"] for r in ends].count("target_lapsed") == 2, ends
        finally:
            stopping.set()
            await asyncio.wait_for(task, 30)
            await me.close()
            await _clear_kill(bus)


async def test_a_restart_after_a_crash_cancels_orders_it_never_recorded_and_keeps_those_it_did(
        infra: Infra, database_url: str, bus: Bus, tmp_path: Path) -> None:
    """A crash between the venue's acceptance and our write leaves an order nobody asked for: reconciliation at
    start finds it at the venue and cancels it; an order recorded before the crash is loaded and kept."""
    from polybot.store import exec_repo
    from polybot.store.exec_repo import OrderRow
    from polybot.store.migrate import apply_migrations
    from polybot.store.pool import create_pool
    from polybot.venue.clob_gateway import ClobGateway
    from polybot.venue.order_gateway import OrderRequest

    async with running_sim(seed=9, n_markets=2) as sim, httpx.AsyncClient() as http:
        sim.freeze()
        signer = Account.create()
        env = sim_environment(sim.url, sim.gamma_url, sim.url.replace("http://", "ws://", 1))
        me = await AsyncSecureClient.create(private_key=signer.key.hex(), wallet=signer.address, environment=env)
        sim.fund(me.credentials.key, usdc="1000")
        market = sim.condition_ids()[0]
        yes = sim.token_ids(market)[0]
        ticks = (await http.get(f"{sim.url}/tick-size", params={"token_id": yes})).json()
        tick = D(str(ticks["minimum_tick_size"]))
        bid = D(sim.book(yes)["bids"][-1]["price"])
        gw = ClobGateway(me)  # "the executor before the crash"
        kept, orphan = await gw.place([OrderRequest("k", market, yes, "BUY", bid - 2 * tick, D(5), tick),
                                       OrderRequest("o", market, yes, "BUY", bid - 3 * tick, D(5), tick)])
        assert kept.order_id and orphan.order_id and await venue_open(sim) == 2
        pool = await create_pool(database_url)
        try:
            await apply_migrations(pool, ("audit", "exec"))
            async with pool.acquire() as conn:  # only the first one was written before the crash
                await exec_repo.upsert_orders(conn, [OrderRow(kept.order_id, market, yes, "BUY", bid - 2 * tick, D(5),
                                                              D(0), "live", "sim", plan_id="before-crash")])
        finally:
            await pool.close()
        port = free_port()
        settings = Settings(
            mode="sim", private_key=SecretStr(signer.key.hex()), nats_url=infra.nats_url, database_url=database_url,
            state_dir=tmp_path, ops=OpsPorts(executor=port),
            executor=ExecutorSettings(clob_url=sim.url, ws_user_url=sim.ws_user_url, gamma_url=sim.gamma_url,
                                      cancel_all_on_stop=False))
        await _clear_kill(bus)
        stopping = asyncio.Event()
        task = asyncio.create_task(serve(ExecutorService(), settings, port, stopping=stopping))
        try:
            async def only_kept() -> bool:
                listed = {o.order_id for o in await gw.open_orders(market)}
                return listed == {kept.order_id}

            await until(only_kept, 20, "the orphan cancelled, the recorded order kept")
            status = (await http.get(f"http://127.0.0.1:{port}/status")).json()
            assert status["open_orders"] == 1
            metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            assert 'reconcile_fixes{kind="orphan"} 1.0' in metrics
        finally:
            stopping.set()
            await asyncio.wait_for(task, 30)
            await gw.cancel_all()
            await me.close()
