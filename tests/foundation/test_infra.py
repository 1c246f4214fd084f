"""Infrastructure resolution: explicit URLs win; embedded servers are real and shared per state dir."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import nats

from polybot.runtime.infra import STATE_FILE, resolve_infra


def test_explicit_urls_are_used_as_given(tmp_path: Path) -> None:
    inf = resolve_infra("nats://10.9.9.9:4222", "postgresql://u@10.9.9.9/db", tmp_path)
    assert (inf.nats_source, inf.database_source) == ("env", "env")
    assert inf.nats_url == "nats://10.9.9.9:4222" and not inf.owns_servers
    assert not (tmp_path / STATE_FILE).exists()


def test_embedded_servers_are_real_and_shared(tmp_path: Path) -> None:
    import os

    saved = {k: os.environ.pop(k) for k in ("POLYBOT_NATS_URL", "POLYBOT_DATABASE_URL") if k in os.environ}
    try:
        first = resolve_infra(None, None, tmp_path, durable=False)
        try:
            assert first.owns_servers and first.nats_source == "embedded"
            second = resolve_infra(None, None, tmp_path)
            assert second.nats_source == "embedded-shared" and not second.owns_servers
            assert (second.nats_url, second.database_url) == (first.nats_url, first.database_url)

            async def check() -> tuple[int, bool]:
                conn = await asyncpg.connect(first.database_url)
                one = await conn.fetchval("SELECT 1")
                await conn.close()
                nc = await nats.connect(first.nats_url)
                info = await nc.jetstream().account_info()
                await nc.close()
                return one, info.limits is not None

            assert asyncio.run(check()) == (1, True)
        finally:
            first.close()
        assert not (tmp_path / STATE_FILE).exists()
        third = resolve_infra(None, None, tmp_path, durable=False)  # restarts on the same data dir
        third.close()
        assert third.nats_source == "embedded"
    finally:
        os.environ.update(saved)
