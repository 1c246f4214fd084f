"""The live ingestor's persistence: ``book_events``, ``book_snapshots``, ``market_status`` and retention.

Rows have the same shape as the offline replay's (``polybot.store.book_tables`` builds them). Writes are
batched and idempotent on redelivery: events go through ``COPY`` into a session temp table and then
``INSERT … ON CONFLICT DO NOTHING`` (a row already stored for (asset_id, seq) wins), snapshots through one
``executemany`` of ``book_tables.SNAPSHOTS_INSERT_SQL`` (the same rule), status rows through an upsert that
never moves an asset's position back. One transaction per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from polybot.domain.book_effects import Applied, Snapshot
from polybot.store.book_tables import SNAPSHOTS_INSERT_SQL, STATUS_UPSERT_SQL, StatusRow, event_row, snapshot_row

_TEMP_EVENTS = """
CREATE TEMP TABLE IF NOT EXISTS _ingest_book_events (
    asset_id text, seq bigint, market text, ts_ms bigint, recv_ts_ms bigint, event_type text, payload text,
    epoch bigint, reset boolean
) ON COMMIT DELETE ROWS
"""
_EVENT_COLUMNS = ("asset_id", "seq", "market", "ts_ms", "recv_ts_ms", "event_type", "payload", "epoch", "reset")
_INSERT_EVENTS = """
INSERT INTO book_events (asset_id, seq, market, ts_ms, recv_ts_ms, event_type, payload, epoch, reset)
SELECT asset_id, seq, market, ts_ms, recv_ts_ms, event_type, payload::jsonb, epoch, reset FROM _ingest_book_events
ON CONFLICT (asset_id, seq) DO NOTHING
"""
_LAST_EVENTS = """
SELECT DISTINCT ON (asset_id) asset_id, epoch, seq FROM book_events WHERE asset_id = ANY($1::text[])
ORDER BY asset_id, seq DESC
"""
_PRUNE_EVENTS = """
DELETE FROM book_events WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM book_events WHERE ts_ms < $1 LIMIT $2))
"""
# Old snapshots go, but the newest one of every asset always stays.
_PRUNE_SNAPSHOTS = """
DELETE FROM book_snapshots s WHERE s.created_at < $1 AND EXISTS (
    SELECT 1 FROM book_snapshots n WHERE n.asset_id = s.asset_id AND n.created_at > s.created_at)
"""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that will never be published: JetStream refused it for good, or it could not be encoded."""

    subject: str
    msg_id: str
    asset_id: str | None
    reason: str
    payload: str | None


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """One ``market_status`` row as read back."""

    asset_id: str
    market: str | None
    last_epoch: int
    last_seq: int
    last_update_ts_ms: int
    snapshots: int
    deltas: int
    state: str | None
    resync_first_delta: int
    resync_gap: int
    resync_checksum: int
    resync_tick_size: int
    updated_at: datetime | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> StatusRecord:
        return cls(row["asset_id"], row["market"], row["last_epoch"] or 0, row["last_seq"] or 0,
                   row["last_update_ts_ms"] or 0,
                   row["snapshots"] or 0, row["deltas"] or 0, row["state"], row["resync_first_delta"] or 0,
                   row["resync_gap"] or 0, row["resync_checksum"] or 0, row["resync_tick_size"] or 0,
                   row["updated_at"])


def _event_records(events: Iterable[Applied]) -> list[tuple[Any, ...]]:
    out = []
    for fx in events:
        asset_id, seq, market, ts_ms, recv_ts_ms, event_type, payload, epoch, reset = event_row(fx)
        out.append((asset_id, seq, market, ts_ms, recv_ts_ms, event_type, orjson.dumps(payload).decode(), epoch,
                    reset))
    return out


def _asset_of(row: StatusRow) -> str:
    return row[0]


class BookStore:
    """Batched, idempotent writes of the book tables (pool from ``polybot.store.pool.create_pool``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write(self, events: Sequence[Applied], snapshots: Sequence[Snapshot],
                    status: Sequence[StatusRow]) -> None:
        """Store one batch in one transaction; rows already stored are left as they are."""
        if not (events or snapshots or status):
            return
        async with self._pool.acquire() as conn, conn.transaction():
            if events:
                await conn.execute(_TEMP_EVENTS)
                await conn.copy_records_to_table("_ingest_book_events", records=_event_records(events),
                                                 columns=_EVENT_COLUMNS)
                await conn.execute(_INSERT_EVENTS)
            # Rows in key order: concurrent writers then lock in the same order and cannot deadlock.
            if snapshots:
                rows = sorted((snapshot_row(s) for s in snapshots), key=lambda r: (r[0], r[1], r[2]))
                await conn.executemany(SNAPSHOTS_INSERT_SQL, rows)
            if status:
                status_rows: list[StatusRow] = sorted(status, key=_asset_of)
                await conn.executemany(STATUS_UPSERT_SQL, status_rows)

    async def write_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            async with self._pool.acquire() as conn:
                await conn.executemany(
                    "INSERT INTO dead_letters (subject, msg_id, asset_id, reason, payload) VALUES ($1, $2, $3, $4, $5)",
                    [(d.subject, d.msg_id, d.asset_id, d.reason, d.payload) for d in letters])

    async def prune_events_before(self, ts_ms_threshold: int, chunk_rows: int = 50_000) -> int:
        """Delete ``book_events`` with ``ts_ms`` below the threshold, in chunks; returns the rows deleted."""
        total = 0
        while True:
            async with self._pool.acquire() as conn:
                result = await conn.execute(_PRUNE_EVENTS, ts_ms_threshold, chunk_rows)
            deleted = int(result.split()[-1])
            total += deleted
            if deleted < chunk_rows:
                return total

    async def prune_snapshots_before(self, created_before: datetime) -> int:
        """Delete snapshots created before ``created_before``, keeping each asset's newest; returns the count."""
        async with self._pool.acquire() as conn:
            result = await conn.execute(_PRUNE_SNAPSHOTS, created_before)
        return int(result.split()[-1])

    async def last_events(self, asset_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """The ``(epoch, seq)`` of each asset's newest ``book_events`` row (absent: none kept)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_LAST_EVENTS, list(asset_ids))
        return {r["asset_id"]: (r["epoch"], r["seq"]) for r in rows}

    async def status(self, asset_ids: Sequence[str] | None = None) -> dict[str, StatusRecord]:
        """``market_status`` rows (all, or of ``asset_ids``), by asset."""
        async with self._pool.acquire() as conn:
            return await read_status(conn, asset_ids)


async def read_status(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
                      asset_ids: Sequence[str] | None = None) -> dict[str, StatusRecord]:
    """``market_status`` rows by asset (``asyncpg.UndefinedTableError`` when the table does not exist)."""
    if asset_ids is None:
        rows = await conn.fetch("SELECT * FROM market_status ORDER BY market, asset_id")
    else:
        rows = await conn.fetch(
            "SELECT * FROM market_status WHERE asset_id = ANY($1::text[]) ORDER BY market, asset_id", list(asset_ids))
    return {r["asset_id"]: StatusRecord.of(r) for r in rows}
