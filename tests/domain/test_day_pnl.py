"""The day's PnL marked to market (pure): what the daily-loss limit is checked against."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from polybot.domain.day_pnl import DAY_MS, DayPnl, mark_price, utc_day
from polybot.domain.inventory import Fill, Inventory

D = Decimal
DAY = 20_000  # a UTC day number
MIDNIGHT = DAY * DAY_MS


def fill(fid: str, side: str, price: str, size: str, ts_ms: int, fee: str = "0", asset: str = "yes") -> Fill:
    return Fill(fid, asset, side, D(price), D(size), D(fee), ts_ms)  # type: ignore[arg-type]


def test_mark_price_is_the_midpoint_and_an_empty_side_counts_at_its_bound() -> None:
    assert mark_price(D("0.40"), D("0.45")) == D("0.425")
    assert mark_price(None, D("0.45")) == D("0.225")  # nobody bids: not worth the last midpoint
    assert mark_price(D("0.40"), None) == D("0.70")
    assert mark_price(None, None) is None
    assert utc_day(MIDNIGHT) == DAY and utc_day(MIDNIGHT - 1) == DAY - 1


def test_a_holding_from_yesterday_counts_only_its_move_since_the_first_mark_of_today() -> None:
    fills = [fill("1", "BUY", "0.60", "100", MIDNIGHT - 3_600_000)]  # bought yesterday at 0.60
    day = DayPnl.from_fills(fills, MIDNIGHT + 60_000)
    assert day.start_sizes == {"yes": D(100)} and day.cash == {}
    assert day.reading().unmarked == ("yes",) and day.reading().pnl_usdc == 0  # no mark yet: left out
    assert day.mark("yes", D("0.50")) is True  # the first mark of the day is the start mark
    assert day.mark("yes", D("0.45")) is False
    r = day.reading()
    assert (r.pnl_usdc, r.unmarked) == (D("-5.00"), ())  # 100 × (0.45 − 0.50): yesterday's drop is not today's


def test_todays_fills_count_their_cash_and_fees_and_the_shares_at_the_mark() -> None:
    fills = [fill("1", "BUY", "0.40", "10", MIDNIGHT + 1, fee="0.02"),
             fill("2", "SELL", "0.50", "4", MIDNIGHT + 2, fee="0.01")]
    day = DayPnl.from_fills(fills, MIDNIGHT + 10)
    day.mark("yes", D("0.30"))
    # cash −4.00 − 0.02 + 2.00 − 0.01; 6 shares at 0.30
    assert day.reading().pnl_usdc == D("-2.03") + D("1.80")
    day.apply(fill("3", "SELL", "0.30", "6", MIDNIGHT + 20))
    assert day.reading().pnl_usdc == D("-2.03") + D("1.80")  # sold at the mark: nothing changes
    assert day.sizes["yes"] == 0


def test_an_unmarked_token_is_left_out_with_its_cash_and_named() -> None:
    day = DayPnl(DAY)
    day.apply(fill("1", "BUY", "0.40", "10", MIDNIGHT + 1, asset="no"))
    day.apply(fill("2", "BUY", "0.40", "10", MIDNIGHT + 1, asset="yes"))
    day.mark("yes", D("0.35"))
    r = day.reading()
    assert (r.pnl_usdc, r.unmarked) == (D("-0.50"), ("no",))


def test_the_day_rolls_at_midnight_utc_from_what_is_held_at_the_last_marks() -> None:
    day = DayPnl(DAY)
    day.apply(fill("1", "BUY", "0.40", "10", MIDNIGHT + 1))
    day.mark("yes", D("0.20"))
    assert day.reading().pnl_usdc == D("-2.00")
    assert day.roll(MIDNIGHT + DAY_MS - 1) is False
    assert day.roll(MIDNIGHT + DAY_MS) is True
    assert (day.day, day.start_sizes, day.start_marks, day.cash) == (DAY + 1, {"yes": D(10)}, {"yes": D("0.20")}, {})
    assert day.reading().pnl_usdc == 0  # a new day: yesterday's loss is yesterday's
    day.mark("yes", D("0.25"))
    assert day.reading().pnl_usdc == D("0.50")


def test_a_rebase_starts_the_allowance_again_from_the_pnl_now() -> None:
    day = DayPnl(DAY)
    day.apply(fill("1", "BUY", "0.40", "10", MIDNIGHT + 1))
    day.mark("yes", D("0.10"))
    assert day.rebase() == D("-3.00")
    day.mark("yes", D("0.05"))
    r = day.reading()
    assert (r.pnl_usdc, r.since_rebase_usdc) == (D("-3.50"), D("-0.50"))
    day.roll(MIDNIGHT + DAY_MS)
    assert day.base_usdc == 0


def test_a_restart_keeps_the_start_marks_and_the_rebase_it_is_given() -> None:
    fills = [fill("1", "BUY", "0.60", "100", MIDNIGHT - 1), fill("2", "BUY", "0.50", "10", MIDNIGHT + 5)]
    day = DayPnl.from_fills(fills, MIDNIGHT + 99, start_marks={"yes": D("0.55")}, base_usdc=D("-1"))
    assert day.mark("yes", D("0.50")) is False  # the start mark kept before the restart stays
    r = day.reading()
    assert r.pnl_usdc == D(110) * D("0.50") - D(100) * D("0.55") - D(5) and r.since_rebase_usdc == r.pnl_usdc + 1


prices = st.integers(1, 99).map(lambda c: D(c) / 100)


@given(st.lists(st.tuples(st.booleans(), prices, st.integers(1, 50), st.integers(0, 3)), max_size=30), prices)
def test_from_flat_the_days_pnl_is_realized_plus_unrealized(trades: list[tuple[bool, Decimal, int, int]],
                                                           mark: Decimal) -> None:
    """Starting the day flat, the marked day PnL equals the inventory's realized + unrealized PnL exactly
    (the cost-basis rounding of partial sells cancels out between the two)."""
    inv, day = Inventory(), DayPnl(DAY)
    for i, (buy, price, size, fee_cents) in enumerate(trades):
        if not buy and inv.size("yes") < size:
            continue
        f = fill(str(i), "BUY" if buy else "SELL", str(price), str(size), MIDNIGHT + i, fee=str(D(fee_cents) / 100))
        inv.apply(f)
        day.apply(f)
    day.mark("yes", mark)
    assert day.reading().pnl_usdc == inv.realized_usdc() + inv.unrealized_usdc({"yes": mark})
