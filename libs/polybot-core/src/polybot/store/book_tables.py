"""Rows of ``book_events``, ``book_snapshots`` and ``market_status``, and two writers for them.

The PostgreSQL tables come from the ingest migrations (``migrations/ingest/0001_books.sql``); SQLite gets
equivalent tables here (JSON as text, numerics as their exact text), for offline diagnosis with
``polybot.cli replay --db-url sqlite:///…``. Writes are batched (``executemany``) and idempotent, with one
conflict rule for every writer (the live ingestor's ``books`` too): a ``book_events``/``book_snapshots`` row
already stored for its key wins, so replaying a file twice leaves one copy; ``market_status`` is replaced
by the newer position.

Levels are stored as JSON arrays of ``[price, size]`` venue strings, best first; a delta's payload is
``{"changes": [[side, price, size], …], "hash", "best_bid", "best_ask"}``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from polybot.domain.book import Level
from polybot.domain.book_effects import Applied, Snapshot
from polybot.domain.book_sync import BookSync

EventRow = tuple[str, int, str, int, int, str, dict[str, Any], int, bool]
SnapshotRow = tuple[str, int, int, str, list[list[str]], list[list[str]], Decimal | None, Decimal | None, bool,
                    str | None, str, int, bool]
StatusRow = tuple[str, str, int, int, int, int, str, int, int, int, int, int]
STATE_COLUMN = 6  # the ``state`` of a StatusRow


def _levels(levels: Sequence[Level]) -> list[list[str]]:
    return [[lv.raw_price, lv.raw_size] for lv in levels]


def _num(text: str) -> Decimal | None:
    return Decimal(text) if text else None


def event_row(fx: Applied) -> EventRow:
    """A ``book_events`` row for one numbered change."""
    payload = {
        "changes": [[c.side, c.raw_price, c.raw_size] for c in fx.changes],
        "hash": fx.hash,
        "best_bid": None if fx.best_bid is None else str(fx.best_bid),
        "best_ask": None if fx.best_ask is None else str(fx.best_ask),
    }
    return (fx.asset_id, fx.seq, fx.market, fx.ts_ms, fx.recv_ts_ms, fx.source, payload, fx.epoch, fx.reset)


def snapshot_row(snap: Snapshot) -> SnapshotRow:
    """A ``book_snapshots`` row."""
    return (snap.asset_id, snap.seq, snap.ts_ms, snap.market, _levels(snap.bids), _levels(snap.asks),
            _num(snap.tick_size), _num(snap.min_order_size), snap.neg_risk, snap.hash, snap.reason, snap.epoch,
            snap.verified)


def status_row(sync: BookSync) -> StatusRow:
    """A ``market_status`` row for one asset's book."""
    st, r = sync.stats, sync.stats.resyncs
    return (sync.asset_id, sync.market, sync.seq, st.last_update_ts_ms, st.snapshots, st.deltas, sync.state.value,
            r["first_delta"], r["gap"], r["checksum"], r["tick_size"], sync.epoch)


# One conflict rule for every writer of the book tables: a row already stored for its key wins (its content
# is final: the feed never gives one (asset_id, seq) two contents, so a second write is a redelivery).
EVENTS_INSERT_SQL = """
INSERT INTO book_events (asset_id, seq, market, ts_ms, recv_ts_ms, event_type, payload, epoch, reset)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (asset_id, seq) DO NOTHING
"""
SNAPSHOTS_INSERT_SQL = """
INSERT INTO book_snapshots (asset_id, seq, ts_ms, market, bids, asks, tick_size, min_order_size, neg_risk, hash,
    reason, epoch, verified)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (asset_id, seq, ts_ms) DO NOTHING
"""
# market_status is a current view, not history: the newest row replaces it, but never with an older position.
STATUS_UPSERT_SQL = """
INSERT INTO market_status (asset_id, market, last_seq, last_update_ts_ms, snapshots, deltas, state,
    resync_first_delta, resync_gap, resync_checksum, resync_tick_size, last_epoch)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (asset_id) DO UPDATE SET market = EXCLUDED.market, last_seq = EXCLUDED.last_seq,
    last_epoch = EXCLUDED.last_epoch,
    last_update_ts_ms = EXCLUDED.last_update_ts_ms, snapshots = EXCLUDED.snapshots, deltas = EXCLUDED.deltas,
    state = EXCLUDED.state, resync_first_delta = EXCLUDED.resync_first_delta, resync_gap = EXCLUDED.resync_gap,
    resync_checksum = EXCLUDED.resync_checksum, resync_tick_size = EXCLUDED.resync_tick_size, updated_at = now()
WHERE (market_status.last_epoch, market_status.last_seq) <= (EXCLUDED.last_epoch, EXCLUDED.last_seq)
"""


