"""The ingestor's outgoing book messages: one numbered change being coalesced, and the bus message builders.

A ``DeltaDraft`` is the message of change ``seq`` of one asset while it may still grow: the book state
machine (``SyncConfig.coalesce``) lets venue deltas join the change the outbox has not yet taken, so a busy
publisher sends one message per asset carrying every change since its last one. The outbox ``seal``s a
draft when the publisher or the persister takes it; from then on its content is final (``applied``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from polybot.bus.codec import encode_book_delta
from polybot.bus.messages import BookLevel, BookSnapshot, BookStatus
from polybot.domain.book import Level, LevelChange
from polybot.domain.book_effects import Applied, Snapshot, StateChanged


class DeltaDraft:
    """Change ``seq`` of one asset: the first ``Applied`` plus the venue deltas that joined it."""

    __slots__ = ("_final", "_first", "_last", "changes", "open", "recv_ns")

    def __init__(self, fx: Applied, recv_ns: int) -> None:
        self._first = self._last = fx
        self.changes: list[LevelChange] = list(fx.changes)
        self.recv_ns: list[int] = [recv_ns] if recv_ns else []  # perf_counter_ns of each entry's frame
        self.open = True
        self._final: Applied | None = None

    @property
    def asset_id(self) -> str:
        return self._first.asset_id

    @property
    def seq(self) -> int:
        return self._first.seq

    def add(self, fx: Applied, recv_ns: int) -> None:
        """Join a venue delta that ``extends`` this change (only while open)."""
        if not self.open:
            raise RuntimeError(f"change {self.seq} of {self.asset_id} is sealed")
        self.changes.extend(fx.changes)
        self._last = fx
        if recv_ns:
            self.recv_ns.append(recv_ns)

    def seal(self) -> None:
        self.open = False

    def applied(self) -> Applied:
        """The whole change as one ``Applied`` (the book after it: last hash, best prices and timestamp)."""
        final = self._final
        if final is None:
            first, last = self._first, self._last
            final = first if last is first else Applied(
                last.asset_id, last.market, last.seq, last.ts_ms, first.recv_ts_ms, tuple(self.changes), last.hash,
                last.best_bid, last.best_ask, first.source, False, first.epoch, first.reset)
            if not self.open:
                self._final = final
        return final


def delta_payload(fx: Applied) -> bytes:
    """The encoded bus ``BookDelta`` of one numbered change (byte for byte what the model would encode)."""
    return encode_book_delta(fx.asset_id, fx.market, fx.seq, fx.ts_ms, fx.recv_ts_ms,
                             [(c.side, c.price, c.size) for c in fx.changes], fx.hash, fx.best_bid, fx.best_ask,
                             fx.epoch, fx.reset)


def _levels(levels: Sequence[Level]) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(price=lv.price, size=lv.size) for lv in levels)


def snapshot_message(snap: Snapshot) -> BookSnapshot:
    """The bus message of a whole book (levels best first)."""
    return BookSnapshot(asset_id=snap.asset_id, market=snap.market, seq=snap.seq, ts_ms=snap.ts_ms,
                        bids=_levels(snap.bids), asks=_levels(snap.asks), tick_size=Decimal(snap.tick_size),
                        min_order_size=Decimal(snap.min_order_size) if snap.min_order_size else None,
                        neg_risk=snap.neg_risk, hash=snap.hash, reason=snap.reason, epoch=snap.epoch,
                        verified=snap.verified)


def state_message(fx: StateChanged) -> BookStatus:
    return BookStatus(asset_id=fx.asset_id, market=fx.market, state=fx.new.value, reason=fx.reason, ts_ms=fx.ts_ms,
                     epoch=fx.epoch, seq=fx.seq)
