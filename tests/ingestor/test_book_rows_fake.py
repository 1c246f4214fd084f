"""``MemoryBookRows`` keeps the rules of the book tables: the same script against it and a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from polybot.domain.book import Level, LevelChange
from polybot.domain.book_effects import Applied, Snapshot
from polybot.store.book_rows import BookRows, MemoryBookRows
from polybot.store.books import BookStore
from polybot.store.migrate import apply_migrations


def _applied(asset: str, seq: int, ts_ms: int, size: str = "1") -> Applied:
    return Applied(asset, "0xm", seq, ts_ms, ts_ms, (LevelChange.of("BUY", "0.5", size),), None, Decimal("0.5"), None,
                   epoch=3)


def _snapshot(asset: str, seq: int) -> Snapshot:
    return Snapshot(asset, "0xm", seq, 1000 + seq, (Level.of("0.5", "10"),), (), "0.01", "5", False, None, "periodic",
                    epoch=3)


def _status(asset: str, seq: int, epoch: int = 3, deltas: int = 0) -> tuple[str, str, int, int, int, int, str, int,
                                                                             int, int, int, int]:
    return (asset, "0xm", seq, 1000 + seq, 1, deltas, "live", 0, 0, 0, 0, epoch)


async def test_the_tables(pool: asyncpg.Pool) -> None:
    await apply_migrations(pool, ("ingest",))
    await _script(BookStore(pool))


async def test_the_fake() -> None:
    await _script(MemoryBookRows())


async def _script(rows: BookRows) -> None:
    await rows.write([_applied("a", s, 1000 + s) for s in range(1, 11)], [_snapshot("a", 5)], [_status("a", 10)])
    # A redelivered batch: the rows stored first win; the status row never moves the position back.
    await rows.write([_applied("a", 3, 1003, size="99")], [_snapshot("a", 5)], [_status("a", 4, deltas=99)])
    assert await rows.last_events(["a", "nobody"]) == {"a": (3, 10)}
    status = await rows.status(["a", "nobody"])
    assert list(status) == ["a"]
    assert (status["a"].last_epoch, status["a"].last_seq, status["a"].deltas, status["a"].state) == (3, 10, 0, "live")
    await rows.write([], [], [_status("a", 2, epoch=4, deltas=7)])  # a new epoch is ahead whatever its seq
    assert ((await rows.status())["a"].last_epoch, (await rows.status())["a"].deltas) == (4, 7)

    assert await rows.prune_events_before(1006) == 5
    assert await rows.last_events(["a"]) == {"a": (3, 10)}
    await asyncio.sleep(0.01)
    await rows.write([], [_snapshot("a", 9)], [])
    await rows.write([], [_snapshot("b", 1)], [])
    # Snapshots older than the cut go, except each asset's newest.
    assert await rows.prune_snapshots_before(datetime.now(UTC) + timedelta(hours=1)) == 1
    assert await rows.prune_snapshots_before(datetime.now(UTC) + timedelta(hours=1)) == 0
