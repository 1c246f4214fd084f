"""Offline replay of a recorded market-channel JSONL through the live parser and book state machine.

One frame per line (a JSON object or an array; ``PONG`` and blank lines skipped); a ``.json`` file is one
frame (a single recorded message, possibly pretty-printed). The same
``parse_market_frame`` and ``MarketBooks`` the ingestor runs rebuild the books of ``market_id``; nothing
is fetched: a resync is counted and the next snapshot in the file (a websocket ``book`` or an inline REST
``/book`` body) completes it. The clock is the recording's own: ``now_ms`` is the newest venue timestamp
seen so far, and at the end pending hash checks are expired so each ends as ok, mismatch or superseded.

``ReplayRun`` is pure (feed lines, read the summary, collect rows); ``replay_file`` adds the file and an
optional ``BookSink`` (``polybot.store.book_tables``) to persist the reconstructed events and snapshots.
Given a ``QuoteReplay`` (``strategy``), the run also has the SpreadQuoter decide after every frame of the
market, and the summary carries what it decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from polybot.app.replay.strategy import QuoteReplay
from polybot.domain.book_effects import (
    COUNTED_RESYNC_REASONS,
    Applied,
    Effect,
    HashChecked,
    Snapshot,
    StartResync,
)
from polybot.domain.book_events import MarketEvent, NewMarket
from polybot.domain.book_sync import BookSync, SyncConfig
from polybot.domain.book_verify import MarketMeta
from polybot.domain.market_books import MarketBooks
from polybot.store.book_tables import PgBookStore, SqliteBookStore
from polybot.store.migrate import apply_migrations
from polybot.store.pool import create_pool
from polybot.venue.market_parse import InvalidMessage, parse_market_frame

BATCH_ROWS = 1000
# A file whose first this many frames hold not one valid market message is not a recording: the replay
# stops there instead of parsing gigabytes of something else (``ReplayRun.not_a_recording``).
JUNK_FRAMES_MAX = 10_000


class BookSink(Protocol):
    """Where replay results go (SQLite or PostgreSQL; see ``polybot.store.book_tables``)."""

    async def write(self, events: list[Applied], snapshots: list[Snapshot], status: list[BookSync]) -> None: ...


@dataclass(slots=True)
class ReplayCounts:
    frames: int = 0
    events: int = 0
    invalid: int = 0
    hash_checked: int = 0
    hash_ok: int = 0
    hash_mismatch: int = 0
    resyncs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED_RESYNC_REASONS, 0))


class ReplayRun:
    """Replays frames of one market; collects effects as pending rows for a sink."""

    def __init__(self, market_id: str, meta: MarketMeta, config: SyncConfig | None = None,
                 strategy: QuoteReplay | None = None) -> None:
        self.market_id = market_id
        # Recordings rarely carry their tick: the given one is a guess, so levels are not refused by it.
        config = config or SyncConfig(enforce_tick=False)
        self.books = MarketBooks(config, resync_min_interval_ms=0, default_meta=meta, auto_add=True)
        self.counts = ReplayCounts()
        self.invalid: list[tuple[int, InvalidMessage]] = []
        self.now_ms = 0
        self.events_out: list[Applied] = []
        self.snapshots_out: list[Snapshot] = []
        self.markets_seen: dict[str, None] = {}  # every market with a valid event, in order of appearance
        self.stopped_early = False  # ``replay_file`` gave up on a file that is not a recording
        self.strategy = strategy

    def feed_line(self, line: str, line_no: int = 0) -> list[Effect]:
        """Replay one recorded frame; returns the effects it produced."""
        if not line.strip():
            return []
        self.counts.frames += 1
        parsed = parse_market_frame(line)
        for bad in parsed.invalid:
            self.invalid.append((line_no, bad))
        self.counts.invalid += len(parsed.invalid)
        effects: list[Effect] = []
        mine = False
        for event in parsed.events:
            market = getattr(event, "market", None)
            if isinstance(market, str) and market:
                self.markets_seen.setdefault(market)
            if not self._mine(event):
                continue
            mine = True
            self.counts.events += 1
            self.now_ms = max(self.now_ms, getattr(event, "ts_ms", 0))
            effects.extend(self.books.feed(_stamped(event, self.now_ms), self.now_ms))
        self._collect(effects)
        if mine and self.strategy is not None:  # a frame is what the venue sends at once: decide on it whole
            self.strategy.decide(self.books, self.now_ms)
        return effects

    def finish(self) -> list[Effect]:
        """Expire the hash checks still waiting for a ``last_trade_price``."""
        end_ms = self.now_ms + self.books.config.ltp_window_ms + 1
        effects = self.books.tick(end_ms)
        self._collect(effects)
        if effects and self.strategy is not None:  # a pending hash expired: the quoter would see it go bad
            self.strategy.decide(self.books, end_ms)
        return effects

    def not_a_recording(self) -> bool:
        """``JUNK_FRAMES_MAX`` frames or more, and not one valid message of any market among them."""
        return self.counts.frames >= JUNK_FRAMES_MAX and not self.markets_seen and not self.counts.events

    def take_rows(self) -> tuple[list[Applied], list[Snapshot]]:
        events, snaps = self.events_out, self.snapshots_out
        self.events_out, self.snapshots_out = [], []
        return events, snaps

    def summary(self) -> dict[str, Any]:
        """The ``--json`` summary; prices as the venue's strings, ``None`` for an empty side."""
        c = self.counts
        books: dict[str, Any] = {}
        for sync in self.books:
            bb, ba = sync.book.best_bid(), sync.book.best_ask()
            books[sync.asset_id] = {
                "best_bid": bb.raw_price if bb else None,
                "best_ask": ba.raw_price if ba else None,
                "bid_levels": sync.book.bid_levels,
                "ask_levels": sync.book.ask_levels,
                "hash": sync.hash,
                "state": sync.state.value,
                "seq": sync.seq,
            }
        summary: dict[str, Any] = {
            "market_id": self.market_id,
            "frames": c.frames,
            "events": c.events,
            "applied": sum(s.stats.deltas + s.stats.snapshots for s in self.books),
            "invalid": c.invalid,
            "hash_checked": c.hash_checked,
            "hash_ok": c.hash_ok,
            "hash_mismatch": c.hash_mismatch,
            "resyncs": dict(c.resyncs),
            "books": books,
        }
        if self.strategy is not None:
            summary.update(self.strategy.summary())
        return summary

    def _mine(self, event: MarketEvent) -> bool:
        if isinstance(event, NewMarket):
            return False
        return event.market == self.market_id

    def _collect(self, effects: Iterable[Effect]) -> None:
        c = self.counts
        for fx in effects:
            if isinstance(fx, Applied):
                self.events_out.append(fx)
            elif isinstance(fx, Snapshot):
                self.snapshots_out.append(fx)
            elif isinstance(fx, HashChecked):
                c.hash_checked += 1
                c.hash_ok += fx.result == "ok"
                c.hash_mismatch += fx.result == "mismatch"
            elif isinstance(fx, StartResync) and not fx.restart and fx.reason in c.resyncs:
                c.resyncs[fx.reason] += 1


