"""Book persistence against a real PostgreSQL: batched idempotent writes, status upserts, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from polybot.domain.book import Level, LevelChange
from polybot.domain.book_effects import Applied, Snapshot
from polybot.store.books import BookStore
from polybot.store.migrate import apply_migrations


def _applied(asset: str, seq: int, ts_ms: int) -> Applied:
    change = LevelChange.of("BUY", "0.5", str(seq))
    return Applied(asset, "0xm", seq, ts_ms, ts_ms + 1, (change,), f"h{seq}", Decimal("0.5"), None)


def _snapshot(asset: str, seq: int, ts_ms: int) -> Snapshot:
    return Snapshot(asset, "0xm", seq, ts_ms, (Level.of("0.5", "10"), Level.of("0.49", "3")), (Level.of("0.51", "7"),),
                    "0.01", "5", False, "hash", "initial")


def _status(asset: str, seq: int, epoch: int = 1) -> tuple[str, str, int, int, int, int, str, int, int, int, int, int]:
    return (asset, "0xm", seq, 1000 + seq, 1, seq, "live", 0, 1, 2, 3, epoch)


async def test_writes_are_batched_idempotent_and_readable(pool: asyncpg.Pool) -> None:
    await apply_migrations(pool, ("ingest",))
    store = BookStore(pool)
    events = [_applied("a1", s, 1000 + s) for s in range(1, 501)]
    await store.write(events, [_snapshot("a1", 500, 1500)], [_status("a1", 500)])
    # Redelivery (a retried batch) leaves one copy, and never overwrites what is stored.
    await store.write([*events[-10:], _applied("a1", 501, 1501)], [_snapshot("a1", 500, 1500)], [_status("a1", 501)])
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM book_events") == 501
        row = await conn.fetchrow("SELECT * FROM book_events WHERE asset_id = 'a1' AND seq = 7")
        snap = await conn.fetchrow("SELECT * FROM book_snapshots")
        assert await conn.fetchval("SELECT count(*) FROM book_snapshots") == 1
    assert (row["market"], row["ts_ms"], row["recv_ts_ms"], row["event_type"]) == ("0xm", 1007, 1008, "price_change")
    assert row["payload"] == {"changes": [["BUY", "0.5", "7"]], "hash": "h7", "best_bid": "0.5", "best_ask": None}
    assert snap["bids"] == [["0.5", "10"], ["0.49", "3"]] and snap["asks"] == [["0.51", "7"]]
    assert (snap["tick_size"], snap["min_order_size"], snap["neg_risk"]) == (Decimal("0.01"), Decimal(5), False)
    status = (await store.status())["a1"]
    assert (status.last_seq, status.deltas, status.resync_gap, status.resync_checksum, status.resync_tick_size) == (
        501, 501, 1, 2, 3)
    assert await store.last_events(["a1", "nobody"]) == {"a1": (0, 501)}


async def test_market_status_never_moves_an_assets_position_back(pool: asyncpg.Pool) -> None:
    await apply_migrations(pool, ("ingest",))
    store = BookStore(pool)
    await store.write([], [], [_status("b1", 40, epoch=3)])
    await store.write([], [], [_status("b1", 39, epoch=3)])  # a late, older row (a batch retried after a newer one)
    await store.write([], [], [_status("b1", 12, epoch=2)])
    assert ((await store.status(["b1"]))["b1"].last_epoch, (await store.status(["b1"]))["b1"].last_seq) == (3, 40)
    await store.write([], [], [_status("b1", 41, epoch=4)])
    rec = (await store.status(["b1"]))["b1"]
    assert (rec.last_epoch, rec.last_seq) == (4, 41)


async def test_pruning_removes_old_events_and_old_snapshots_but_keeps_the_newest(pool: asyncpg.Pool) -> None:
    await apply_migrations(pool, ("ingest",))
    store = BookStore(pool)
    await store.write([_applied("a1", s, 1000 * s) for s in range(1, 11)], [], [])
    assert await store.prune_events_before(5000, chunk_rows=2) == 4  # ts 1000..4000, in chunks
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT min(seq) FROM book_events") == 5
    await store.write([], [_snapshot("a1", 1, 1), _snapshot("a2", 1, 1)], [])
    await store.write([], [_snapshot("a1", 2, 2)], [])
    async with pool.acquire() as conn:
        await conn.execute("UPDATE book_snapshots SET created_at = created_at - interval '2 days' WHERE seq = 1")
    assert await store.prune_snapshots_before(datetime.now(UTC) - timedelta(days=1)) == 1  # a1's old one
    async with pool.acquire() as conn:
        left = await conn.fetch("SELECT asset_id, seq FROM book_snapshots ORDER BY asset_id")
    assert [(r["asset_id"], r["seq"]) for r in left] == [("a1", 2), ("a2", 1)]  # a2's only snapshot stays
