"""The day's PnL marked to market: what ``RiskLimits.max_daily_loss_usdc`` is checked against. Pure.

For one UTC day, per token: ``size now × mark now − size at the day's start × mark at the day's start``, plus
the day's cash from its fills (a SELL brings ``price × size``, a BUY costs it, a fee always costs; fees are
what the venue charged, from the market's ``feeSchedule``). Summed over tokens that is realized plus the change
in unrealized since 00:00 UTC, without needing the cost basis.

A mark is the book's midpoint (``mark_price``). A token held at the day's start is valued at the
start by its first mark of the day (the last one seen before midnight when the day rolls while running); the
caller keeps those start marks (``risk_day_marks``) so that a restart does not forget the morning's move.
A token that needs a mark it has not got is left out, its cash too, and named in ``unmarked``: its buys
would otherwise read as a loss of their whole cost.

Clearing a daily-loss breach re-bases the allowance (``rebase``): the limit applies again to the loss from
that moment on, not to the loss that tripped it (which would trip it again at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from polybot.domain.inventory import Fill

DAY_MS = 86_400_000
_ZERO = Decimal(0)
_ONE = Decimal(1)
_TWO = Decimal(2)


def utc_day(ts_ms: int) -> int:
    """The UTC day number of a Unix time in milliseconds (day 0 is 1970-01-01)."""
    return ts_ms // DAY_MS


def mark_price(best_bid: Decimal | None, best_ask: Decimal | None) -> Decimal | None:
    """The midpoint of the book; an empty side counts at its bound (no bid: 0, no ask: 1), so a token nobody
    bids for any more is not worth its last midpoint (the moment the loss limit matters most). None: no
    order on either side."""
    if best_bid is None and best_ask is None:
        return None
    return ((best_bid if best_bid is not None else _ZERO) + (best_ask if best_ask is not None else _ONE)) / _TWO


@dataclass(frozen=True, slots=True)
class DayPnlReading:
    day: int
    pnl_usdc: Decimal  # the day's PnL of the marked tokens
    since_rebase_usdc: Decimal  # the PnL the limit is checked against (since the last clear of a daily-loss breach)
    unmarked: tuple[str, ...]  # tokens left out: held (now or at the start) with no mark to value them


@dataclass(slots=True)
class DayPnl:
    day: int
    start_sizes: dict[str, Decimal] = field(default_factory=dict)
    start_marks: dict[str, Decimal] = field(default_factory=dict)
    sizes: dict[str, Decimal] = field(default_factory=dict)
    cash: dict[str, Decimal] = field(default_factory=dict)
    marks: dict[str, Decimal] = field(default_factory=dict)  # the last mark of each token
    base_usdc: Decimal = _ZERO

    @classmethod
    def from_fills(cls, fills: Iterable[Fill], now_ms: int, start_marks: Mapping[str, Decimal] | None = None,
                   base_usdc: Decimal = _ZERO) -> DayPnl:
        """The day of ``now_ms`` after ``fills`` (each once): those before 00:00 UTC make the start sizes."""
        out = cls(utc_day(now_ms), start_marks=dict(start_marks or {}), base_usdc=base_usdc)
        start = out.day * DAY_MS
        for f in sorted(fills, key=lambda f: f.ts_ms):
            if f.ts_ms < start:
                delta = f.size if f.side == "BUY" else -f.size
                out.start_sizes[f.asset_id] = out.start_sizes.get(f.asset_id, _ZERO) + delta
                out.sizes[f.asset_id] = out.sizes.get(f.asset_id, _ZERO) + delta
            else:
                out.apply(f)
        return out

    def apply(self, fill: Fill) -> None:
        """A fill of today (one that reaches us after midnight counts today, whatever its match time)."""
        flow = fill.price * fill.size
        a = fill.asset_id
        if fill.side == "BUY":
            self.sizes[a] = self.sizes.get(a, _ZERO) + fill.size
            flow = -flow
        else:
            self.sizes[a] = self.sizes.get(a, _ZERO) - fill.size
        self.cash[a] = self.cash.get(a, _ZERO) + flow - fill.fee_usdc

    def mark(self, asset_id: str, price: Decimal) -> bool:
        """Record a token's mark; True when it became the token's start mark (the caller keeps it)."""
        self.marks[asset_id] = price
        if asset_id in self.start_marks or not self.start_sizes.get(asset_id):
            return False
        self.start_marks[asset_id] = price
        return True

    def roll(self, now_ms: int) -> bool:
        """Begin the day of ``now_ms`` if it is a new one: today's start is what is held now, valued at the
        last marks; the cash and the re-base start from zero. True when it rolled."""
        day = utc_day(now_ms)
        if day <= self.day:
            return False
        self.day = day
        self.start_sizes = {a: s for a, s in self.sizes.items() if s}
        self.start_marks = {a: self.marks[a] for a in self.start_sizes if a in self.marks}
        self.cash = {}
        self.base_usdc = _ZERO
        return True

    def held(self) -> set[str]:
        """The tokens a reading needs marks of: held now or at the day's start."""
        return {a for a, s in (*self.sizes.items(), *self.start_sizes.items()) if s}

    def reading(self) -> DayPnlReading:
        total = _ZERO
        unmarked: list[str] = []
        for a in sorted(set(self.sizes) | set(self.start_sizes) | set(self.cash)):
            now_size, start_size = self.sizes.get(a, _ZERO), self.start_sizes.get(a, _ZERO)
            now_mark, start_mark = self.marks.get(a), self.start_marks.get(a)
            if (now_size and now_mark is None) or (start_size and start_mark is None):
                unmarked.append(a)
                continue
            value_now = now_size * now_mark if now_size and now_mark is not None else _ZERO
            value_start = start_size * start_mark if start_size and start_mark is not None else _ZERO
            total += value_now - value_start + self.cash.get(a, _ZERO)
        return DayPnlReading(self.day, total, total - self.base_usdc, tuple(unmarked))

    def rebase(self) -> Decimal:
        """Start the loss allowance again from the PnL now (an operator cleared a daily-loss breach)."""
        self.base_usdc = self.reading().pnl_usdc
        return self.base_usdc
