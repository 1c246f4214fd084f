"""The gamma-sync service and the gamma-refresh CLI as real processes: status, metrics, SIGKILL mid-refresh."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from polybot.bus.client import Bus
from polybot.bus.streams import MARKETS
from polybot.runtime.embedded import free_port
from polybot.runtime.infra import Infra

REPO = Path(__file__).resolve().parents[2]


def _env(infra: Infra, database_url: str, venue: Any, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
    env.update(
        POLYBOT_NATS_URL=infra.nats_url,
        POLYBOT_DATABASE_URL=database_url,
        POLYBOT_STATE_DIR=str(tmp / "state"),
        POLYBOT_GAMMA__GAMMA_URL=venue.gamma_url,
        POLYBOT_GAMMA__CLOB_URL=venue.url,
        POLYBOT_GAMMA__BACKOFF_BASE_S="0.01",
        **extra,
    )
    return env


async def _spawn(args: list[str], env: dict[str, str], cwd: Path, *, logs: Path | None = None
                 ) -> asyncio.subprocess.Process:
    """Start ``python args…``; a long-running one writes its output to ``logs`` (a pipe nobody reads fills up)."""
    if logs is None:
        return await asyncio.create_subprocess_exec(sys.executable, *args, env=env, cwd=cwd,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    with logs.open("ab") as out:
        return await asyncio.create_subprocess_exec(sys.executable, *args, env=env, cwd=cwd, stdout=out,
                                                    stderr=asyncio.subprocess.STDOUT)


async def _count(database_url: str, sql: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        exists = await conn.fetchval("SELECT to_regclass('markets') IS NOT NULL")
        return int(await conn.fetchval(sql)) if exists else 0
    finally:
        await conn.close()


async def _stored_messages(bus: Bus) -> int:
    return int((await bus.js.stream_info(MARKETS.name)).state.last_seq)


async def _status(port: int) -> dict[str, Any] | None:
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient() as client:
            resp = await client.get(f"http://127.0.0.1:{port}/status", timeout=2)
            return dict(resp.json())
    return None


async def _wait_full_refresh(port: int, timeout_s: float = 60) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        status = await _status(port)
        if status and status.get("last_full"):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"no full refresh within {timeout_s}s; last status {status}")


async def test_sigkill_mid_refresh_then_restart_loses_and_duplicates_nothing(
    start_venue: Any, infra: Infra, database_url: str, bus: Bus, tmp_path: Path
) -> None:
    venue = await start_venue(uuid.uuid4().hex[:8], 60, 10)  # 600 markets, 1,200 outcomes
    venue.clob_delay_s = 0.01
    total = len(venue.markets())
    port = free_port()
    env = _env(infra, database_url, venue, tmp_path, POLYBOT_OPS__GAMMA_SYNC=str(port),
               POLYBOT_GAMMA__EVENTS_PAGE_SIZE="5", POLYBOT_GAMMA__CLOB_CONCURRENCY="4")
    seq0 = await _stored_messages(bus)
    proc = await _spawn(["-m", "polybot_gamma_sync"], env, tmp_path, logs=tmp_path / "service.log")
    try:
        landed = 0
        for _ in range(600):
            landed = await _count(database_url, "SELECT count(*) FROM markets")
            if landed >= 20:
                break
            await asyncio.sleep(0.02)
        assert 0 < landed < total, f"could not catch the refresh in the middle ({landed}/{total})"
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    partial = await _count(database_url, "SELECT count(*) FROM markets")
    assert partial % 50 == 0, "a page (50 markets) was left half-written"
    assert partial < total

    proc = await _spawn(["-m", "polybot_gamma_sync"], env, tmp_path, logs=tmp_path / "service.log")
    try:
        status = await _wait_full_refresh(port)
        full = status["last_full"]
        assert full["markets"] == total and full["inserted"] == total - partial
        assert full["unchanged"] == partial and full["skipped_invalid"] == 0
        assert status["errors"]["total"] == 0 and status["markets"]["open"] == total
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        assert 'gamma_refresh_total{kind="full"} 1.0' in metrics
        assert 'gamma_markets{state="open"} 600.0' in metrics
        assert "gamma_refresh_duration_seconds_count" in metrics and "gamma_refresh_errors_total" in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=20)
        finally:
            if proc.returncode is None:
                proc.kill()
    assert proc.returncode == 0

    cids = {m["conditionId"] for m in venue.markets()}
    tokens = {t for m in venue.markets() for t in json.loads(m["clobTokenIds"])}
    conn = await asyncpg.connect(database_url)
    try:
        assert {r[0] for r in await conn.fetch("SELECT condition_id FROM markets")} == cids
        assert {r[0] for r in await conn.fetch("SELECT token_id FROM outcomes")} == tokens
        assert await conn.fetchval("SELECT count(*) FROM outcomes") == 2 * total
        assert await conn.fetchval("SELECT count(*) FROM markets WHERE published_hash IS DISTINCT FROM info_hash") == 0
    finally:
        await conn.close()
    assert await _stored_messages(bus) - seq0 == total  # every market stored on the bus exactly once


async def test_cli_gamma_refresh_prints_counts_and_is_idempotent(
    start_venue: Any, infra: Infra, database_url: str, tmp_path: Path
) -> None:
    venue = await start_venue(uuid.uuid4().hex[:8], 4, 3)
    venue.events[0]["markets"][0]["outcomes"] = '["Yes"]'  # one malformed market
    cid = venue.markets()[1]["conditionId"]
    env = _env(infra, database_url, venue, tmp_path, POLYBOT_GAMMA__SELECTION__CONDITION_IDS=json.dumps([cid]))
    env.pop("POLYBOT_GAMMA__GAMMA_URL")  # comes from --gamma-url instead
    args = ["-m", "polybot.cli", "gamma-refresh", "--gamma-url", venue.gamma_url, "--json"]
    outs = []
    for _ in range(2):
        proc = await _spawn(args, env, tmp_path)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err.decode()
        outs.append(json.loads(out))
    first, second = outs
    keys = ["events", "markets", "outcomes", "inserted", "updated", "unchanged", "skipped_invalid",
            "selected_for_making", "duration_s"]
    assert list(first) == keys
    assert {k: first[k] for k in keys[:-1]} == {"events": 4, "markets": 11, "outcomes": 22, "inserted": 11,
                                                "updated": 0, "unchanged": 0, "skipped_invalid": 1,
                                                "selected_for_making": 1}
    assert (second["inserted"], second["updated"], second["unchanged"]) == (0, 0, 11)
    assert b"skipping invalid gamma item" in err or b"invalid" in err


async def test_cli_reports_unreachable_gamma_plainly(infra: Infra, database_url: str, tmp_path: Path) -> None:
    class _Nowhere:
        url = f"http://127.0.0.1:{free_port()}"
        gamma_url = f"{url}/gamma"

    env = _env(infra, database_url, _Nowhere(), tmp_path)
    proc = await _spawn(["-m", "polybot.cli", "gamma-refresh"], env, tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2
    assert err.decode().strip().splitlines()[-1].startswith(f"error: cannot reach Gamma at {_Nowhere.gamma_url}")



async def test_cli_reports_unreachable_database_plainly(
    start_venue: Any, infra: Infra, database_url: str, tmp_path: Path
) -> None:
    venue = await start_venue(uuid.uuid4().hex[:8], 1, 1)
    bad = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/nope"
    env = _env(infra, bad, venue, tmp_path)
    proc = await _spawn(["-m", "polybot.cli", "gamma-refresh"], env, tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("error: cannot connect to PostgreSQL at postgresql://postgres:***@127.0.0.1:"), last
    assert "secret" not in err.decode()
