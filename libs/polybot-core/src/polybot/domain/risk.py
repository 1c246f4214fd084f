"""Risk limits: what the executor refuses to place, and the breaches that halt a market or everything.

Two kinds of check, both pure (time passed in):

* ``refuse_place`` — before an order goes out: a place is refused (not a breach) when, if it and every
  resting buy filled, the token's position would pass ``max_position``; when it would take the notional
  (cost of holdings plus resting buys, all markets) past ``max_notional_usdc``; or when the market already
  has ``max_open_orders`` resting.
* ``observe_*`` — what has happened: a position above its cap (fills can overshoot) halts its market; the
  day's loss (realized + unrealized, from the UTC day's start) past ``max_daily_loss_usdc`` and an order
  error rate past ``max_error_rate`` over ``error_window_ms`` halt everything.

A breach halts until an operator clears it (``clear``): a limit that tripped once is not trusted to
un-trip by itself; the caller keeps breaches across restarts (``restore``). ``halted(market)`` says whether
(and why) a market may not trade now.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from polybot.domain.book import Side

_ZERO = Decimal(0)
ALL = "*"  # the scope of a breach that halts every market

Limit = Literal["position", "daily_loss", "error_rate"]


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_position: Decimal = Decimal(500)  # shares of one token
    max_notional_usdc: Decimal = Decimal(5_000)
    max_open_orders: int = 20  # per market
    max_daily_loss_usdc: Decimal = Decimal(200)
    max_error_rate: Decimal = Decimal("0.5")  # rejected or failed / all order actions in the window
    error_window_ms: int = 60_000
    error_min_actions: int = 20  # fewer actions than this in the window never trip the rate

    def __post_init__(self) -> None:
        if (self.max_position <= 0 or self.max_notional_usdc <= 0 or self.max_open_orders < 1
                or self.max_daily_loss_usdc <= 0 or not 0 < self.max_error_rate <= 1 or self.error_window_ms < 1
                or self.error_min_actions < 1):
            raise ValueError("risk limits must be positive (max_error_rate in (0, 1])")


@dataclass(frozen=True, slots=True)
class Breach:
    scope: str  # a condition id, or ALL
    limit: Limit
    value: Decimal
    threshold: Decimal
    ts_ms: int
    detail: str = ""

    @property
    def reason(self) -> str:
        where = "every market" if self.scope == ALL else f"market {self.scope}"
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.limit} {self.value} past {self.threshold}: {where} halted{detail}"


class RiskGuard:
    """Holds the limits, the order-error window and the breaches in force."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self.breaches: dict[str, Breach] = {}
        self._actions: deque[tuple[int, bool]] = deque()

    # --- before an order ------------------------------------------------------------------------------------
    def refuse_place(self, *, side: Side, price: Decimal, size: Decimal, held: Decimal, resting_buys: Decimal,
                     open_orders: int, notional_usdc: Decimal) -> str | None:
        """Why this place must not go out (None: it may). ``held`` and ``resting_buys`` are of its token;
        ``notional_usdc`` is across every market, before this order."""
        lim = self.limits
        if open_orders >= lim.max_open_orders:
            return f"open orders {open_orders} at the cap {lim.max_open_orders}"
        if side == "BUY":
            if held + resting_buys + size > lim.max_position:
                return f"position could reach {held + resting_buys + size} past the cap {lim.max_position}"
            if notional_usdc + price * size > lim.max_notional_usdc:
                return f"notional would reach {notional_usdc + price * size} past {lim.max_notional_usdc} USDC"
        return None

    # --- what happened --------------------------------------------------------------------------------------
    def observe_position(self, market: str, asset_id: str, size: Decimal, now_ms: int) -> Breach | None:
        if size > self.limits.max_position:
            return self._trip(Breach(market, "position", size, self.limits.max_position, now_ms, f"token {asset_id}"))
        return None

    def observe_daily_pnl(self, pnl_usdc: Decimal, now_ms: int) -> Breach | None:
        loss = -pnl_usdc
        if loss > self.limits.max_daily_loss_usdc:
            return self._trip(Breach(ALL, "daily_loss", loss, self.limits.max_daily_loss_usdc, now_ms))
        return None

    def observe_action(self, ok: bool, now_ms: int) -> Breach | None:
        """Record one order action's outcome (venue rejects and failures count; a 425 pause does not)."""
        window = self._actions
        window.append((now_ms, ok))
        while window and window[0][0] <= now_ms - self.limits.error_window_ms:
            window.popleft()
        if len(window) < self.limits.error_min_actions:
            return None
        errors = sum(1 for _, good in window if not good)
        rate = Decimal(errors) / Decimal(len(window))
        if rate > self.limits.max_error_rate:
            return self._trip(Breach(ALL, "error_rate", rate.quantize(Decimal("0.001")), self.limits.max_error_rate,
                                     now_ms, f"{errors} of {len(window)} order actions failed"))
        return None

    # --- state ----------------------------------------------------------------------------------------------
    def halted(self, market: str) -> Breach | None:
        return self.breaches.get(ALL) or self.breaches.get(market)

    def restore(self, breach: Breach) -> None:
        """A breach in force before a restart (kept by the caller): it halts again and is not reported again."""
        self.breaches.setdefault(breach.scope, breach)

    def clear(self, scope: str | None = None) -> list[Breach]:
        """Clear the breach of ``scope`` (a market or ALL), or every breach; returns those cleared."""
        if scope is None:
            cleared, self.breaches = list(self.breaches.values()), {}
        else:
            gone = self.breaches.pop(scope, None)
            cleared = [gone] if gone is not None else []
        if any(b.limit == "error_rate" for b in cleared):
            self._actions.clear()  # the errors that tripped it must not trip it again at once
        return cleared

    def _trip(self, breach: Breach) -> Breach | None:
        if breach.scope in self.breaches:
            return None  # already halted for it: reported once
        self.breaches[breach.scope] = breach
        return breach