def _stamped(event: MarketEvent, now_ms: int) -> MarketEvent:
    """Recordings have no receive time: use the replay clock."""
    return replace(event, recv_ts_ms=now_ms)


def iter_frames(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, frame) of a recording: JSONL, or a ``.json`` file holding one (pretty-printed) frame."""
    if path.suffix == ".json":
        yield 1, " ".join(path.read_text(encoding="utf-8").splitlines())
        return
    with path.open(encoding="utf-8") as fh:
        yield from enumerate(fh, 1)


async def replay_file(path: Path, market_id: str, meta: MarketMeta, sink: BookSink | None = None,
                      config: SyncConfig | None = None, strategy: QuoteReplay | None = None) -> ReplayRun:
    """Replay ``path`` (JSONL) for ``market_id``, writing rows to ``sink`` in batches; return the run."""
    run = ReplayRun(market_id, meta, config, strategy)
    for line_no, frame in iter_frames(path):
        run.feed_line(frame, line_no)
        if run.counts.frames == JUNK_FRAMES_MAX and run.not_a_recording():
            run.stopped_early = True
            break
        if sink is not None and len(run.events_out) + len(run.snapshots_out) >= BATCH_ROWS:
            await sink.write(*run.take_rows(), [])
    run.finish()
    if sink is not None:
        await sink.write(*run.take_rows(), list(run.books))
    return run


class DbUrlError(ValueError):
    """A ``--db-url`` that is neither ``sqlite:///<path>`` nor ``postgresql://…``."""


def parse_db_url(url: str) -> tuple[str, str]:
    """``("sqlite", path)`` or ``("postgresql", url)``; ``DbUrlError`` otherwise."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if not path:
            raise DbUrlError(f"no file path in {url!r} (use sqlite:///./polybot.db)")
        return "sqlite", path
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql", url
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise DbUrlError(f"unsupported --db-url scheme {scheme!r}: use sqlite:///<path> or postgresql://…")


async def replay_to_db(path: Path, market_id: str, meta: MarketMeta, db_url: str | None,
                       config: SyncConfig | None = None, strategy: QuoteReplay | None = None) -> ReplayRun:
    """Replay ``path`` and write the results to ``db_url`` (none: summary only)."""
    if db_url is None:
        return await replay_file(path, market_id, meta, None, config, strategy)
    kind, target = parse_db_url(db_url)
    if kind == "sqlite":
        store = SqliteBookStore(target)
        try:
            return await replay_file(path, market_id, meta, store, config, strategy)
        finally:
            store.close()
    pool = await create_pool(target, min_size=1, max_size=2)
    try:
        await apply_migrations(pool, ("ingest",))
        return await replay_file(path, market_id, meta, PgBookStore(pool), config, strategy)
    finally:
        await pool.close()
