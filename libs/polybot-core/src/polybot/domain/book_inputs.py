"""What a book state machine is fed besides venue events, how it is tuned, and what it reads off its inputs
(ticks, levels, trade prices). Pure.

``BookSync`` (``book_sync``) takes these and the venue's events (``book_events``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from polybot.domain.book import Level, LevelChange
from polybot.domain.book_effects import ResyncReason
from polybot.domain.book_events import LastTrade, TickSizeChanged, VenueBook, VenueDelta
from polybot.domain.book_hash import ALL_LAYOUTS, HashLayout
from polybot.domain.book_verify import MarketMeta


class BookSyncError(RuntimeError):
    """An input the current state does not accept (or meant for another asset); nothing was changed."""


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The websocket carrying the asset went down."""


@dataclass(frozen=True, slots=True)
class ConnectionRestored:
    """The websocket is up and resubscribed again."""


@dataclass(frozen=True, slots=True)
class ResyncRequested:
    """An explicit request to re-snapshot (operator, control message, cadence)."""

    reason: ResyncReason = "manual"


SyncInput = VenueBook | VenueDelta | TickSizeChanged | LastTrade | ConnectionLost | ConnectionRestored | ResyncRequested


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """Tuning for every asset's machine."""

    max_buffered: int = 2000
    ltp_window_ms: int = 2000
    max_pending_checks: int = 64
    layouts: tuple[HashLayout, ...] = ALL_LAYOUTS
    verify_hashes: bool = True
    coalesce: bool = False
    # Refuse levels off the market's tick (the tick is the venue's: its books, REST, gamma-sync). Off for a
    # replay whose recordings never said their tick (the CLI's --tick-size is then only a guess).
    enforce_tick: bool = True


def tick_of(meta: MarketMeta) -> Decimal:
    tick = Decimal(meta.tick_size)
    return tick if tick.is_finite() and tick > 0 else Decimal("0.0001")  # the finest tick the venue has


def on_tick(tick: Decimal, prices: Iterator[Decimal]) -> bool:
    return all(not p % tick for p in prices)


def all_levels(bids: tuple[Level, ...], asks: tuple[Level, ...]) -> tuple[LevelChange, ...]:
    """A whole book as changes from empty (the ``reset`` change that begins an epoch)."""
    return (*(LevelChange("BUY", lv.price, lv.size, lv.raw_price, lv.raw_size) for lv in bids),
            *(LevelChange("SELL", lv.price, lv.size, lv.raw_price, lv.raw_size) for lv in asks))


def trade_prices(ev: VenueDelta) -> Iterator[Decimal]:
    for change in ev.changes:
        yield change.price
    for price in (ev.best_bid, ev.best_ask):
        if price is not None:
            yield price
