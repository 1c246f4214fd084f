"""All subscribed books of one ingestor (or one replay): routing, shared ltp, per-market resync limits.

``MarketBooks`` owns one ``BookSync`` per asset. It routes each market-channel event to its asset,
sends a ``last_trade_price`` to every asset of the market (the venue hashes both tokens with the same
ltp), and rate-limits resyncs per market: ``StartResync.not_before_ms`` is pushed to at least
``resync_min_interval_ms`` after the market's previous resync round; requests made before a scheduled round
starts join it (so both tokens of a market resync together). Pure and synchronous, like ``BookSync``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from polybot.domain.book_effects import Discarded, Effect, ResyncReason, Snapshot, StartResync
from polybot.domain.book_events import (
    LastTrade,
    MarketEvent,
    TickSizeChanged,
    VenueBook,
    VenueDelta,
)
from polybot.domain.book_sync import (
    BookSync,
    ConnectionLost,
    ConnectionRestored,
    ResyncRequested,
    SyncConfig,
    SyncInput,
)
from polybot.domain.book_verify import MarketMeta


class ResyncLimiter:
    """Per-market minimum interval between resync rounds, decided from ``now_ms`` alone."""

    __slots__ = ("_rounds", "min_interval_ms")

    def __init__(self, min_interval_ms: int) -> None:
        self.min_interval_ms = min_interval_ms
        self._rounds: dict[str, int] = {}  # market -> start of its latest round

    def grant(self, market: str, now_ms: int) -> int:
        """When the market's next resync may start (``>= now_ms``)."""
        last = self._rounds.get(market)
        if last is not None and now_ms <= last:
            return last  # join the round that has not started yet
        start = now_ms if last is None else max(now_ms, last + self.min_interval_ms)
        self._rounds[market] = start
        return start


class MarketBooks:
    """The books of many assets. ``feed`` market events, pass connection changes, act on the effects."""

    def __init__(self, config: SyncConfig | None = None, *, resync_min_interval_ms: int = 1000,
                 default_meta: MarketMeta | None = None, auto_add: bool = False) -> None:
        """``auto_add``: create a book (with ``default_meta``) for an unknown asset instead of discarding."""
        self.config = config or SyncConfig()
        self.default_meta = default_meta or MarketMeta()
        self.auto_add = auto_add
        self.limiter = ResyncLimiter(resync_min_interval_ms)
        self._books: dict[str, BookSync] = {}
        self._by_market: dict[str, list[str]] = {}

    # --- the asset set ----------------------------------------------------------------------------------------
    def add_asset(self, asset_id: str, market: str, meta: MarketMeta | None = None, *, epoch: int = 0,
                  seq: int = 0) -> BookSync:
        """Track an asset (idempotent). ``epoch``, ``seq``: where its feed left off (continue after a restart)."""
        book = self._books.get(asset_id)
        if book is not None:
            if meta is not None:
                book.set_meta(meta)
            return book
        book = BookSync(asset_id, market, meta or self.default_meta, self.config, epoch=epoch, seq=seq)
        self._books[asset_id] = book
        self._by_market.setdefault(market, []).append(asset_id)
        return book

    def remove_asset(self, asset_id: str) -> None:
        book = self._books.pop(asset_id, None)
        if book is not None:
            assets = self._by_market.get(book.market, [])
            if asset_id in assets:
                assets.remove(asset_id)
            if not assets:
                self._by_market.pop(book.market, None)

    def set_meta(self, market: str, meta: MarketMeta) -> None:
        """Set hashing metadata for every asset of ``market``."""
        for asset_id in self._by_market.get(market, ()):
            self._books[asset_id].set_meta(meta)

    def get(self, asset_id: str) -> BookSync | None:
        return self._books.get(asset_id)

    def __iter__(self) -> Iterator[BookSync]:
        return iter(list(self._books.values()))

    def __len__(self) -> int:
        return len(self._books)

    def assets_of(self, market: str) -> tuple[str, ...]:
        return tuple(self._by_market.get(market, ()))

    # --- inputs -------------------------------------------------------------------------------------------
    def feed(self, event: MarketEvent, now_ms: int) -> list[Effect]:
        """Apply one parsed market-channel event. Events that do not touch a book return ``[]``."""
        if type(event) is VenueDelta:  # nearly every event: straight to its book
            book = self._books.get(event.asset_id)
            if book is not None:
                return self._limit(book.handle(event, now_ms))
        if isinstance(event, LastTrade):
            effects: list[Effect] = []
            targets = list(self._by_market.get(event.market, ()))
            if event.asset_id in targets:  # its own asset first
                targets.remove(event.asset_id)
                targets.insert(0, event.asset_id)
            for asset_id in targets:
                effects.extend(self._books[asset_id].handle(event, now_ms))
            return self._limit(effects)
        if not isinstance(event, VenueBook | VenueDelta | TickSizeChanged):
            return []
        book = self._books.get(event.asset_id)
        if book is None:
            if not self.auto_add:
                return [Discarded(event.asset_id, event.market, type(event).__name__, "unknown_asset", now_ms)]
            book = self.add_asset(event.asset_id, event.market)
        return self._limit(book.handle(event, now_ms))

    def seal(self, asset_id: str, seq: int) -> None:
        """The shell took change ``seq`` of the asset away (see ``BookSync.seal``)."""
        book = self._books.get(asset_id)
        if book is not None:
            book.seal(seq)

    def handle(self, asset_id: str, event: SyncInput, now_ms: int) -> list[Effect]:
        """Feed any state-machine input to one asset (``KeyError`` if unknown)."""
        return self._limit(self._books[asset_id].handle(event, now_ms))

    def connection_lost(self, asset_ids: Iterable[str], now_ms: int) -> list[Effect]:
        return self._each(asset_ids, ConnectionLost(), now_ms)

    def connection_restored(self, asset_ids: Iterable[str], now_ms: int) -> list[Effect]:
        return self._each(asset_ids, ConnectionRestored(), now_ms)

    def request_resync(self, asset_ids: Iterable[str], now_ms: int, reason: ResyncReason = "manual") -> list[Effect]:
        return self._each(asset_ids, ResyncRequested(reason), now_ms)

    def tick(self, now_ms: int) -> list[Effect]:
        """Expire pending hash checks everywhere."""
        effects: list[Effect] = []
        for book in self._books.values():
            if book.verifier.pending:
                effects.extend(book.tick(now_ms))
        return self._limit(effects)

    def snapshots(self, reason: str = "periodic") -> list[Snapshot]:
        """A snapshot of every book consumers hold (live or unverified: for the periodic snapshot)."""
        out = []
        for book in self._books.values():
            snap = book.snapshot(reason)
            if snap is not None:
                out.append(snap)
        return out

    # --- internals ----------------------------------------------------------------------------------------
    def _each(self, asset_ids: Iterable[str], event: SyncInput, now_ms: int) -> list[Effect]:
        effects: list[Effect] = []
        for asset_id in asset_ids:
            book = self._books.get(asset_id)
            if book is not None:
                effects.extend(book.handle(event, now_ms))
        return self._limit(effects)

    def _limit(self, effects: list[Effect]) -> list[Effect]:
        for i, fx in enumerate(effects):
            if type(fx) is StartResync:
                effects[i] = replace(fx, not_before_ms=self.limiter.grant(fx.market, fx.ts_ms))
        return effects
