"""The executor's risk halts, acted on: a breach is recorded, published and its orders cancelled at once; it
holds across restarts until an operator clears it; the day's PnL is marked and checked.

``RiskGuard`` (pure) decides; this desk does the I/O around it:

* ``settle`` — every breach the guard tripped since the last call (a position past its cap from a fill, the
  error rate from a plan, the day's loss from ``check_day``): ``risk_halted{scope} 1``, an error log, the
  scope's orders cancelled now (not when the market's next plan comes), a ``risk_breaches`` row and a
  ``RiskState`` on ``pb.ctl.risk.<backend>``. Every later plan of the scope is audited ``halted``.
* ``check_day`` — the day's PnL (``polybot.domain.day_pnl``) at the marks given, exported as
  ``pnl_day_usdc`` and ``pnl_unrealized_usdc``, checked against ``max_daily_loss_usdc``.
* ``clear`` — the operator's door (``polybot risk --clear``, ``POST /risk/clear``): the rows are closed,
  the gauge goes back to 0, the state is published again; clearing a daily-loss breach starts the allowance
  again from the PnL at that moment.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import asyncpg

from polybot.app.execute.metrics import ExecMetrics
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.messages import RiskAnswer, RiskBreachInfo, RiskRequest, RiskState
from polybot.domain.day_pnl import DAY_MS, DayPnl, DayPnlReading, utc_day
from polybot.domain.inventory import Fill, Inventory
from polybot.domain.risk import ALL, Breach, RiskGuard
from polybot.store import risk_repo

log = logging.getLogger(__name__)
Cancel = Callable[[str, str | None], Awaitable[int]]  # (reason, market or None for all) → orders cancelled


def breach_info(b: Breach) -> RiskBreachInfo:
    return RiskBreachInfo(scope=b.scope, limit=b.limit, value=b.value, threshold=b.threshold, ts_ms=b.ts_ms,
                          detail=b.detail)


class RiskDesk:
    def __init__(self, guard: RiskGuard, inventory: Inventory, *, backend: str, pool: asyncpg.Pool, bus: Bus,
                 metrics: ExecMetrics, cancel: Cancel, clock_ms: Callable[[], int]) -> None:
        self.guard, self.inventory = guard, inventory
        self.backend, self.pool, self.bus, self.m = backend, pool, bus, metrics
        self.cancel, self.clock_ms = cancel, clock_ms
        self.day = DayPnl.from_fills((), clock_ms())
        self.last: DayPnlReading | None = None
        self._settled: set[str] = set()  # scopes whose breach has been recorded and acted on

    async def load(self, fills: list[Fill]) -> None:
        """Breaches in force before a restart halt again; the day's start marks and re-base come back."""
        now = self.clock_ms()
        async with self.pool.acquire() as conn:
            held = await risk_repo.breaches_in_force(conn, self.backend)
            day = utc_day(now)
            marks = await risk_repo.day_marks(conn, self.backend, day)
            base = await risk_repo.day_rebase(conn, self.backend, day * DAY_MS)
        self.day = DayPnl.from_fills(fills, now, marks, base)
        for b in held:
            self.guard.restore(b)
            self._settled.add(b.scope)
            self.m.halted.labels(scope=b.scope).set(1)
            log.error("risk breach still in force from before the restart: halted until cleared",
                      extra={"reason": b.reason, "scope": b.scope})
        await self.publish()

    def apply_fill(self, fill: Fill) -> None:
        self.day.apply(fill)

    async def check_day(self, marks: Mapping[str, Decimal | None]) -> DayPnlReading:
        """Mark the day's tokens, export the PnL and check the daily-loss limit (then ``settle``)."""
        now = self.clock_ms()
        rolled = self.day.roll(now)
        fresh = {a: m for a, m in marks.items() if m is not None and self.day.mark(a, m)}
        if rolled:
            fresh.update(self.day.start_marks)
        if fresh:
            try:
                async with self.pool.acquire() as conn:
                    await risk_repo.keep_day_marks(conn, self.backend, self.day.day, fresh, now)
            except Exception as exc:  # the check goes on without them; only a restart today would miss them
                log.warning("the day's start marks not kept", extra={"error": repr(exc)})
        reading = self.day.reading()
        self.last = reading
        self.m.day_pnl.set(float(reading.pnl_usdc))
        self.m.unmarked.set(len(reading.unmarked))
        self.m.unrealized_pnl.set(float(self.inventory.unrealized_usdc(self.day.marks)))
        self.guard.observe_daily_pnl(reading.since_rebase_usdc, now)
        await self.settle()
        return reading

    async def settle(self) -> None:
        """Record, publish and act on every breach not yet acted on."""
        new = [b for scope, b in self.guard.breaches.items() if scope not in self._settled]
        if not new:
            return
        self._settled.update(b.scope for b in new)  # before any await: a concurrent settle must not act twice
        for b in new:  # the cancel first: it is what protects the money; the record and the news come after
            self.m.halted.labels(scope=b.scope).set(1)
            log.error("risk limit breached: cancelling and halting until an operator clears it",
                      extra={"reason": b.reason, "scope": b.scope, "limit": b.limit})
            try:
                await self.cancel(f"risk:{b.limit}", None if b.scope == ALL else b.scope)
            except Exception as exc:  # the venue's heartbeat lapse and the halted plans still hold the line
                log.error("cancel after a risk breach failed", extra={"scope": b.scope, "error": repr(exc)})
        try:
            async with self.pool.acquire() as conn:
                for b in new:
                    await risk_repo.insert_breach(conn, self.backend, b)
        except Exception as exc:  # the halt holds in this process; only a restart would forget it
            log.error("risk breach not recorded: a restart would not see it", extra={"error": repr(exc)})
        await self.publish()

    async def clear(self, scope: str | None, reason: str) -> list[Breach]:
        """Clear the breach of ``scope`` (a market, or ``*``), or every breach."""
        cleared = self.guard.clear(scope)
        if not cleared:
            return []
        now = self.clock_ms()
        base = self.day.rebase() if any(b.limit == "daily_loss" for b in cleared) else None
        async with self.pool.acquire() as conn:
            await risk_repo.clear_breaches(conn, self.backend, [b.scope for b in cleared], now, reason, base)
        for b in cleared:
            self._settled.discard(b.scope)
            self.m.halted.labels(scope=b.scope).set(0)
            log.warning("risk breach cleared by an operator", extra={"reason": reason, "breach": b.reason})
        await self.publish()
        return cleared

    async def answer(self, req: RiskRequest) -> RiskAnswer:
        """``polybot risk [--clear]``: clear when asked, then say what is in force."""
        cleared: list[Breach] = []
        error = None
        if req.clear:
            try:
                cleared = await self.clear(req.scope, f"operator: {req.reason}")
            except Exception as exc:  # the operator must hear why, not a timeout
                error = f"{type(exc).__name__}: {exc}"
        state = self.state()
        return RiskAnswer(executor=self.backend, cleared=tuple(breach_info(b) for b in cleared),
                          breaches=state.breaches, day_pnl_usdc=state.day_pnl_usdc, error=error)

    def state(self) -> RiskState:
        return RiskState(executor=self.backend, breaches=tuple(breach_info(b) for b in self.guard.breaches.values()),
                         day_pnl_usdc=None if self.last is None else self.last.pnl_usdc, ts_ms=self.clock_ms())

    async def publish(self) -> None:
        msg = self.state()
        try:
            await self.bus.publish(subjects.ctl_risk(self.backend), msg, msg_id=f"risk:{self.backend}:{msg.ts_ms}:"
                                                                                 f"{len(msg.breaches)}")
        except Exception as exc:  # the table and the gauge have it; the bus copy is for watchers
            log.warning("risk state not published", extra={"error": repr(exc)})

    def status(self) -> dict[str, Any]:
        r = self.last
        return {"day": self.day.day, "max_daily_loss_usdc": str(self.guard.limits.max_daily_loss_usdc),
                "day_pnl_usdc": None if r is None else str(r.pnl_usdc),
                "since_clear_usdc": None if r is None else str(r.since_rebase_usdc),
                "unmarked": [] if r is None else list(r.unmarked),
                "marks": {a: str(m) for a, m in sorted(self.day.marks.items())},
                "breaches": [breach_info(b).model_dump(mode="json") for b in self.guard.breaches.values()]}
