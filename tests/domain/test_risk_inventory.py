"""Positions and PnL from fills, and the risk limits (pure: tables and properties)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polybot.domain.inventory import Fill, Holding, Inventory, OversoldError
from polybot.domain.risk import ALL, RiskGuard, RiskLimits

D = Decimal


def fill(fid: str, side: str, price: str, size: str, fee: str = "0", asset: str = "yes") -> Fill:
    return Fill(fid, asset, side, D(price), D(size), D(fee))  # type: ignore[arg-type]


def test_buys_average_and_a_sell_realizes_against_the_average() -> None:
    inv = Inventory()
    inv.apply(fill("1", "BUY", "0.40", "10"))
    inv.apply(fill("2", "BUY", "0.50", "10"))
    h = inv.holdings["yes"]
    assert (h.size, h.avg_price) == (D(20), D("0.45"))
    inv.apply(fill("3", "SELL", "0.60", "5", fee="0.01"))
    h = inv.holdings["yes"]
    assert (h.size, h.avg_price, h.realized_usdc, h.fees_usdc) == (D(15), D("0.45"), D("0.74"), D("0.01"))
    assert inv.unrealized_usdc({"yes": D("0.50")}) == D("0.75")
    inv.apply(fill("4", "SELL", "0.30", "15"))
    h = inv.holdings["yes"]
    assert (h.size, h.cost_usdc, h.realized_usdc) == (D(0), D(0), D("0.74") - D("2.25"))


def test_a_redelivered_fill_is_applied_once_and_an_oversell_is_refused() -> None:
    inv = Inventory()
    assert inv.apply(fill("1", "BUY", "0.4", "10")) and not inv.apply(fill("1", "BUY", "0.4", "10"))
    assert inv.size("yes") == D(10)
    with pytest.raises(OversoldError):
        inv.apply(fill("2", "SELL", "0.5", "11"))
    assert inv.size("yes") == D(10)  # refused whole


@given(st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]), st.integers(1, 99), st.integers(1, 50)), max_size=30))
def test_realized_plus_marked_value_is_cash_flow(trades: list[tuple[str, int, int]]) -> None:
    """Conservation, to the last digit: realized PnL − cash flow = the cost basis still held."""
    h = Holding("yes")
    cash = D(0)
    for i, (side, cents, size) in enumerate(trades):
        price, qty = D(cents) / 100, D(size)
        if side == "SELL" and qty > h.size:
            continue
        h = h.apply(Fill(str(i), "yes", side, price, qty))  # type: ignore[arg-type]
        cash += price * qty if side == "SELL" else -price * qty
    assert h.size >= 0
    assert h.realized_usdc - cash == h.cost_usdc  # what is not yet realized is exactly what is still held at cost


LIMITS = RiskLimits(max_position=D(100), max_notional_usdc=D(50), max_open_orders=3, max_daily_loss_usdc=D(20),
                    max_error_rate=D("0.5"), error_window_ms=1_000, error_min_actions=4)


@pytest.mark.parametrize(("kw", "refused"), [
    ({"side": "BUY", "price": D("0.5"), "size": D(10), "held": D(0), "resting_buys": D(0), "open_orders": 0,
      "notional_usdc": D(0)}, None),
    ({"side": "BUY", "price": D("0.5"), "size": D(10), "held": D(80), "resting_buys": D(15), "open_orders": 0,
      "notional_usdc": D(0)}, "position could reach 105"),
    ({"side": "BUY", "price": D("0.5"), "size": D(10), "held": D(0), "resting_buys": D(0), "open_orders": 0,
      "notional_usdc": D(46)}, "notional would reach 51"),
    ({"side": "SELL", "price": D("0.5"), "size": D(10), "held": D(100), "resting_buys": D(50), "open_orders": 2,
      "notional_usdc": D(500)}, None),  # a sell only ever reduces what we hold
    ({"side": "SELL", "price": D("0.5"), "size": D(1), "held": D(10), "resting_buys": D(0), "open_orders": 3,
      "notional_usdc": D(0)}, "open orders 3"),
])
def test_refuse_place(kw: dict[str, object], refused: str | None) -> None:
    got = RiskGuard(LIMITS).refuse_place(**kw)  # type: ignore[arg-type]
    assert (got is None) if refused is None else (got is not None and refused in got), got


def test_a_breach_halts_until_cleared_and_is_reported_once() -> None:
    guard = RiskGuard(LIMITS)
    assert guard.observe_position("m1", "yes", D(100), 1) is None
    breach = guard.observe_position("m1", "yes", D(101), 2)
    assert breach is not None and breach.scope == "m1" and "market m1 halted" in breach.reason
    assert guard.observe_position("m1", "yes", D(102), 3) is None  # already halted: not reported again
    assert guard.halted("m1") == breach and guard.halted("m2") is None
    assert guard.observe_daily_pnl(D(-20), 4) is None
    loss = guard.observe_daily_pnl(D(-21), 5)
    assert loss is not None and loss.scope == ALL and guard.halted("m2") == loss
    assert guard.clear(ALL) == [loss] and guard.halted("m2") is None and guard.halted("m1") == breach
    guard.clear()
    assert guard.halted("m1") is None


def test_the_error_rate_trips_only_with_enough_actions_inside_the_window() -> None:
    guard = RiskGuard(LIMITS)
    assert [guard.observe_action(False, t) for t in (0, 1, 2)] == [None, None, None]  # 3 < min actions
    tripped = guard.observe_action(False, 3)
    assert tripped is not None and tripped.limit == "error_rate" and tripped.scope == ALL
    guard.clear(ALL)
    # old errors leave the window: two failures among many successes later do not trip it
    assert all(guard.observe_action(t % 3 != 0, 5_000 + t) is None for t in range(10))


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RiskLimits(max_error_rate=D("1.5"))
    with pytest.raises(ValueError):
        RiskLimits(max_open_orders=0)