class PgBookStore:
    """Writes to the PostgreSQL tables (the pool must come from ``polybot.store.pool.create_pool``: its
    jsonb codec takes Python lists and dicts)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write(self, events: list[Applied], snapshots: list[Snapshot], status: list[BookSync]) -> None:
        """Write one batch in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            if events:
                await conn.executemany(EVENTS_INSERT_SQL, [event_row(e) for e in events])
            if snapshots:
                await conn.executemany(SNAPSHOTS_INSERT_SQL, [snapshot_row(s) for s in snapshots])
            if status:
                await conn.executemany(STATUS_UPSERT_SQL, [status_row(s) for s in status])


SQLITE_DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS book_events (
        asset_id TEXT NOT NULL, seq INTEGER NOT NULL, market TEXT NOT NULL, ts_ms INTEGER NOT NULL,
        recv_ts_ms INTEGER NOT NULL, event_type TEXT NOT NULL, payload TEXT NOT NULL,
        epoch INTEGER NOT NULL DEFAULT 0, reset INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (asset_id, seq))""",
    """CREATE TABLE IF NOT EXISTS book_snapshots (
        asset_id TEXT NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL, market TEXT NOT NULL,
        bids TEXT NOT NULL, asks TEXT NOT NULL, tick_size TEXT, min_order_size TEXT, neg_risk INTEGER NOT NULL,
        hash TEXT, reason TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        epoch INTEGER NOT NULL DEFAULT 0, verified INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (asset_id, seq, ts_ms))""",
    """CREATE TABLE IF NOT EXISTS market_status (
        asset_id TEXT PRIMARY KEY, market TEXT NOT NULL, last_seq INTEGER NOT NULL,
        last_update_ts_ms INTEGER NOT NULL, snapshots INTEGER NOT NULL, deltas INTEGER NOT NULL,
        state TEXT NOT NULL, resync_first_delta INTEGER NOT NULL, resync_gap INTEGER NOT NULL,
        resync_checksum INTEGER NOT NULL, resync_tick_size INTEGER NOT NULL,
        updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, last_epoch INTEGER NOT NULL DEFAULT 0)""",
)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, Decimal):
        return str(value)
    return value


class SqliteBookStore:
    """The same tables in one SQLite file (stdlib ``sqlite3``), created if missing."""

    def __init__(self, path: Path | str) -> None:
        self._conn = sqlite3.connect(str(path))
        for ddl in SQLITE_DDL:
            self._conn.execute(ddl)
        self._conn.commit()

    async def write(self, events: list[Applied], snapshots: list[Snapshot], status: list[BookSync]) -> None:
        """Write one batch in one transaction (synchronously: SQLite is a local file)."""
        with self._conn:
            self._conn.executemany(
                "INSERT OR IGNORE INTO book_events (asset_id, seq, market, ts_ms, recv_ts_ms, event_type, payload, "
                "epoch, reset) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [tuple(_sqlite_value(v) for v in event_row(e)) for e in events])
            self._conn.executemany(
                "INSERT OR IGNORE INTO book_snapshots (asset_id, seq, ts_ms, market, bids, asks, tick_size, "
                "min_order_size, neg_risk, hash, reason, epoch, verified) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [tuple(_sqlite_value(v) for v in snapshot_row(s)) for s in snapshots])
            self._conn.executemany(
                "INSERT OR REPLACE INTO market_status (asset_id, market, last_seq, last_update_ts_ms, snapshots, "
                "deltas, state, resync_first_delta, resync_gap, resync_checksum, resync_tick_size, last_epoch) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [status_row(s) for s in status])

    def close(self) -> None:
        self._conn.close()
