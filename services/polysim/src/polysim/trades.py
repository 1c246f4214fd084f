"""Trades the engine records (those an account took part in) and their settlement lifecycle.

A trade is one taker order matched against one or more maker entries. It starts MATCHED and moves to MINED
and then CONFIRMED after the configured delays; each change is an event on the user channel. A trade the
``fail_next`` fault picked goes MATCHED → RETRYING → FAILED instead (same delays): its settlement never
happened, so the engine takes back what the match moved between the accounts (``reverts``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from polysim.exchange_api import MakerFill, Side, TradeStatus, TradeView
from polysim.units import micro_decimal, units_decimal

NEXT_STATUS: dict[str, TradeStatus] = {"MATCHED": "MINED", "MINED": "CONFIRMED"}
FAILING_STATUS: dict[str, TradeStatus] = {"MATCHED": "RETRYING", "RETRYING": "FAILED"}
Revert = tuple[str, int, int, int]  # (owner, USDC micro, first-token shares micro, second-token shares micro)


@dataclass(slots=True, eq=False)
class TradeRecord:
    trade_id: str
    taker_order_id: str
    taker_owner: str
    taker_address: str
    market: str
    asset_id: str
    side: Side
    price: int  # in the taker's token
    size: int  # micro shares
    match_time_s: int
    outcome: str
    maker_fills: tuple[MakerFill, ...]
    owners: frozenset[str]  # accounts involved (taker and makers)
    status: TradeStatus = "MATCHED"
    fee_rate_bps: int = 0
    failing: bool = False  # goes RETRYING → FAILED (a fault)
    reverts: tuple[Revert, ...] = ()  # what the match moved per account, taken back when it fails

    def view(self) -> TradeView:
        return TradeView(
            trade_id=self.trade_id, taker_order_id=self.taker_order_id, taker_owner=self.taker_owner,
            market=self.market, asset_id=self.asset_id, side=self.side, price=units_decimal(self.price),
            size=micro_decimal(self.size), status=self.status, match_time_s=self.match_time_s,
            outcome=self.outcome, maker_orders=self.maker_fills, taker_address=self.taker_address,
        )


@dataclass
class TradeLedger:
    """Recorded trades, per-owner indexes and the pending status changes."""

    mined_delay_ms: int
    confirmed_delay_ms: int
    by_id: dict[str, TradeRecord] = field(default_factory=dict)
    by_owner: dict[str, list[TradeRecord]] = field(default_factory=dict)
    fail_next: int = 0  # fault: the next this many recorded trades fail their settlement
    _due: list[tuple[int, int, str]] = field(default_factory=list)
    _seq: int = 0

    def add(self, trade: TradeRecord, now_ms: int) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            trade.failing = True
        self.by_id[trade.trade_id] = trade
        for owner in trade.owners:
            self.by_owner.setdefault(owner, []).append(trade)
        self._schedule(trade.trade_id, now_ms + self.mined_delay_ms)

    def _schedule(self, trade_id: str, due_ms: int) -> None:
        self._seq += 1
        heapq.heappush(self._due, (due_ms, self._seq, trade_id))

    def advance(self, now_ms: int) -> list[tuple[TradeRecord, int]]:
        """Apply every status change due by ``now_ms``; returns (trade, when) for each change."""
        changed: list[tuple[TradeRecord, int]] = []
        while self._due and self._due[0][0] <= now_ms:
            due_ms, _, trade_id = heapq.heappop(self._due)
            trade = self.by_id[trade_id]
            steps = FAILING_STATUS if trade.failing else NEXT_STATUS
            nxt = steps.get(trade.status)
            if nxt is None:
                continue
            trade.status = nxt
            changed.append((trade, due_ms))
            if nxt in steps:
                self._schedule(trade_id, due_ms + self.confirmed_delay_ms - self.mined_delay_ms)
        return changed

    def of_owner(self, owner: str) -> list[TradeRecord]:
        return self.by_owner.get(owner, [])
