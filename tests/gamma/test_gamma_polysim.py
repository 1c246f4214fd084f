"""Acceptance against polysim: 5,000 markets in 1,000 events through keyset pages, re-runs that change
nothing, one patched market updated and published once, markets added and delisted during a walk, a cursor
that does not advance, retries through injected 5xx, and SIGKILL of the real service mid-refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import signal
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from nats.aio.msg import Msg

from polybot.app.gamma.refresh import GammaRefresher, RefreshCounts, client_config
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.codec import decode
from polybot.bus.messages import MarketInfo
from polybot.bus.streams import MARKETS
from polybot.runtime.embedded import free_port
from polybot.runtime.infra import Infra
from polybot.runtime.settings import GammaSettings
from polybot.store.migrate import apply_migrations
from polybot.store.pool import create_pool
from polybot.venue.gamma_client import GammaClient, GammaPaginationError
from polysim.harness import RunningSim, running_sim


def _seed() -> int:
    # condition ids derive from the seed; a fresh one keeps JetStream's duplicate window out of the way
    return random.randrange(10_000, 10**9)


class _Tap:
    """Every message published on ``pb.gamma.market.*`` (core NATS sees each publish, stored or not)."""

    def __init__(self) -> None:
        self.subjects: Counter[str] = Counter()
        self.last: dict[str, MarketInfo] = {}

    async def on_msg(self, msg: Msg) -> None:
        self.subjects[msg.subject] += 1
        info = decode(msg.data)
        assert isinstance(info, MarketInfo)
        self.last[info.condition_id] = info

    def total(self) -> int:
        return sum(self.subjects.values())


async def _refresh(sim: RunningSim, pool: asyncpg.Pool, bus: Bus, **kw: Any) -> RefreshCounts:
    settings = GammaSettings(gamma_url=sim.gamma_url, clob_url=sim.url, **kw)
    async with GammaClient(client_config(settings)) as client:
        return await GammaRefresher(client, pool, bus, settings).full()


async def _flushed(bus: Bus) -> None:
    await bus.nc.flush()
    await asyncio.sleep(0.2)  # let the tap's callbacks drain


async def test_5000_markets_land_rerun_changes_nothing_patch_publishes_once(
    database_url: str, bus: Bus
) -> None:
    pool = await create_pool(database_url)
    await apply_migrations(pool, ("gamma",))
    tap = _Tap()
    sub = await bus.nc.subscribe(subjects.GAMMA_MARKET_ALL, cb=tap.on_msg)
    try:
        # legacy offset listings answer 422 past offset 0 here: a refresh that touched them would fail
        async with running_sim(seed=_seed(), n_markets=5000, n_events=1000, gamma_legacy_max_offset=0) as sim:
            catalog = sim.ctx.catalog
            t0 = time.monotonic()
            first = await _refresh(sim, pool, bus)
            took = time.monotonic() - t0
            print(f"\nfull refresh of 5,000 markets against in-process polysim: {took:.2f} s  {first.summary()}")
            assert (first.events, first.markets, first.outcomes) == (1000, 5000, 10_000)
            assert first.pages == 10  # 1,000 events at the venue's 100 a page
            assert (first.inserted, first.updated, first.unchanged, first.skipped_invalid) == (5000, 0, 0, 0)
            assert first.published == 5000 and first.clob_enriched == 5000 and first.clob_errors == 0
            async with pool.acquire() as conn:
                rows = await conn.fetch("SELECT condition_id, tick_size, min_order_size, neg_risk, event_id "
                                        "FROM markets")
                tokens = {r[0]: r[1] for r in await conn.fetch("SELECT token_id, condition_id FROM outcomes")}
                assert await conn.fetchval("SELECT count(*) FROM events") == 1000
            by_cid = {r["condition_id"]: r for r in rows}
            assert set(by_cid) == set(sim.condition_ids())
            assert tokens == {t: m.condition_id for m in catalog.markets for t in m.token_ids}
            for m in catalog.markets:
                row = by_cid[m.condition_id]
                assert row["tick_size"] == Decimal(m.tick_units) / 10_000
                assert row["min_order_size"] == m.min_order_size and row["neg_risk"] is m.neg_risk
                assert row["event_id"] == m.event.gamma_id
            await _flushed(bus)
            assert tap.total() == 5000 and set(tap.subjects.values()) == {1}

            seq = (await bus.js.stream_info(MARKETS.name)).state.last_seq
            tap.subjects.clear()
            second = await _refresh(sim, pool, bus)
            assert (second.inserted, second.updated, second.unchanged, second.published) == (0, 0, 5000, 0)
            await _flushed(bus)
            assert tap.total() == 0
            assert (await bus.js.stream_info(MARKETS.name)).state.last_seq == seq

            cid = sim.condition_ids()[1234]
            async with httpx.AsyncClient() as http:
                resp = await http.post(f"{sim.url}/_sim/markets/{cid}",
                                       json={"orderMinSize": 15, "acceptingOrders": False})
                assert resp.status_code == 200, resp.text
            third = await _refresh(sim, pool, bus)
            assert (third.inserted, third.updated, third.unchanged, third.published) == (0, 1, 4999, 1)
            await _flushed(bus)
            assert tap.subjects == Counter({subjects.gamma_market(cid): 1})
            info = tap.last[cid]
            assert info.min_order_size == Decimal(15) and info.accepting_orders is False
            assert (await bus.js.stream_info(MARKETS.name)).state.last_seq == seq + 1
            async with pool.acquire() as conn:
                row = await conn.fetchrow("SELECT min_order_size, accepting_orders FROM markets "
                                          "WHERE condition_id = $1", cid)
            assert tuple(row) == (Decimal(15), False)
    finally:
        await sub.unsubscribe()
        await pool.close()


async def _markets(pool: asyncpg.Pool, cids: list[str]) -> dict[str, asyncpg.Record]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT condition_id, closed, missing_since, updated_at FROM markets "
                                "WHERE condition_id = ANY($1::text[])", cids)
    return {r["condition_id"]: r for r in rows}


async def test_markets_added_and_delisted_during_a_walk_end_in_the_right_state(database_url: str, bus: Bus) -> None:
    pool = await create_pool(database_url)
    await apply_migrations(pool, ("gamma",))
    try:
        async with running_sim(seed=_seed(), n_markets=300, n_events=60) as sim, httpx.AsyncClient() as http:
            await _refresh(sim, pool, bus, events_page_size=10)
            events = sorted(sim.ctx.catalog.events, key=lambda e: int(e.gamma_id))
            delisted = events[-1].markets[0].condition_id  # its page comes last
            closing = events[-2].markets[0].condition_id
            # a slow listing: six pages, 150 ms each, so the changes land in the middle of the walk
            await http.post(f"{sim.url}/_sim/http-faults", json={"latency_ms": 150, "paths": ["/gamma/events"]})
            walk = asyncio.create_task(_refresh(sim, pool, bus, events_page_size=10))
            await asyncio.sleep(0.35)
            added = (await http.post(f"{sim.url}/_sim/gamma/events", json={"markets": 3})).json()
            assert (await http.delete(f"{sim.url}/_sim/markets/{delisted}")).status_code == 200
            assert (await http.post(f"{sim.url}/_sim/markets/{closing}", json={"closed": True})).status_code == 200
            assert not walk.done()
            counts = await walk
            await http.post(f"{sim.url}/_sim/http-faults", json={"latency_ms": 0})
        assert (counts.inserted, counts.missing_marked) == (3, 1)
        rows = await _markets(pool, [*added["condition_ids"], delisted, closing])
        assert all(rows[c]["missing_since"] is None and not rows[c]["closed"] for c in added["condition_ids"])
        assert rows[delisted]["missing_since"] is not None
        assert rows[closing]["closed"] and rows[closing]["missing_since"] is None
    finally:
        await pool.close()


async def test_a_stuck_cursor_fails_the_refresh_with_a_clear_error_and_writes_nothing(
    database_url: str, bus: Bus
) -> None:
    pool = await create_pool(database_url)
    await apply_migrations(pool, ("gamma",))
    try:
        async with running_sim(seed=_seed(), n_markets=120, n_events=40) as sim, httpx.AsyncClient() as http:
            cids = sim.condition_ids()
            await http.post(f"{sim.url}/_sim/faults", json={"gamma_cursor_stuck": True})
            seq = (await bus.js.stream_info(MARKETS.name)).state.last_seq
            try:
                await _refresh(sim, pool, bus, events_page_size=10)
            except GammaPaginationError as exc:
                assert "GET /events/keyset: the cursor does not advance" in str(exc)
            else:
                raise AssertionError("a stuck cursor did not fail the refresh")
            assert await _markets(pool, cids) == {}
            assert (await bus.js.stream_info(MARKETS.name)).state.last_seq == seq

            await http.post(f"{sim.url}/_sim/faults", json={"gamma_cursor_stuck": False})
            await _refresh(sim, pool, bus, events_page_size=10)
            before = await _markets(pool, cids)
            assert len(before) == 120
            await http.delete(f"{sim.url}/_sim/markets/{cids[-1]}")
            await http.post(f"{sim.url}/_sim/faults", json={"gamma_cursor_stuck": True})
            try:
                await _refresh(sim, pool, bus, events_page_size=10)
            except GammaPaginationError:
                pass
            else:
                raise AssertionError("a stuck cursor did not fail the refresh")
            assert await _markets(pool, cids) == before  # nothing marked missing by a walk that never ended
    finally:
        await pool.close()


async def test_retries_through_injected_server_errors(database_url: str, bus: Bus) -> None:
    pool = await create_pool(database_url)
    await apply_migrations(pool, ("gamma",))
    try:
        async with running_sim(seed=_seed(), n_markets=60, n_events=20) as sim, httpx.AsyncClient() as http:
            resp = await http.post(f"{sim.url}/_sim/http-faults",
                                   json={"error_next": 3, "error_status": 503, "paths": ["/gamma/events"]})
            assert resp.status_code == 200, resp.text
            counts = await _refresh(sim, pool, bus, backoff_base_s=0.01, backoff_max_s=0.05, events_page_size=7)
            assert (counts.markets, counts.inserted) == (60, 60)
    finally:
        await pool.close()


def _page_boundaries(sim: RunningSim, events_per_page: int) -> set[int]:
    """How many markets are stored after each whole page of ``/events`` (events come in id order)."""
    sizes = [len(e.markets) for e in sorted(sim.ctx.catalog.events, key=lambda e: int(e.gamma_id))]
    pages = [sum(sizes[i:i + events_per_page]) for i in range(0, len(sizes), events_per_page)]
    return {0, *itertools.accumulate(pages)}


async def _count(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        if not await conn.fetchval("SELECT to_regclass('markets') IS NOT NULL"):
            return 0
        return int(await conn.fetchval("SELECT count(*) FROM markets"))
    finally:
        await conn.close()


async def _status(port: int) -> dict[str, Any] | None:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        async with httpx.AsyncClient() as client:
            return dict((await client.get(f"http://127.0.0.1:{port}/status", timeout=2)).json())
    return None


async def test_sigkill_mid_refresh_then_restart_loses_and_duplicates_nothing(
    infra: Infra, database_url: str, bus: Bus, tmp_path: Path
) -> None:
    async with running_sim(seed=_seed(), n_markets=600, n_events=120) as sim, httpx.AsyncClient() as http:
        # slow the CLOB look-ups down so the refresh can be caught in the middle
        await http.post(f"{sim.url}/_sim/http-faults", json={"latency_ms": 8, "paths": ["/markets/"]})
        total = len(sim.condition_ids())
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
        env.update(POLYBOT_NATS_URL=infra.nats_url, POLYBOT_DATABASE_URL=database_url,
                   POLYBOT_STATE_DIR=str(tmp_path / "state"), POLYBOT_OPS__GAMMA_SYNC=str(port),
                   POLYBOT_GAMMA__GAMMA_URL=sim.gamma_url, POLYBOT_GAMMA__CLOB_URL=sim.url,
                   POLYBOT_GAMMA__EVENTS_PAGE_SIZE="6", POLYBOT_GAMMA__CLOB_CONCURRENCY="2")
        seq0 = (await bus.js.stream_info(MARKETS.name)).state.last_seq
        log = tmp_path / "service.log"

        async def spawn() -> asyncio.subprocess.Process:
            with log.open("ab") as out:
                return await asyncio.create_subprocess_exec(sys.executable, "-m", "polybot_gamma_sync", env=env,
                                                            cwd=tmp_path, stdout=out, stderr=asyncio.subprocess.STDOUT)

        proc = await spawn()
        try:
            landed = 0
            for _ in range(1500):
                landed = await _count(database_url)
                if landed >= total // 5:
                    break
                await asyncio.sleep(0.02)
            assert 0 < landed < total, f"refresh not caught in the middle ({landed}/{total}): {log.read_text()}"
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        partial = await _count(database_url)
        assert partial in _page_boundaries(sim, 6), f"{partial} markets: a page was left half-written"
        assert partial < total

        await http.post(f"{sim.url}/_sim/http-faults", json={"latency_ms": 0})
        proc = await spawn()
        try:
            status: dict[str, Any] | None = None
            for _ in range(600):
                status = await _status(port)
                if status and status.get("last_full"):
                    break
                await asyncio.sleep(0.1)
            assert status and status.get("last_full"), f"no full refresh: {status} {log.read_text()[-3000:]}"
            full = status["last_full"]
            assert (full["markets"], full["inserted"], full["unchanged"]) == (total, total - partial, partial)
            assert status["errors"]["total"] == 0 and status["markets"]["open"] == total
            metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            assert 'gamma_refresh_total{kind="full"} 1.0' in metrics
            assert f'gamma_markets{{state="open"}} {total}.0' in metrics
            assert 'gamma_refresh_errors_total{kind="full"}' not in metrics or \
                'gamma_refresh_errors_total{kind="full"} 0.0' in metrics
            assert "gamma_refresh_duration_seconds_count" in metrics
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=20)
            finally:
                if proc.returncode is None:
                    proc.kill()
        assert proc.returncode == 0, log.read_text()[-3000:]

        conn = await asyncpg.connect(database_url)
        try:
            assert {r[0] for r in await conn.fetch("SELECT condition_id FROM markets")} == set(sim.condition_ids())
            assert {r[0] for r in await conn.fetch("SELECT token_id FROM outcomes")} == set(sim.token_ids())
            assert await conn.fetchval("SELECT count(*) FROM outcomes") == 2 * total
            assert await conn.fetchval(
                "SELECT count(*) FROM markets WHERE published_hash IS DISTINCT FROM info_hash") == 0
        finally:
            await conn.close()
        # every market stored on the bus exactly once, though the first run published part of them
        assert (await bus.js.stream_info(MARKETS.name)).state.last_seq - seq0 == total
