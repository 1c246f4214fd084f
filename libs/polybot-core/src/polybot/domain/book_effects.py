"""What the book state machine asks its shell to do or tells it happened: values, no behaviour.

All are treated as immutable. ``Applied`` and ``HashChecked`` are made for every venue delta, so they are
plain slotted dataclasses: a frozen dataclass's ``__init__`` costs about five times as much (measured
1.9 µs against 0.4 µs), which at tens of thousands of deltas a second is a visible share of the hot path.

The shell (the ingestor, or the offline replay) turns ``Applied`` into a bus ``BookDelta`` and a
``book_events`` row, ``Snapshot`` into a ``BookSnapshot`` and a ``book_snapshots`` row, ``StateChanged`` into a
``BookState``; it starts a REST ``/book`` fetch on ``StartResync`` (not before ``not_before_ms``) and feeds
the result back as a ``VenueBook(source="rest")``; it counts ``HashChecked`` and logs ``Discarded``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from polybot.domain.book import Level, LevelChange
from polybot.domain.book_hash import HashLayout


class BookState(StrEnum):
    AWAITING_SNAPSHOT = "awaiting_snapshot"
    LIVE = "live"  # the book's latest hash verified: quotable
    UNVERIFIED = "unverified"  # a book whose hash is still pending (F10 ltp window): applied, not quotable yet
    RESYNCING = "resyncing"
    DISCONNECTED = "disconnected"


# The four counted causes (metrics ``ingestion_resync_<reason>``), plus explicit requests.
ResyncReason = Literal["first_delta", "gap", "checksum", "tick_size", "manual"]
COUNTED_RESYNC_REASONS: tuple[str, ...] = ("first_delta", "gap", "checksum", "tick_size")
AppliedSource = Literal["price_change", "book", "rest"]
HashResult = Literal["ok", "mismatch", "superseded"]


@dataclass(slots=True)
class Applied:
    """A change of the book, numbered: ``seq`` is strictly +1 per asset.

    ``source="price_change"`` is a venue delta. ``"book"``/``"rest"`` is the difference a replacing
    snapshot made (so that a consumer following deltas alone stays exact); ``hash`` is the venue's hash of
    the book after the change, when known. ``best_bid``/``best_ask`` are computed from our book.

    ``extends``: this venue delta joins the still-open change ``seq`` (coalescing, ``SyncConfig.coalesce``)
    instead of taking a new number; the shell appends its ``changes`` to that change's message, whose
    ``hash``/``best_*``/``ts_ms`` become this one's.

    ``reset``: the first change of a new ``epoch``: ``changes`` are the whole book (every level), which
    *replaces* whatever the consumer held (after a restart, a re-add, a resync).
    """

    asset_id: str
    market: str
    seq: int
    ts_ms: int
    recv_ts_ms: int
    changes: tuple[LevelChange, ...]
    hash: str | None
    best_bid: Decimal | None
    best_ask: Decimal | None
    source: AppliedSource = "price_change"
    extends: bool = False
    epoch: int = 0
    reset: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole book after the change ``(epoch, seq)``; levels best first. ``reason`` says why it was taken:
    ``initial``, a resync reason (``first_delta``/``gap``/``checksum``/``tick_size``/``manual``), ``book`` (a
    websocket book while live), ``rest`` (a REST book while live), ``verified`` (a pending hash of this book
    was confirmed) or ``periodic``. ``verified`` is false only while the book's hash is pending (the F10
    ltp window): such a book is not quotable yet. A book known to be wrong is never a ``Snapshot``."""

    asset_id: str
    market: str
    seq: int
    ts_ms: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    tick_size: str
    min_order_size: str
    neg_risk: bool
    hash: str | None
    reason: str
    epoch: int = 0
    verified: bool = True


@dataclass(frozen=True, slots=True)
class StartResync:
    """Fetch REST ``/book`` for the asset, not before ``not_before_ms`` (per-market rate limit).

    ``restart`` is set when an earlier fetch can no longer complete the resync (buffer overflow, or a
    REST book older than the deltas it must cover); it is not a new resync for the counters.
    """

    asset_id: str
    market: str
    reason: ResyncReason
    ts_ms: int
    not_before_ms: int
    restart: bool = False


@dataclass(slots=True)
class HashChecked:
    """The final outcome of one venue hash check. ``superseded``: never explained, but the book it was
    about was replaced or proven right by a later hash, so it no longer matters (not a mismatch)."""

    asset_id: str
    market: str
    kind: Literal["book", "delta"]
    seq: int
    ts_ms: int
    result: HashResult
    layout: HashLayout | None = None
    ltp: str | None = None
    ts_offset_ms: int = 0
    deferred: bool = False  # resolved after the message, by a later last_trade_price

    @property
    def ok(self) -> bool:
        return self.result == "ok"


@dataclass(frozen=True, slots=True)
class StateChanged:
    asset_id: str
    market: str
    old: BookState
    new: BookState
    reason: str | None
    ts_ms: int
    epoch: int = 0
    seq: int = 0  # the book's position when the state changed


@dataclass(frozen=True, slots=True)
class Discarded:
    """An input that was deliberately not applied (stale REST book, delta already included, …)."""

    asset_id: str
    market: str
    what: str
    reason: str
    ts_ms: int


Effect = Applied | Snapshot | StartResync | HashChecked | StateChanged | Discarded


@dataclass(slots=True)
class SyncStats:
    """Running counts for one asset (``market_status`` columns)."""

    snapshots: int = 0
    deltas: int = 0
    last_update_ts_ms: int = 0
    resyncs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED_RESYNC_REASONS, 0))
    buffer_overflows: int = 0
    epochs: int = 0  # epochs begun by this process
    refused_books: int = 0  # books whose hash did not verify (never published)
