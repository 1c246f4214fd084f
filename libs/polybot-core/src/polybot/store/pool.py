"""The asyncpg pool, with the codecs Polybot relies on (JSON as jsonb, Decimals as numeric)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=lambda v: orjson.dumps(v, default=str).decode(), decoder=orjson.loads, schema="pg_catalog"
    )
    await conn.set_type_codec(
        "json", encoder=lambda v: orjson.dumps(v, default=str).decode(), decoder=orjson.loads, schema="pg_catalog"
    )


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10, timeout_s: float = 10.0) -> asyncpg.Pool:
    """Open a pool; fails fast when the server does not answer within ``timeout_s``."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, init=_init_connection, timeout=timeout_s, command_timeout=60
    )
    return pool


async def ping(pool: asyncpg.Pool, timeout_s: float = 1.0) -> bool:
    """True when a connection can be had and answers ``SELECT 1`` within ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            async with pool.acquire() as conn:
                result: Any = await conn.fetchval("SELECT 1")
                return bool(result == 1)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return False
