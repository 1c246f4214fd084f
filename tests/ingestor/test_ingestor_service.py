"""The ingestor service in-process (lifecycle, ops app) against polysim, NATS and PostgreSQL: /readyz, /status,
/metrics with the runbook's names, resync log lines carrying the counters."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from ingest_kit import BUSY, settings_for

from polybot.runtime.embedded import free_port
from polybot.runtime.infra import Infra
from polybot.runtime.lifecycle import serve
from polybot.runtime.settings import OpsPorts, Settings
from polybot_ingestor.service import IngestorService
from polysim.harness import running_sim

RUNBOOK = ("ingestion_msg_applied", "ingestion_msg_invalid", "ingestion_resync_first_delta", "ingestion_resync_gap",
           "ingestion_resync_checksum")


async def _until(client: httpx.AsyncClient, url: str, ok: Any, timeout_s: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            resp = await client.get(url, timeout=2)
            last = resp.json()
            if ok(resp.status_code, last):
                return last
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met; last answer {last}")


async def test_service_reports_books_metrics_and_logs_resyncs(infra: Infra, database_url: str, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    async with running_sim(seed=51, n_markets=2, **BUSY) as sim, httpx.AsyncClient() as client:
        port = free_port()
        settings = Settings(nats_url=infra.nats_url, database_url=database_url, state_dir=tmp_path / "state",
                            ops=OpsPorts(ingestor=port), ingestor=settings_for(sim))
        stopping = asyncio.Event()
        task = asyncio.create_task(serve(IngestorService(), settings, port, stopping=stopping))
        base = f"http://127.0.0.1:{port}"
        try:
            ready = await _until(client, f"{base}/readyz", lambda code, body: code == 200)
            assert ready["checks"]["market_ws"] is True
            tokens = sim.token_ids()
            status = await _until(client, f"{base}/status",
                                  lambda code, s: s.get("books") == {"live": len(tokens)})
            assert status["service"] == "ingestor" and status["connections"][0]["connected"]
            with caplog.at_level(logging.WARNING, logger="polybot.app.ingest"):
                sim.drop_market_sockets()
                status = await _until(client, f"{base}/status", lambda code, s: (
                    s["counters"]["ingestion_resync_gap"] == len(tokens) and s.get("books") == {"live": len(tokens)}))
            market = sim.condition_ids()[0]
            book = status["markets"][market][sim.token_ids(market)[0]]
            assert book["state"] == "live" and book["resyncs"]["gap"] == 1 and book["last_seq"] > 0
            assert book["freshness_ms"] is not None
            resync_logs = [r for r in caplog.records if r.getMessage() == "book resync"]
            assert len(resync_logs) == len(tokens)
            assert all(r.reason == "gap" and r.ingestion_resync_gap >= 1 for r in resync_logs)  # type: ignore[attr-defined]
            assert all(hasattr(r, "ingestion_resync_checksum") for r in resync_logs)
            metrics = (await client.get(f"{base}/metrics")).text
            samples = {line.split()[0].split("{")[0] for line in metrics.splitlines()
                       if line and not line.startswith("#")}
            assert set(RUNBOOK) <= samples  # exactly these names, no _total suffix
            assert f"ingestion_resync_gap {float(len(tokens))}" in metrics
            assert 'ingestion_ws_connected{shard="0"} 1.0' in metrics
            assert "ingestion_receive_to_publish_seconds_count" in metrics
        finally:
            stopping.set()
            await asyncio.wait_for(task, timeout=20)
