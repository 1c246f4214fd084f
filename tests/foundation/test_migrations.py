"""Migrations against a real PostgreSQL: concurrent starts apply each file once; edits are caught."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from polybot.store import migrate


async def test_concurrent_apply_runs_each_migration_once(database_url: str) -> None:
    pools = [await asyncpg.create_pool(database_url, min_size=1, max_size=2) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate.apply_migrations(p) for p in pools))
        applied = [m for r in results for m in r]
        expected = migrate.discover()
        assert sorted((m.owner, m.version) for m in applied) == sorted((m.owner, m.version) for m in expected)
        assert await migrate.pending(pools[0]) == []
        again = await migrate.apply_migrations(pools[0])
        assert again == []
        count = await pools[0].fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(expected)
        assert await pools[0].fetchval("SELECT to_regclass('exec_audit') IS NOT NULL")
    finally:
        for p in pools:
            await p.close()


async def test_an_applied_migration_that_changed_is_refused(pool: asyncpg.Pool) -> None:
    await migrate.apply_migrations(pool, ("audit",))
    await pool.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE owner = 'audit'")
    with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
        await migrate.apply_migrations(pool, ("audit",))


def test_unknown_owner_is_an_error() -> None:
    with pytest.raises(migrate.MigrationError):
        migrate.discover(("nobody",))
