"""The per-asset book state machine: snapshots, deltas, resyncs and hash verification. Pure.

States and what moves between them (the ``_TABLE`` below is the whole truth; anything not in it raises
``BookSyncError`` and changes nothing)::

    awaiting_snapshot --book that verifies--> live           a new epoch
    awaiting_snapshot --book whose hash is pending--> unverified   a new epoch, not quotable yet
    awaiting_snapshot --delta--> resyncing(first_delta)       the delta is buffered
    unverified --a later hash of the asset verifies--> live
    live|unverified --delta with a hash nothing explains--> resyncing(checksum)
    live|unverified --book that does not verify--> resyncing(checksum)   the book is never published
    live|unverified --tick_size_change--> resyncing(tick_size)           no quoting until a new snapshot
    live|unverified --resync request--> resyncing(<reason>)
    resyncing --book (ws or REST) that verifies or is pending--> live|unverified   a new epoch, then the
                                                            buffered deltas that follow it
    resyncing --REST book that does not verify--> resyncing   (the fetch is restarted, nothing published)
    any but disconnected --connection lost--> disconnected    buffer dropped
    disconnected --connection restored--> resyncing(gap)      (awaiting_snapshot if it never had a book)

Rules:

- **epoch and seq.** Every change to the book is an ``Applied`` effect whose ``seq`` is the previous one + 1
  (seq never goes back, across epochs too). A book that does not continue a live chain (the first one, the
  one completing a resync, after a reconnect) begins a new ``epoch``: its ``Applied`` has ``reset`` and
  carries every level, so a consumer replaces its book instead of applying a diff. A live websocket book
  (post-trade) stays in the epoch: its ``Applied`` is the difference it makes. A ``Snapshot`` carries the
  ``(epoch, seq)`` of the last change it includes, so a consumer's book at ``(epoch, seq)`` equals the
  snapshot at ``(epoch, seq)``. A new ``BookSync`` is given where the previous instance left off
  (``epoch``, ``seq``): its first book begins ``epoch + 1`` at ``seq + 1``.
- **Only verified books go out as books.** A book whose hash is checked and does not verify produces no
  ``Applied`` and no ``Snapshot``: a websocket book starts a checksum resync, a REST book restarts the
  fetch. A book whose F10 hash is pending (the ltp window) is published with ``verified=False`` in state
  ``unverified``; the first later hash of the asset that verifies makes it ``live`` (with a ``verified``
  snapshot), expiry makes it a mismatch.
- **Coalescing** (``SyncConfig.coalesce``, off by default). While the shell has not yet sent change
  ``seq`` anywhere, further venue deltas may join it instead of taking ``seq + 1`` (``Applied.extends``):
  a shell whose publisher is busy then sends one message per asset carrying all the changes since, so the
  number of messages stays bounded by the number of assets under any load, and ``seq`` stays strictly
  +1 per message. The shell calls ``seal(seq)`` when it takes the message; a snapshot and a replacing
  book seal it too (a snapshot's ``seq`` must cover exactly the changes up to it).
- **Resync** = buffer deltas (at most ``max_buffered``) while the shell fetches REST ``/book``; any
  snapshot completes it, websocket or REST. Buffered deltas after the snapshot are then applied through the
  normal live path, hash checks included: those after the last buffered delta whose hash equals the
  snapshot's, and not older than the snapshot. A delta of the snapshot's own millisecond is not dropped by
  its timestamp (deltas sharing a millisecond are common): it is skipped only when the book already has its
  hash, otherwise applied and decided by the hash chain. A REST book older than the last delta it must
  cover is stale: discarded, and the resync restarts. Overflow drops the buffer and restarts the resync.
- **After a REST book** deltas older than it are already included and are discarded; same-millisecond ones
  are decided as above.
- **Hashes.** Every book and every delta carrying a hash is verified (``book_verify``). An F10 hash no
  known ``last_trade_price`` explains stays pending for ``ltp_window_ms``; only expiry (checked on every
  input and by ``tick``) makes it a mismatch.
- **Time.** ``now_ms`` is passed in; venue timestamps order books and deltas, ``now_ms`` only drives the
  pending-check windows and the resync timestamps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from polybot.domain.book import L2Book, LevelChange
from polybot.domain.book_effects import (
    Applied,
    AppliedSource,
    BookState,
    Discarded,
    Effect,
    HashChecked,
    HashResult,
    ResyncReason,
    Snapshot,
    StartResync,
    StateChanged,
    SyncStats,
)
from polybot.domain.book_events import LastTrade, TickSizeChanged, VenueBook, VenueDelta
from polybot.domain.book_hash import HashLayout
from polybot.domain.book_inputs import (
    BookSyncError,
    ConnectionLost,
    ConnectionRestored,
    ResyncRequested,
    SyncConfig,
    SyncInput,
    all_levels,
    on_tick,
    tick_of,
    trade_prices,
)
from polybot.domain.book_verify import (
    V1_TS_OFFSETS_MS,
    HashMatch,
    HashSubject,
    HashVerifier,
    MarketMeta,
    PendingCheck,
    hash_head,
)

__all__ = ["BookSync", "BookSyncError", "ConnectionLost", "ConnectionRestored", "ResyncRequested", "SyncConfig",
           "SyncInput"]


_S = BookState
_Handler = Callable[["BookSync", SyncInput, int, list[Effect]], None]


class BookSync:
    """The state machine of one asset's book. Feed inputs with ``handle``; act on the returned effects."""

    def __init__(self, asset_id: str, market: str, meta: MarketMeta | None = None,
                 config: SyncConfig | None = None, *, epoch: int = 0, seq: int = 0) -> None:
        """``epoch``, ``seq``: where the asset's feed left off (a restart, a re-add): never go back."""
        self.asset_id = asset_id
        self.market = market
        self.meta = meta or MarketMeta()
        self._tick = tick_of(self.meta)
        self.config = config or SyncConfig()
        self.state = BookState.AWAITING_SNAPSHOT
        self.epoch = epoch
        self.seq = seq
        self.verified = False  # the current book's hash is confirmed (or not checked)
        self.open = False  # change ``seq`` may still take venue deltas (coalescing)
        self.book = L2Book()
        self.has_book = False
        self.book_ts_ms = 0
        self.hash: str | None = None
        self.resync_reason: ResyncReason | None = None
        self.stats = SyncStats()
        self.verifier = HashVerifier(self.config.layouts, self.config.ltp_window_ms, self.config.max_pending_checks)
        self._buffer: list[VenueDelta] = []
        self._min_snapshot_ts = 0
        self._included_until_ts: int | None = None
        self._head = hash_head(market, asset_id)

    # --- public API -----------------------------------------------------------------------------------------
    def handle(self, event: SyncInput, now_ms: int) -> list[Effect]:
        """Apply one input; return the effects in order. Raises ``BookSyncError`` (changing nothing)
        when the input is not allowed in the current state or names another asset."""
        handler = _TABLE.get((self.state, type(event)))
        if handler is None:
            raise BookSyncError(f"{type(event).__name__} is not allowed in state {self.state.value}")
        if isinstance(event, LastTrade):  # the market's ltp applies to all of its tokens
            if event.market != self.market:
                raise BookSyncError(f"last trade of market {event.market} fed to a book of {self.market}")
        elif getattr(event, "asset_id", self.asset_id) != self.asset_id:
            raise BookSyncError(f"event for asset {getattr(event, 'asset_id', '?')} fed to the book of {self.asset_id}")
        effects: list[Effect] = []
        if self.verifier.pending:
            self._expire(now_ms, effects)
        _TABLE[(self.state, type(event))](self, event, now_ms, effects)
        if self.verifier.settled:
            self._report_settled(now_ms, effects)
        return effects

    def tick(self, now_ms: int) -> list[Effect]:
        """Expire pending hash checks whose ltp window has passed (call every few hundred ms)."""
        effects: list[Effect] = []
        self._expire(now_ms, effects)
        if self.verifier.settled:
            self._report_settled(now_ms, effects)
        return effects

    def _report_settled(self, now_ms: int, fx: list[Effect]) -> None:
        """Checks the verifier settled by itself (a later trade or hash explained them): report them, and an
        unverified book whose last pending check is gone is confirmed."""
        for check, match in self.verifier.take_settled():
            if match is None:
                fx.append(self._checked(check.kind, check.seq, check.ts_ms, "superseded"))
            else:
                fx.append(self._checked(check.kind, check.seq, check.ts_ms, "ok", match, deferred=True))
        if self.state is _S.UNVERIFIED and not self.verifier.pending:
            self._confirmed(now_ms, fx)

    def set_meta(self, meta: MarketMeta) -> None:
        """Replace the market metadata used for hashing (from gamma-sync's messages / the CLOB market)."""
        self.meta = meta
        self._tick = tick_of(meta)

    def seal(self, seq: int) -> None:
        """The shell took change ``seq`` away: later deltas take new numbers (a no-op for an older seq)."""
        if seq == self.seq:
            self.open = False

    def snapshot(self, reason: str = "periodic") -> Snapshot | None:
        """The current book as a ``Snapshot`` (``None`` unless consumers hold it: live or unverified). Seals
        the open change: a snapshot covers exactly the changes up to its ``seq``."""
        if not self.has_book or self.state not in _PUBLISHED:
            return None
        self.open = False
        return self._snapshot(reason)

    def _snapshot(self, reason: str) -> Snapshot:
        return Snapshot(self.asset_id, self.market, self.seq, self.book_ts_ms, self.book.bids_best_first(),
                        self.book.asks_best_first(), self.meta.tick_size, self.meta.min_order_size,
                        self.meta.neg_risk, self.hash, reason, self.epoch, self.verified)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # --- handlers -------------------------------------------------------------------------------------------
    def _on_book(self, ev: SyncInput, now_ms: int, fx: list[Effect]) -> None:
        assert isinstance(ev, VenueBook)
        old = self.state
        fresh = old not in _PUBLISHED  # not continuing a published chain: a new epoch
        if ev.source == "rest" and self.has_book:
            floor = self.book_ts_ms if not fresh else self._min_snapshot_ts
            if ev.ts_ms < floor:
                fx.append(Discarded(self.asset_id, self.market, "rest_book", "stale", now_ms))
                if old is _S.RESYNCING:
                    fx.append(self._resync_effect(now_ms, restart=True))
                return
        self._take_meta(ev)
        if self.config.enforce_tick and not on_tick(self._tick, (lv.price for lv in (*ev.bids, *ev.asks))):
            # a book off the market's tick: not the venue's, or our tick is stale; REST tells both
            fx.append(Discarded(self.asset_id, self.market, "book", "off_tick", now_ms))
            if old is _S.RESYNCING:
                fx.append(self._resync_effect(now_ms, restart=True))
            else:
                self._start_resync("tick_size", now_ms, fx)
            return
        self.open = False
        for check in self.verifier.take_pending():
            fx.append(self._checked(check.kind, check.seq, check.ts_ms, "superseded"))
        changes = self.book.diff_to(ev.bids, ev.asks)
        self.book.replace(ev.bids, ev.asks)
        self.has_book = True
        self.book_ts_ms = ev.ts_ms
        self.hash = ev.hash
        if ev.last_trade_price is not None:
            self.verifier.note_ltp(ev.last_trade_price)
        result: HashMatch | PendingCheck | None = _UNCHECKED
        if ev.hash and self.config.verify_hashes:
            result = self.verifier.verify(self._subject(ev.timestamp), ev.hash, kind="book", seq=self.seq + 1,
                                          ts_ms=ev.ts_ms, now_ms=now_ms, own_ltp=ev.last_trade_price)
            self._report(result, "book", ev.ts_ms, fx, seq=self.seq + 1)
        if result is None:  # known wrong: never published, never quoted
            self.stats.refused_books += 1
            if old is _S.RESYNCING:
                fx.append(self._resync_effect(now_ms, restart=True))
            else:
                self._start_resync("checksum", now_ms, fx)
            return
        self.stats.snapshots += 1
        self.stats.last_update_ts_ms = ev.ts_ms
        source: AppliedSource = "rest" if ev.source == "rest" else "book"
        if fresh:
            self.epoch += 1
            self.stats.epochs += 1
            self.seq += 1
            fx.append(self._applied(ev.ts_ms, ev.recv_ts_ms, all_levels(ev.bids, ev.asks), ev.hash, source,
                                    reset=True))
        elif changes:
            self.seq += 1
            fx.append(self._applied(ev.ts_ms, ev.recv_ts_ms, changes, ev.hash, source))
        self.verified = not isinstance(result, PendingCheck)
        if old is _S.AWAITING_SNAPSHOT:
            reason = "initial"
        elif fresh:
            reason = self.resync_reason or "manual"
        else:
            reason = "rest" if ev.source == "rest" else "book"
        self.open = False
        fx.append(self._snapshot(reason))
        self._move(_S.LIVE if self.verified else _S.UNVERIFIED, reason, now_ms, fx)
        self._included_until_ts = ev.ts_ms if ev.source == "rest" else None
        buffered, self._buffer = self._buffer, []
        if fresh:
            self.resync_reason = None
        for delta in self._newer_than(buffered, ev):
            _TABLE[(self.state, VenueDelta)](self, delta, now_ms, fx)

    def _on_delta_live(self, ev: SyncInput, now_ms: int, fx: list[Effect]) -> None:
        assert isinstance(ev, VenueDelta)
        included = self._included_until_ts
        if included is not None:
            if ev.ts_ms < included or (ev.ts_ms == included and ev.hash is not None and ev.hash == self.hash):
                fx.append(Discarded(self.asset_id, self.market, "delta", "included_in_rest_book", now_ms))
                return
            if ev.ts_ms > included:
                self._included_until_ts = None
        tick = self._tick
        for change in ev.changes:
            if change.price % tick and self.config.enforce_tick:
                # never applied: the next hash of the asset decides whether anything real was lost
                fx.append(Discarded(self.asset_id, self.market, "delta", "off_tick", now_ms))
                return
        apply = self.book.apply
        for change in ev.changes:
            apply(change)
        extends = self.open
        if not extends:
            self.seq += 1
            self.open = self.config.coalesce
        self.book_ts_ms = ev.ts_ms
        self.hash = ev.hash
        stats = self.stats
        stats.deltas += 1
        stats.last_update_ts_ms = ev.ts_ms
        fx.append(self._applied(ev.ts_ms, ev.recv_ts_ms, ev.changes, ev.hash, "price_change", extends))
        if not ev.hash or not self.config.verify_hashes:
            return
        verifier = self.verifier
        result: HashMatch | PendingCheck | None = None
        tried = None
        if ev.shape == "v2":
            result = verifier.quick_f10(self._head, ev.timestamp, self.book.levels_utf8(), self.meta, ev.hash)
            tried = verifier.ltp if verifier.layout is HashLayout.F10 else None
        if result is None:
            result = verifier.verify(
                self._subject(ev.timestamp), ev.hash, kind="delta", seq=self.seq, ts_ms=ev.ts_ms, now_ms=now_ms,
                ts_offsets=(0,) if ev.shape == "v2" else V1_TS_OFFSETS_MS, trade_prices=trade_prices(ev),
                tried_ltp=tried)
        if isinstance(result, HashMatch) and verifier.pending:
            for check in verifier.take_pending():
                fx.append(self._checked(check.kind, check.seq, check.ts_ms, "superseded"))
        self._report(result, "delta", ev.ts_ms, fx)
        if result is None:
            self._start_resync("checksum", now_ms, fx)
        elif self.state is _S.UNVERIFIED and not verifier.pending:
            self._confirmed(now_ms, fx)

    def _on_delta_first(self, ev: SyncInput, now_ms: int, fx: list[Effect]) -> None:
        assert isinstance(ev, VenueDelta)
        self._start_resync("first_delta", now_ms, fx)
        self._buffer.append(ev)

    def _on_delta_buffer(self, ev: SyncInput, now_ms: int, fx: list[Effect]) -> None:
        assert isinstance(ev, VenueDelta)
        if len(self._buffer) >= self.config.max_buffered:
            # The fetch in flight cannot cover what is dropped here: it must be newer than this delta.
            self._buffer.clear()
            self._min_snapshot_ts = ev.ts_ms
            self.stats.buffer_overflows += 1
            fx.append(self._resync_effect(now_ms, restart=True))
            return
        self._buffer.append(ev)

    def _on_delta_disconnected(self, ev: SyncInput, now_ms: int, fx: list[Effect]) -> None:
        fx.append(Discarded(self.asset_id, self.market, "delta", "disconnected", now_ms))

    def _on_book_disconnected(self, ev: SyncInput, now_ms: int, fx: list[Effect]) -> None:
        fx.append(Discarded(self.asset_id, self.market, "book", "disconnected", now_ms))

    def _on_tick_size(self, ev: SyncInput, now_ms: int, fx: list[Effect]) -> None:
        assert isinstance(ev, TickSizeChanged)
        self.set_meta(replace(self.meta, tick_size=ev.new_tick_size))
        if self.state in _PUBLISHED:
            self._start_resync("tick_size", now_ms, fx)

    def _on_last_trade(self, ev: SyncInput, now_ms: int, fx: list[Effect]) -> None:
        assert isinstance(ev, LastTrade)
        for check, match in self.verifier.on_last_trade(ev.price, ev.raw_price):
            fx.append(self._checked(check.kind, check.seq, check.ts_ms, "ok", match, deferred=True))
        if self.state is _S.UNVERIFIED and not self.verifier.pending:
            self._confirmed(now_ms, fx)

    def _confirmed(self, now_ms: int, fx: list[Effect]) -> None:
        """The pending hash of an unverified book is explained: the book is quotable, cold consumers may load it."""
        self.verified = True
        self.open = False
        fx.append(self._snapshot("verified"))
        self._move(_S.LIVE, "verified", now_ms, fx)

    def _on_lost(self, ev: SyncInput, now_ms: int, fx: list[Effect]) -> None:
        self._buffer.clear()
        self._included_until_ts = None
        for check in self.verifier.take_pending():
            fx.append(self._checked(check.kind, check.seq, check.ts_ms, "superseded"))
        self._move(_S.DISCONNECTED, "connection_lost", now_ms, fx)

    def _on_restored(self, ev: SyncInput, now_ms: int, fx: list[Effect]) -> None:
        if self.has_book:
            self._start_resync("gap", now_ms, fx)
        else:
            self._move(_S.AWAITING_SNAPSHOT, "connection_restored", now_ms, fx)

    def _on_request(self, ev: SyncInput, now_ms: int, fx: list[Effect]) -> None:
        assert isinstance(ev, ResyncRequested)
        self._start_resync(ev.reason, now_ms, fx)

    def _ignore(self, ev: SyncInput, now_ms: int, fx: list[Effect]) -> None:
        """Accepted and deliberately without effect (e.g. a resync request while already resyncing)."""

    # --- internals ------------------------------------------------------------------------------------------
    def _start_resync(self, reason: ResyncReason, now_ms: int, fx: list[Effect]) -> None:
        for check in self.verifier.take_pending():
            fx.append(self._checked(check.kind, check.seq, check.ts_ms, "superseded"))
        self.resync_reason = reason
        self._min_snapshot_ts = self.book_ts_ms if self.has_book else 0
        self._included_until_ts = None
        if reason in self.stats.resyncs:
            self.stats.resyncs[reason] += 1
        self._move(_S.RESYNCING, reason, now_ms, fx)
        fx.append(self._resync_effect(now_ms))

    def _resync_effect(self, now_ms: int, restart: bool = False) -> StartResync:
        return StartResync(self.asset_id, self.market, self.resync_reason or "manual", now_ms, now_ms, restart)

    def _move(self, new: BookState, reason: str | None, now_ms: int, fx: list[Effect]) -> None:
        if new is not self.state:
            fx.append(StateChanged(self.asset_id, self.market, self.state, new, reason, now_ms, self.epoch,
                                   self.seq))
            self.state = new
            if new not in _PUBLISHED:
                self.verified = False

    def _expire(self, now_ms: int, fx: list[Effect]) -> None:
        expired = self.verifier.expire(now_ms)
        for check in expired:
            fx.append(self._checked(check.kind, check.seq, check.ts_ms, "mismatch"))
        if expired and self.state in _PUBLISHED:
            self._start_resync("checksum", now_ms, fx)

    def _take_meta(self, ev: VenueBook) -> None:
        meta = self.meta
        if ev.tick_size:
            meta = replace(meta, tick_size=ev.tick_size)
        if ev.min_order_size:
            meta = replace(meta, min_order_size=ev.min_order_size)
        if ev.neg_risk is not None:
            meta = replace(meta, neg_risk=ev.neg_risk)
        self.set_meta(meta)

    def _subject(self, timestamp: str) -> HashSubject:
        return HashSubject(self.market, self.asset_id, timestamp, self.book.levels_json(), self.meta, self._head)

    def _newer_than(self, buffered: list[VenueDelta], book: VenueBook) -> list[VenueDelta]:
        """The buffered deltas the book does not include: after the last one whose hash is the book's, and
        not older than it (a delta of the book's own millisecond is left to the hash chain)."""
        start = 0
        if book.hash:
            for i, delta in enumerate(buffered):
                if delta.hash == book.hash:
                    start = i + 1
        return [d for d in buffered[start:] if d.ts_ms >= book.ts_ms]

    def _applied(self, ts_ms: int, recv_ts_ms: int, changes: tuple[LevelChange, ...], hash_: str | None,
                 source: AppliedSource, extends: bool = False, reset: bool = False) -> Applied:
        book = self.book
        return Applied(self.asset_id, self.market, self.seq, ts_ms, recv_ts_ms, changes, hash_,
                       book.best_bid_price(), book.best_ask_price(), source, extends, self.epoch, reset)

    def _checked(self, kind: str, seq: int, ts_ms: int, result: HashResult, match: HashMatch | None = None,
                 deferred: bool = False) -> HashChecked:
        return HashChecked(self.asset_id, self.market, "book" if kind == "book" else "delta", seq, ts_ms, result,
                           match.layout if match else None, match.ltp if match else None,
                           match.ts_offset_ms if match else 0, deferred)

    def _report(self, result: HashMatch | PendingCheck | None, kind: str, ts_ms: int, fx: list[Effect],
                seq: int | None = None) -> None:
        seq = self.seq if seq is None else seq
        if isinstance(result, HashMatch):
            fx.append(self._checked(kind, seq, ts_ms, "ok", result))
        elif result is None:
            fx.append(self._checked(kind, seq, ts_ms, "mismatch"))


