"""What the ingestor needs from its book tables, and a fake of them that keeps the rows in memory.

``BookStore`` (PostgreSQL) is the real one. ``MemoryBookRows`` is for a run without a database — a benchmark
of the state machine, a test of the websocket path — and keeps the same rules as the tables: a row already
stored for its key wins, a status row never moves an asset's position back, pruning keeps each asset's newest
snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from polybot.domain.book_effects import Applied, Snapshot
from polybot.store.book_tables import StatusRow
from polybot.store.books import DeadLetter, StatusRecord


class BookRows(Protocol):
    async def write(self, events: Sequence[Applied], snapshots: Sequence[Snapshot],
                    status: Sequence[StatusRow]) -> None: ...

    async def write_dead_letters(self, letters: Sequence[DeadLetter]) -> None: ...

    async def prune_events_before(self, ts_ms_threshold: int, chunk_rows: int = 50_000) -> int: ...

    async def prune_snapshots_before(self, created_before: datetime) -> int: ...

    async def last_events(self, asset_ids: Sequence[str]) -> dict[str, tuple[int, int]]: ...

    async def status(self, asset_ids: Sequence[str] | None = None) -> dict[str, StatusRecord]: ...


def _record(row: StatusRow, at: datetime) -> StatusRecord:
    asset_id, market, seq, last_ts, snaps, deltas, state, first_delta, gap, checksum, tick, epoch = row
    return StatusRecord(asset_id, market, epoch, seq, last_ts, snaps, deltas, state, first_delta, gap, checksum,
                        tick, at)


class MemoryBookRows:
    """``BookRows`` in memory: ``events``, ``snapshots`` (with when they were stored), ``dead_letters``."""

    def __init__(self, *, keep_events: bool = True) -> None:
        self.keep_events = keep_events  # a benchmark of millions of deltas keeps only the newest per asset
        self.events: dict[tuple[str, int], Applied] = {}
        self.snapshots: dict[tuple[str, int, int], tuple[Snapshot, datetime]] = {}
        self.rows: dict[str, StatusRecord] = {}
        self.dead_letters: list[DeadLetter] = []
        self._newest: dict[str, tuple[int, int]] = {}

    async def write(self, events: Sequence[Applied], snapshots: Sequence[Snapshot],
                    status: Sequence[StatusRow]) -> None:
        now = datetime.now(UTC)
        for fx in events:
            if self.keep_events:
                self.events.setdefault((fx.asset_id, fx.seq), fx)
            self._newest[fx.asset_id] = max(self._newest.get(fx.asset_id, (0, 0)), (fx.epoch, fx.seq))
        for snap in snapshots:
            self.snapshots.setdefault((snap.asset_id, snap.epoch, snap.seq), (snap, now))
        for row in status:
            rec = _record(row, now)
            old = self.rows.get(rec.asset_id)
            if old is None or (rec.last_epoch, rec.last_seq) >= (old.last_epoch, old.last_seq):
                self.rows[rec.asset_id] = rec

    async def write_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        self.dead_letters.extend(letters)

    async def prune_events_before(self, ts_ms_threshold: int, chunk_rows: int = 50_000) -> int:
        old = [k for k, fx in self.events.items() if fx.ts_ms < ts_ms_threshold]
        for k in old:
            del self.events[k]
        return len(old)

    async def prune_snapshots_before(self, created_before: datetime) -> int:
        newest: dict[str, datetime] = {}
        for (asset_id, _e, _s), (_snap, at) in self.snapshots.items():
            newest[asset_id] = max(newest.get(asset_id, at), at)
        old = [k for k, (_snap, at) in self.snapshots.items() if at < created_before and at < newest[k[0]]]
        for k in old:
            del self.snapshots[k]
        return len(old)

    async def last_events(self, asset_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        return {a: self._newest[a] for a in asset_ids if a in self._newest}

    async def status(self, asset_ids: Sequence[str] | None = None) -> dict[str, StatusRecord]:
        if asset_ids is None:
            return dict(self.rows)
        return {a: self.rows[a] for a in asset_ids if a in self.rows}
