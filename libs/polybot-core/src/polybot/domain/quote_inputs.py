"""What the SpreadQuoter decides from, and what it decides: plain frozen values, no I/O.

``SpreadQuoter.decide(market, books, ours, now_ms)`` (``polybot.domain.quoting``) takes one market's
``QuoteMarket``, the ``QuoteBook`` of each of its two outcome tokens, ``OurState`` (position, resting
orders, the kill switch, the notional we hold across every market) and the time, and returns a
``Decision``:

* ``action == "quote"``: a new target (``orders``) to publish;
* ``action == "pull"``: an explicit empty target, because the market went bad (``reason`` says why);
  published once when quoting stops, then ``hold`` while it stays bad;
* ``action == "hold"``: nothing to publish; ``reason`` says why (``unchanged``, ``min_interval``,
  ``rate_limited``, or the bad state a pull already announced).

Reasons are machine-readable strings, one name per cause (the ``REASONS`` tuple): they label
``quotes_suppressed{reason}`` and ``/status``. Prices and sizes are ``Decimal`` on the market's tick grid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from polybot.domain.book import Side

# Why a market is not quoted (or not re-quoted) now.
STALE_BOOK = "stale_book"  # a book older than the staleness threshold
RESYNCING = "resyncing"  # the publisher has no trusted book (gap, hash mismatch, reconnect)
UNVERIFIED = "unverified"  # the book's hash is still pending
TICK_CHANGED = "tick_changed"  # the tick size changed since the snapshot the book stands on
NO_BOOK = "no_book"  # nothing received for a token yet
MARKET_CLOSED = "market_closed"  # closed, inactive, or not accepting orders
TOO_CLOSE_TO_END = "too_close_to_end"
KILL_SWITCH = "kill_switch"
RISK_HALTED = "risk_halted"  # an executor halted this market (or every market) on a risk breach
CROSSED = "crossed"  # the venue's own book is crossed or locked: no fair price to quote around
ONE_SIDED = "one_sided"  # the book (without our own orders) has no bid or no ask: no fair price either
INVENTORY_CAP = "inventory_cap"  # every side would grow a position already at its cap
MIN_INTERVAL = "min_interval"  # a change, but the last plan is younger than the min requote interval
RATE_LIMITED = "rate_limited"  # the market's token bucket is empty
UNCHANGED = "unchanged"  # no movement past the thresholds and no change of our state
# A target that would cross or lock the book or itself: never published (the pricing rules make it impossible;
# this is the last check before a plan leaves, and ``quotes_crossed`` counts it).
WOULD_CROSS = "would_cross"
REASONS = (STALE_BOOK, RESYNCING, UNVERIFIED, TICK_CHANGED, NO_BOOK, MARKET_CLOSED, TOO_CLOSE_TO_END,
           KILL_SWITCH, RISK_HALTED, CROSSED, INVENTORY_CAP, MIN_INTERVAL, RATE_LIMITED, UNCHANGED, ONE_SIDED,
           WOULD_CROSS)
# The reason of a "quote" decision (and of its plan): a new target, or the unchanged one re-published
# before its TTL runs out.
QUOTE = "quote"
REFRESH = "refresh"

Action = Literal["quote", "pull", "hold"]
FairPrice = Literal["mid", "micro"]


@dataclass(frozen=True, slots=True)
class QuoteParams:
    """One market's quoting parameters (config ``[quoter]`` defaults, overridden per market)."""

    half_spread_ticks: int = 2  # our bid and ask sit at least this many ticks from the fair price
    order_size: Decimal = Decimal(10)  # shares per order before inventory scaling (at least min_order_size)
    fair_price: FairPrice = "mid"
    min_requote_interval_ms: int = 500
    move_fair_ticks: int = 1  # K: re-quote when the fair price moved this many ticks since the last plan
    move_touch_ticks: int = 1  # J: ... or the best bid or ask did
    keep_ticks: int = 1  # cancel/replace threshold carried in the plan: a live order within this is kept
    keep_size_frac: Decimal = Decimal("0.25")  # ... if its size is within this fraction of the target's
    max_position: Decimal = Decimal(100)  # per-token position cap (shares)
    max_notional_usdc: Decimal = Decimal(1000)  # cap across every market (cost of what we hold + rests)
    skew_ticks_at_cap: int = 2  # the quote centre moves this far against inventory when it is at the cap
    bucket_capacity: int = 5  # per-market token bucket on plans: burst ...
    bucket_refill: int = 2  # ... and refill per bucket_period_ms
    bucket_period_ms: int = 1_000
    stale_after_ms: int = 5_000
    plan_ttl_ms: int = 3_000
    refresh_before_ttl_ms: int = 1_000  # re-publish an unchanged target this long before it expires
    min_time_to_end_ms: int = 3_600_000
    rewards: bool = True  # quote inside the rewards band with at least the min size when the market pays


@dataclass(frozen=True, slots=True)
class QuoteMarket:
    """The market as Gamma and the CLOB describe it (from ``MarketInfo``)."""

    condition_id: str
    yes_token: str  # outcome index 0
    no_token: str  # outcome index 1
    tick_size: Decimal
    min_order_size: Decimal = Decimal(5)
    neg_risk: bool = False
    end_ms: int | None = None
    closed: bool = False
    active: bool = True
    accepting_orders: bool = True
    rewards_max_spread: Decimal | None = None  # cents, as Gamma gives it (3.5 → 0.035)
    rewards_min_size: Decimal | None = None  # shares


@dataclass(frozen=True, slots=True)
class QuoteBook:
    """One token's book as the feed serves it: ``state`` is the feed's (live, unverified, stale, resyncing)."""

    asset_id: str
    state: str
    bids: tuple[tuple[Decimal, Decimal], ...]  # (price, size), best first
    asks: tuple[tuple[Decimal, Decimal], ...]
    tick_size: Decimal | None  # of the snapshot the book stands on
    age_ms: int | None
    reason: str | None = None  # the publisher's reason when not live (``tick_size`` after a tick change)


@dataclass(frozen=True, slots=True)
class OurOrder:
    order_id: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal  # remaining


@dataclass(frozen=True, slots=True)
class OurState:
    """What we hold and what rests in this market, as the executor last said; ``version`` changes with it."""

    positions: Mapping[str, Decimal] = field(default_factory=dict)  # token → shares held
    open_orders: tuple[OurOrder, ...] = ()
    version: int = 0  # the executor's MarketPosition seq: a new one means a fill or cancel happened
    notional_usdc: Decimal = Decimal(0)  # across every market: positions at cost plus resting buys
    kill_switch: bool = False
    risk_halted: bool = False  # an executor's risk breach holds this market until an operator clears it


@dataclass(frozen=True, slots=True)
class TargetOrder:
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class RewardScore:
    """Our orders' liquidity-reward score by the venue's rule, and whether they qualify."""

    midpoint: Decimal  # the size-cutoff-adjusted midpoint the venue scores around
    max_spread: Decimal  # as a price distance
    q_one: Decimal  # the bid side of the market (YES bids and NO asks)
    q_two: Decimal  # the ask side (YES asks and NO bids)
    q_min: Decimal
    qualifying: bool


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    orders: tuple[TargetOrder, ...] = ()
    fair: Decimal | None = None  # in the YES frame
    score: RewardScore | None = None