_UNCHECKED = HashMatch(HashLayout.F10, None, 0)  # stands for "no hash to check": as good as verified
_PUBLISHED = (_S.LIVE, _S.UNVERIFIED)  # states whose book consumers hold
_ALIVE = (_S.AWAITING_SNAPSHOT, *_PUBLISHED, _S.RESYNCING)
_TABLE: dict[tuple[BookState, type], _Handler] = {
    (_S.AWAITING_SNAPSHOT, VenueBook): BookSync._on_book,
    **{(s, VenueBook): BookSync._on_book for s in _PUBLISHED},
    (_S.RESYNCING, VenueBook): BookSync._on_book,
    (_S.DISCONNECTED, VenueBook): BookSync._on_book_disconnected,
    (_S.AWAITING_SNAPSHOT, VenueDelta): BookSync._on_delta_first,
    **{(s, VenueDelta): BookSync._on_delta_live for s in _PUBLISHED},
    (_S.RESYNCING, VenueDelta): BookSync._on_delta_buffer,
    (_S.DISCONNECTED, VenueDelta): BookSync._on_delta_disconnected,
    (_S.AWAITING_SNAPSHOT, ResyncRequested): BookSync._on_request,
    **{(s, ResyncRequested): BookSync._on_request for s in _PUBLISHED},
    (_S.RESYNCING, ResyncRequested): BookSync._ignore,
    (_S.DISCONNECTED, ResyncRequested): BookSync._ignore,
    (_S.DISCONNECTED, ConnectionLost): BookSync._ignore,
    (_S.DISCONNECTED, ConnectionRestored): BookSync._on_restored,
    **{(s, TickSizeChanged): BookSync._on_tick_size for s in (*_ALIVE, _S.DISCONNECTED)},
    **{(s, LastTrade): BookSync._on_last_trade for s in (*_ALIVE, _S.DISCONNECTED)},
    **{(s, ConnectionLost): BookSync._on_lost for s in _ALIVE},
}
