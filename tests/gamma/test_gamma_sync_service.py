"""The gamma-sync service in-process: a failing Gamma is counted and retried soon, then full and incremental
refreshes report on /status and /metrics."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import httpx

from polybot.runtime.embedded import free_port
from polybot.runtime.infra import Infra
from polybot.runtime.lifecycle import serve
from polybot.runtime.settings import GammaSettings, OpsPorts, Settings
from polybot_gamma_sync.service import GammaSyncService
from polysim.harness import running_sim


async def _until(client: httpx.AsyncClient, url: str, ok: Any, timeout_s: float = 30) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    last: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        try:
            last = (await client.get(url, timeout=2)).json()
            if ok(last):
                return last
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met; last status {last}")


async def test_service_counts_errors_retries_and_reports(infra: Infra, database_url: str, tmp_path: Path) -> None:
    async with running_sim(seed=random.randrange(10**9), n_markets=30, n_events=10) as sim, \
            httpx.AsyncClient() as client:
        await client.post(f"{sim.url}/_sim/http-faults", json={"error_rate": 1.0, "paths": ["/gamma/"]})
        port = free_port()
        gamma = GammaSettings(gamma_url=sim.gamma_url, clob_url=sim.url, full_refresh_interval_s=1.0,
                              incremental_interval_s=0.5, max_retries=0,
                              selection={"condition_ids": (sim.condition_ids()[0],)})
        settings = Settings(nats_url=infra.nats_url, database_url=database_url, state_dir=tmp_path / "state",
                            ops=OpsPorts(gamma_sync=port), gamma=gamma)
        stopping = asyncio.Event()
        task = asyncio.create_task(serve(GammaSyncService(), settings, port, stopping=stopping))
        base = f"http://127.0.0.1:{port}"
        try:
            failed = await _until(client, f"{base}/status", lambda s: s.get("errors", {}).get("total", 0) >= 1)
            assert failed["last_full"] is None
            assert "HTTP 503" in failed["errors"]["last"]["error"] and failed["errors"]["last"]["kind"] == "full"
            metrics = (await client.get(f"{base}/metrics")).text
            assert 'gamma_refresh_errors_total{kind="full"} 1.0' in metrics

            # a slow Gamma: the next full refresh is seen in progress
            await client.post(f"{sim.url}/_sim/http-faults", json={"error_rate": 0.0, "latency_ms": 300,
                                                                   "paths": ["/gamma/"]})
            busy = await _until(client, f"{base}/status", lambda s: s.get("refreshing") == "full")
            assert busy["last_full"] is None
            await client.post(f"{sim.url}/_sim/http-faults", json={"latency_ms": 0})
            done = await _until(client, f"{base}/status",
                                lambda s: s.get("last_full") and s.get("last_incremental"))
            full = done["last_full"]
            assert (full["markets"], full["selected_for_making"], full["skipped_invalid"]) == (30, 1, 0)
            assert done["last_incremental"]["kind"] == "incremental"
            assert done["markets"] == {"open": 30, "inactive": 0, "closed": 0, "missing": 0, "selected": 1,
                                       "total": 30}
            assert done["last_refresh"]["finished_at"]
            assert done["last_refresh"]["kind"] in ("full", "incremental") and done["venue_notices"] == []
            metrics = (await client.get(f"{base}/metrics")).text
            assert 'gamma_refresh_total{kind="full"}' in metrics
            assert 'gamma_refresh_total{kind="incremental"}' in metrics
            assert 'gamma_markets{state="selected"} 1.0' in metrics
            assert 'gamma_refresh_duration_seconds_bucket{kind="full",le="1.0"}' in metrics
        finally:
            stopping.set()
            await asyncio.wait_for(task, timeout=20)


async def test_a_schedule_that_dies_is_restarted_counted_and_named_by_readyz(
        infra: Infra, database_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    from polybot.app.gamma import schedule as schedule_module
    from polybot.runtime import supervise

    real_counts = schedule_module.gamma_repo.state_counts
    calls = {"n": 0}

    async def failing_counts(conn: Any) -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise TypeError("a bug after a refresh")  # not a database error: nothing in the schedule catches it
        return await real_counts(conn)

    monkeypatch.setattr(schedule_module.gamma_repo, "state_counts", failing_counts)
    monkeypatch.setattr(supervise, "backoff_delay_s", lambda *a: 1.0)  # long enough to see /readyz say it
    async with running_sim(seed=random.randrange(10**9), n_markets=4, n_events=2) as sim, \
            httpx.AsyncClient() as client:
        port = free_port()
        gamma = GammaSettings(gamma_url=sim.gamma_url, clob_url=sim.url, full_refresh_interval_s=60.0,
                              incremental_interval_s=0.0)
        settings = Settings(nats_url=infra.nats_url, database_url=database_url, state_dir=tmp_path / "state",
                            ops=OpsPorts(gamma_sync=port), gamma=gamma)
        stopping = asyncio.Event()
        task = asyncio.create_task(serve(GammaSyncService(), settings, port, stopping=stopping))
        base = f"http://127.0.0.1:{port}"
        try:
            down = await _until(client, f"{base}/readyz", lambda r: r.get("checks", {}).get("task:gamma-schedule")
                                is False)
            assert down["ready"] is False
            assert (await client.get(f"{base}/readyz")).status_code in (200, 503)
            up = await _until(client, f"{base}/readyz", lambda r: r.get("ready") is True and calls["n"] >= 3)
            assert up["checks"]["task:gamma-schedule"] is True
            metrics = (await client.get(f"{base}/metrics")).text
            assert 'task_failures{task="gamma-schedule"} 2.0' in metrics
            status = await _until(client, f"{base}/status", lambda s: s.get("markets", {}).get("total") == 4)
            assert status["last_full"]["markets"] == 4
        finally:
            stopping.set()
            await asyncio.wait_for(task, timeout=20)
