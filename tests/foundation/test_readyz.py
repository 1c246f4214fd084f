"""/readyz follows the infrastructure: red while PostgreSQL is down, green again when it returns."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, ClassVar

import httpx

from polybot.runtime.embedded import EmbeddedPostgres, free_port
from polybot.runtime.infra import Infra
from polybot.runtime.lifecycle import ServiceContext, serve
from polybot.runtime.settings import Settings


class _Probe:
    name: ClassVar[str] = "probe"
    migration_owners: ClassVar[tuple[str, ...]] = ("exec",)

    async def run(self, ctx: ServiceContext) -> None:
        await ctx.stopping.wait()

    async def status(self) -> dict[str, Any]:
        return {"probe": True}


async def _get(client: httpx.AsyncClient, url: str) -> httpx.Response:
    return await client.get(url, timeout=5.0)


async def _wait_for(client: httpx.AsyncClient, url: str, code: int, timeout_s: float = 20.0) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + timeout_s
    last: httpx.Response | None = None
    while asyncio.get_running_loop().time() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            last = await _get(client, url)
            if last.status_code == code:
                return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered {code}; last: {last and last.text}")


async def test_readyz_red_while_postgres_down_and_green_when_back(infra: Infra, tmp_path: Path) -> None:
    pg = await asyncio.to_thread(EmbeddedPostgres(tmp_path / "pg", durable=False).start)
    port = free_port()
    settings = Settings(nats_url=infra.nats_url, database_url=pg.url, state_dir=tmp_path / "state")
    stopping = asyncio.Event()
    task = asyncio.create_task(serve(_Probe(), settings, port, stopping=stopping))
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            ready = await _wait_for(client, f"{base}/readyz", 200)
            assert ready.json()["checks"] == {"nats": True, "postgres": True, "migrations": True}
            assert (await _get(client, f"{base}/healthz")).json()["status"] == "ok"
            assert (await _get(client, f"{base}/status")).json() == {"service": "probe", "probe": True}
            assert (await _get(client, f"{base}/metrics")).status_code == 200

            await asyncio.to_thread(pg.stop)
            red = await _wait_for(client, f"{base}/readyz", 503)
            assert red.json()["checks"]["postgres"] is False
            assert (await _get(client, f"{base}/healthz")).status_code == 200  # alive, just not ready

            await asyncio.to_thread(pg.start)
            green = await _wait_for(client, f"{base}/readyz", 200)
            assert green.json()["ready"] is True
    finally:
        stopping.set()
        await asyncio.wait_for(task, timeout=20)
        await asyncio.to_thread(pg.stop)
