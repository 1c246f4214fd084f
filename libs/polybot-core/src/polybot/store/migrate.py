"""Versioned plain-SQL migrations, one folder per owner: ``migrations/<owner>/<NNNN>_<name>.sql``.

Each file runs in its own transaction, all under one advisory lock, so services starting together apply
each migration exactly once. An applied file whose text changed is an error, never silently re-run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

OWNERS: tuple[str, ...] = ("audit", "gamma", "ingest", "exec")
_LOCK_KEY = 0x706F6C79626F74  # "polybot"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    owner       text        NOT NULL,
    version     integer     NOT NULL,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, version)
)
"""


class MigrationError(RuntimeError):
    """A migration file is malformed or was edited after being applied."""


@dataclass(frozen=True, slots=True)
class Migration:
    owner: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(owners: tuple[str, ...] = OWNERS) -> list[Migration]:
    """All migrations of ``owners``, in owner order then version order."""
    found: list[Migration] = []
    root = resources.files("polybot.store") / "migrations"
    for owner in owners:
        folder = root / owner
        if not folder.is_dir():
            raise MigrationError(f"unknown migration owner: {owner}")
        items = []
        for entry in folder.iterdir():
            m = _NAME.match(entry.name)
            if m is None:
                continue
            items.append(Migration(owner, int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
        items.sort(key=lambda x: x.version)
        versions = [x.version for x in items]
        if len(set(versions)) != len(versions):
            raise MigrationError(f"duplicate migration version in {owner}")
        found.extend(items)
    return found


async def apply_migrations(pool: asyncpg.Pool, owners: tuple[str, ...] = OWNERS) -> list[Migration]:
    """Apply what is missing; return the migrations applied by this call."""
    wanted = discover(owners)
    applied_now: list[Migration] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(_BOOKKEEPING)
            rows = await conn.fetch("SELECT owner, version, checksum FROM schema_migrations")
            done = {(r["owner"], r["version"]): r["checksum"] for r in rows}
            for mig in wanted:
                key = (mig.owner, mig.version)
                if key in done:
                    if done[key] != mig.checksum:
                        raise MigrationError(f"{mig.owner}/{mig.version:04d}_{mig.name} changed after it was applied")
                    continue
                async with conn.transaction():
                    await conn.execute(mig.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (owner, version, name, checksum) VALUES ($1, $2, $3, $4)",
                        mig.owner, mig.version, mig.name, mig.checksum,
                    )
                applied_now.append(mig)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now


async def pending(pool: asyncpg.Pool, owners: tuple[str, ...] = OWNERS) -> list[Migration]:
    """Migrations of ``owners`` not yet applied (empty when the schema is current)."""
    wanted = discover(owners)
    async with pool.acquire() as conn:
        exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not exists:
            return wanted
        rows = await conn.fetch("SELECT owner, version FROM schema_migrations")
    done = {(r["owner"], r["version"]) for r in rows}
    return [m for m in wanted if (m.owner, m.version) not in done]
