"""What we hold, at what cost, and what it has made: positions and PnL from fills, pure and exact.

On Polymarket a position is a count of outcome-token shares (never negative: selling what you lack is
buying the other token). A BUY fill adds shares and their cost; a SELL fill removes shares with their
share of the cost basis and realizes ``price × size − that cost``. The cost basis is kept (not the average
price), and the share removed is rounded to 1e-12 USDC, so that sums stay exact: realized PnL minus cash
flow always equals the cost basis still held, to the last digit. Fees are charged in USDC per fill and
always reduce realized PnL (post-only makers pay none; takers pay the market's ``feeSchedule``).
Unrealized PnL marks the shares at a price the caller chooses (the midpoint, or the best bid for a
liquidation view). All money is ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal

from polybot.domain.book import Side

_ZERO = Decimal(0)
_COST_QUANTUM = Decimal("1e-12")


class OversoldError(ValueError):
    """A SELL fill of more shares than the position holds: our records and the venue disagree."""


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal
    fee_usdc: Decimal = _ZERO
    ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class Holding:
    """One token's position: ``size`` shares that cost ``cost_usdc``; ``realized_usdc`` so far, fees included."""

    asset_id: str
    size: Decimal = _ZERO
    cost_usdc: Decimal = _ZERO
    realized_usdc: Decimal = _ZERO
    fees_usdc: Decimal = _ZERO

    @property
    def avg_price(self) -> Decimal:
        return self.cost_usdc / self.size if self.size else _ZERO

    def unrealized_usdc(self, mark: Decimal | None) -> Decimal:
        return _ZERO if mark is None or not self.size else mark * self.size - self.cost_usdc

    def apply(self, fill: Fill) -> Holding:
        """This holding after ``fill`` (of the same asset)."""
        if fill.asset_id != self.asset_id:
            raise ValueError(f"fill of {fill.asset_id} applied to {self.asset_id}")
        if fill.size <= 0 or not 0 < fill.price < 1:
            raise ValueError(f"fill {fill.fill_id}: size must be positive and price inside (0, 1)")
        fees = self.fees_usdc + fill.fee_usdc
        if fill.side == "BUY":
            return replace(self, size=self.size + fill.size, cost_usdc=self.cost_usdc + fill.price * fill.size,
                           realized_usdc=self.realized_usdc - fill.fee_usdc, fees_usdc=fees)
        if fill.size > self.size:
            raise OversoldError(f"fill {fill.fill_id} sells {fill.size} of {self.asset_id}, holding {self.size}")
        removed = self.cost_usdc if fill.size == self.size else (
            self.cost_usdc * fill.size / self.size).quantize(_COST_QUANTUM, ROUND_HALF_EVEN)
        realized = self.realized_usdc + fill.price * fill.size - removed - fill.fee_usdc
        return replace(self, size=self.size - fill.size, cost_usdc=self.cost_usdc - removed, realized_usdc=realized,
                       fees_usdc=fees)


@dataclass(slots=True)
class Inventory:
    """Every token's holding; fills are applied once (by ``fill_id``), so a redelivered fill changes nothing."""

    holdings: dict[str, Holding] = field(default_factory=dict)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def apply(self, fill: Fill) -> bool:
        """Apply ``fill``; False when it was applied before."""
        key = (fill.fill_id, fill.asset_id)
        if key in self.seen:
            return False
        held = self.holdings.get(fill.asset_id, Holding(fill.asset_id))
        self.holdings[fill.asset_id] = held.apply(fill)
        self.seen.add(key)
        return True

    def apply_all(self, fills: Iterable[Fill]) -> int:
        return sum(self.apply(f) for f in fills)

    def size(self, asset_id: str) -> Decimal:
        held = self.holdings.get(asset_id)
        return held.size if held is not None else _ZERO

    def realized_usdc(self, assets: Iterable[str] | None = None) -> Decimal:
        chosen = self.holdings.values() if assets is None else (self.holdings[a] for a in assets if a in self.holdings)
        return sum((h.realized_usdc for h in chosen), _ZERO)

    def unrealized_usdc(self, marks: Mapping[str, Decimal | None]) -> Decimal:
        return sum((h.unrealized_usdc(marks.get(a)) for a, h in self.holdings.items()), _ZERO)

    def cost_usdc(self, assets: Iterable[str] | None = None) -> Decimal:
        chosen = self.holdings.values() if assets is None else (self.holdings[a] for a in assets if a in self.holdings)
        return sum((h.cost_usdc for h in chosen), _ZERO)
