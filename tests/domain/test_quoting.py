"""SpreadQuoter: the guards, the pull-once rule, movement triggers, the min interval, the bucket, the refresh
before the TTL, reset, per-market parameters and their validation (tables)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from quote_kit import CID, NO, YES, book, market, mirror, ours, pair, recorded

from polybot.domain.quote_inputs import (
    CROSSED,
    INVENTORY_CAP,
    KILL_SWITCH,
    MARKET_CLOSED,
    MIN_INTERVAL,
    NO_BOOK,
    ONE_SIDED,
    RATE_LIMITED,
    REASONS,
    RESYNCING,
    RISK_HALTED,
    STALE_BOOK,
    TICK_CHANGED,
    TOO_CLOSE_TO_END,
    UNCHANGED,
    UNVERIFIED,
    OurOrder,
    QuoteBook,
    QuoteParams,
    TargetOrder,
)
from polybot.domain.quoting import SpreadQuoter, check_params

D = Decimal
T0 = 1_000_000
BASE = pair([("0.45", "100")], [("0.55", "100")])  # fair 0.50: we bid 0.48 and ask 0.52 (a NO bid at 0.48)
TARGET = (TargetOrder(YES, "BUY", D("0.48"), D(10)), TargetOrder(NO, "BUY", D("0.48"), D(10)))
Books = dict[str, QuoteBook]


def quoter(**kw: Any) -> SpreadQuoter:
    return SpreadQuoter(QuoteParams(**kw))


def with_yes(books: Books, **kw: Any) -> Books:
    return {**books, YES: dataclasses.replace(books[YES], **kw)}


def with_no(books: Books, **kw: Any) -> Books:
    return {**books, NO: dataclasses.replace(books[NO], **kw)}


# --- guards: each bad state pulls once, then holds with its reason ----------------------------------------

Case = tuple[str, dict[str, Any], Callable[[Books], Books], dict[str, Any]]
BAD: list[Case] = [
    (KILL_SWITCH, {}, lambda b: b, {"kill": True}),
    (KILL_SWITCH, {}, lambda b: b, {"kill": True, "halted": True}),  # the switch first
    (RISK_HALTED, {}, lambda b: b, {"halted": True}),
    (RISK_HALTED, {"closed": True}, lambda b: b, {"halted": True}),  # before the market's own problems
    (MARKET_CLOSED, {"closed": True}, lambda b: b, {}),
    (MARKET_CLOSED, {"active": False}, lambda b: b, {}),
    (MARKET_CLOSED, {"accepting_orders": False}, lambda b: b, {}),
    (TOO_CLOSE_TO_END, {"end_ms": T0 + 3_599_999}, lambda b: b, {}),
    (TOO_CLOSE_TO_END, {"end_ms": T0 - 1}, lambda b: b, {}),
    (NO_BOOK, {}, lambda b: {YES: b[YES]}, {}),
    (NO_BOOK, {}, lambda b: {NO: b[NO]}, {}),
    (TICK_CHANGED, {}, lambda b: with_no(b, state="resyncing", reason="tick_size"), {}),
    (TICK_CHANGED, {}, lambda b: with_yes(b, tick_size=D("0.001")), {}),  # the snapshot's tick is not the market's
    (RESYNCING, {}, lambda b: with_yes(b, state="resyncing", reason="hash_mismatch"), {}),
    (RESYNCING, {}, lambda b: with_no(b, state="something new"), {}),  # a state we do not know: no trust
    (UNVERIFIED, {}, lambda b: with_yes(b, state="unverified"), {}),
    (STALE_BOOK, {}, lambda b: with_yes(b, state="stale"), {}),
    (STALE_BOOK, {}, lambda b: with_no(b, age_ms=5_001), {}),
    (STALE_BOOK, {}, lambda b: with_yes(b, age_ms=None), {}),
    (CROSSED, {}, lambda b: pair([("0.55", "10")], [("0.55", "10")]), {}),  # locked
    (CROSSED, {}, lambda b: pair([("0.56", "10")], [("0.55", "10")]), {}),  # crossed
    # one token's own book locked, the other's fine
    (CROSSED, {}, lambda b: {YES: book(YES, [("0.50", "10")], [("0.50", "10")]), NO: b[NO]}, {}),
    # each book is fine alone, but the YES bid 0.45 and the NO bid 0.56 lock the one book (0.45 + 0.56 >= 1)
    (CROSSED, {}, lambda b: {YES: b[YES], NO: book(NO, [("0.56", "10")], [("0.60", "10")])}, {}),
    (ONE_SIDED, {}, lambda b: pair([("0.45", "100")], []), {}),
    (ONE_SIDED, {}, lambda b: pair([], [("0.55", "100")]), {}),
    # the only ask is ours: without our own orders there is no ask to quote around
    (ONE_SIDED, {}, lambda b: pair([("0.45", "100")], [("0.52", "10")]),
     {"orders": [OurOrder("o1", NO, "BUY", D("0.48"), D(10))]}),
    (INVENTORY_CAP, {}, lambda b: b, {"notional": 1000}),  # no room for a buy, nothing to sell
    (INVENTORY_CAP, {"min_order_size": D(11)}, lambda b: b, {}),  # every side below the min order size
]


@pytest.mark.parametrize(("reason", "mkt", "books", "state"), BAD)
def test_a_bad_market_is_pulled_once_then_held(reason: str, mkt: dict[str, Any], books: Callable[[Books], Books],
                                               state: dict[str, Any]) -> None:
    q = quoter()
    first = q.decide(market(**mkt), books(BASE), ours(**state), T0)
    assert (first.action, first.reason, first.orders) == ("pull", reason, ())
    second = q.decide(market(**mkt), books(BASE), ours(**state), T0 + 10_000)
    assert (second.action, second.reason, second.orders) == ("hold", reason, ())


@pytest.mark.parametrize(("reason", "mkt", "books", "state"), BAD)
def test_a_quoted_market_that_goes_bad_is_pulled(reason: str, mkt: dict[str, Any],
                                                 books: Callable[[Books], Books], state: dict[str, Any]) -> None:
    q = quoter()
    assert q.decide(market(), BASE, ours(), T0).action == "quote"
    pulled = q.decide(market(**mkt), books(BASE), ours(**state), T0 + 1)  # at once: not held by the interval
    assert (pulled.action, pulled.reason, pulled.orders) == ("pull", reason, ())


@pytest.mark.parametrize(("mkt", "books"), [
    ({"end_ms": T0 + 3_600_000}, BASE),  # exactly the min time to end: still quoted
    ({}, with_yes(BASE, age_ms=5_000)),  # exactly the staleness threshold: still fresh
    ({}, with_yes(BASE, tick_size=None)),  # a snapshot that never said its tick is no evidence of a change
    ({}, with_yes(BASE, tick_size=D("0.010"))),  # the same tick, written otherwise
])
def test_just_inside_the_guards_quotes(mkt: dict[str, Any], books: Books) -> None:
    assert quoter().decide(market(**mkt), books, ours(), T0).action == "quote"


def test_reasons_are_unique_and_complete() -> None:
    assert len(set(REASONS)) == len(REASONS)
    assert {c[0] for c in BAD} <= set(REASONS)


def test_while_bad_the_reason_follows_the_state_without_a_second_pull() -> None:
    q = quoter()
    q.decide(market(), BASE, ours(), T0)
    assert q.decide(market(), with_yes(BASE, state="stale"), ours(), T0 + 1).action == "pull"
    d = q.decide(market(), with_yes(BASE, state="resyncing"), ours(), T0 + 2)
    assert (d.action, d.reason) == ("hold", RESYNCING)
    d = q.decide(market(), BASE, ours(kill=True), T0 + 3)
    assert (d.action, d.reason) == ("hold", KILL_SWITCH)


def test_a_pull_is_not_held_by_an_empty_bucket() -> None:
    q = quoter(bucket_capacity=1, bucket_refill=1, bucket_period_ms=1_000)
    assert q.decide(market(), BASE, ours(), T0).action == "quote"  # the only token
    assert q.decide(market(), BASE, ours(kill=True), T0 + 1).action == "pull"


# --- back from bad ---------------------------------------------------------------------------------------

def test_after_a_pull_the_min_interval_counts_from_the_pull() -> None:
    q = quoter()
    q.decide(market(), BASE, ours(), T0)
    q.decide(market(), with_yes(BASE, state="stale"), ours(), T0 + 1_000)  # pull
    d = q.decide(market(), BASE, ours(), T0 + 1_499)
    assert (d.action, d.reason) == ("hold", MIN_INTERVAL)
    d = q.decide(market(), BASE, ours(), T0 + 1_500)
    assert (d.action, d.reason, d.orders) == ("quote", "quote", TARGET)


def test_after_a_pull_a_change_of_our_state_quotes_at_once() -> None:
    q = quoter()
    q.decide(market(), BASE, ours(notional=1000), T0)  # inventory_cap: pulled
    d = q.decide(market(), BASE, ours(version=1), T0 + 1)  # a fill or cancel freed room
    assert (d.action, d.orders) == ("quote", TARGET)


# --- movement-based refresh ------------------------------------------------------------------------------

def test_same_inputs_hold_unchanged() -> None:
    q = quoter()
    first = q.decide(market(), BASE, ours(), T0)
    assert (first.action, first.reason, first.orders, first.fair) == ("quote", "quote", TARGET, D("0.50"))
    d = q.decide(market(), BASE, ours(), T0 + 1_000)
    assert (d.action, d.reason, d.orders) == ("hold", UNCHANGED, ())


@pytest.mark.parametrize(("k", "moved_book", "expected"), [
    # fair 0.50 → 0.51 (one tick): re-quoted when K = 1, not when K = 2
    (1, pair([("0.46", "100")], [("0.56", "100")]), "quote"),
    (2, pair([("0.46", "100")], [("0.56", "100")]), "hold"),
    (2, pair([("0.47", "100")], [("0.57", "100")]), "quote"),
])
def test_fair_price_trigger(k: int, moved_book: Books, expected: str) -> None:
    q = quoter(move_fair_ticks=k, move_touch_ticks=100)
    q.decide(market(), BASE, ours(), T0)
    assert q.decide(market(), moved_book, ours(), T0 + 1_000).action == expected


@pytest.mark.parametrize(("j", "expected"), [(2, "quote"), (3, "hold")])
def test_touch_trigger(j: int, expected: str) -> None:
    # the best bid moves two ticks (0.45 → 0.47) and the fair one (0.50 → 0.51), which K = 100 ignores
    q = quoter(move_fair_ticks=100, move_touch_ticks=j)
    q.decide(market(), BASE, ours(), T0)
    assert q.decide(market(), pair([("0.47", "100")], [("0.55", "100")]), ours(), T0 + 1_000).action == expected


def test_a_move_that_leaves_the_target_as_it_was_publishes_nothing() -> None:
    q = quoter()
    q.decide(market(), BASE, ours(), T0)
    d = q.decide(market(), pair([("0.44", "100")], [("0.56", "100")]), ours(), T0 + 1_000)  # touch moved, fair not
    assert (d.action, d.reason) == ("hold", UNCHANGED)


def test_a_last_target_the_book_moved_onto_is_replaced() -> None:
    # no trigger fires by threshold, but the best ask fell onto our bid (0.48): the target would lock the book
    q = quoter(move_fair_ticks=100, move_touch_ticks=100)
    q.decide(market(), BASE, ours(), T0)
    d = q.decide(market(), pair([("0.40", "100")], [("0.48", "100")]), ours(), T0 + 1_000)
    assert d.action == "quote"
    assert all(o.price < D("0.48") for o in d.orders if o.asset_id == YES)


def test_a_change_of_our_state_requotes_within_the_min_interval() -> None:
    q = quoter()
    q.decide(market(), BASE, ours(), T0)
    d = q.decide(market(), BASE, ours(yes=40, version=1), T0 + 100)
    assert d.action == "quote"
    assert TargetOrder(YES, "SELL", D("0.52"), D(10)) in d.orders


def test_a_new_version_with_the_same_target_publishes_nothing() -> None:
    q = quoter()
    q.decide(market(), BASE, ours(), T0)
    assert q.decide(market(), BASE, ours(version=7), T0 + 100).reason == UNCHANGED


def test_notional_committed_elsewhere_shrinks_the_target_at_once() -> None:
    q = quoter(max_notional_usdc=D(10))
    assert q.decide(market(), BASE, ours(), T0).orders == TARGET  # 4.80 + 4.80 of buys
    d = q.decide(market(), BASE, ours(notional=6), T0 + 100)  # another market's fill: 4 left for this one
    assert d.action == "quote"
    assert sum(o.price * o.size for o in d.orders) <= 4


# --- min interval and bucket -------------------------------------------------------------------------------

MOVED = pair([("0.47", "100")], [("0.57", "100")])


def test_min_interval() -> None:
    q = quoter()
    q.decide(market(), BASE, ours(), T0)
    d = q.decide(market(), MOVED, ours(), T0 + 499)
    assert (d.action, d.reason, d.fair) == ("hold", MIN_INTERVAL, D("0.52"))
    assert q.decide(market(), MOVED, ours(), T0 + 500).action == "quote"


def test_token_bucket() -> None:
    q = quoter(min_requote_interval_ms=0, bucket_capacity=1, bucket_refill=1, bucket_period_ms=1_000)
    q.decide(market(), BASE, ours(), T0)
    d = q.decide(market(), MOVED, ours(), T0 + 999)
    assert (d.action, d.reason) == ("hold", RATE_LIMITED)
    assert q.decide(market(), MOVED, ours(), T0 + 1_000).action == "quote"


def test_a_refresh_takes_a_token() -> None:
    q = quoter(bucket_capacity=1, bucket_refill=1, bucket_period_ms=1_000)
    q.decide(market(), BASE, ours(), T0)
    assert q.decide(market(), BASE, ours(), T0 + 2_000).reason == "refresh"  # the token refilled by now
    d = q.decide(market(), MOVED, ours(), T0 + 2_500)  # half a token since the refresh
    assert (d.action, d.reason) == ("hold", RATE_LIMITED)


def test_a_pull_takes_a_token_when_there_is_one() -> None:
    q = quoter(bucket_capacity=1, bucket_refill=1, bucket_period_ms=1_000)
    q.decide(market(), BASE, ours(), T0)
    assert q.decide(market(), BASE, ours(kill=True), T0 + 1_000).action == "pull"  # takes the refilled token
    d = q.decide(market(), BASE, ours(), T0 + 1_500)
    assert (d.action, d.reason) == ("hold", RATE_LIMITED)
    assert q.decide(market(), BASE, ours(), T0 + 2_000).action == "quote"


def test_buckets_are_per_market() -> None:
    q = quoter(bucket_capacity=1, bucket_refill=1, bucket_period_ms=1_000)
    other = dataclasses.replace(market(), condition_id="0x" + "d2" * 32)
    assert q.decide(market(), BASE, ours(), T0).action == "quote"
    assert q.decide(other, BASE, ours(), T0).action == "quote"


# --- refresh before the TTL --------------------------------------------------------------------------------

def test_refresh_before_ttl() -> None:
    q = quoter()  # ttl 3 s, refreshed 1 s before
    q.decide(market(), BASE, ours(), T0)
    assert q.refresh_due_ms(CID) == T0 + 2_000
    assert q.decide(market(), BASE, ours(), T0 + 1_999).reason == UNCHANGED
    d = q.decide(market(), BASE, ours(), T0 + 2_000)
    assert (d.action, d.reason, d.orders, d.fair) == ("quote", "refresh", TARGET, D("0.50"))
    assert q.refresh_due_ms(CID) == T0 + 4_000
    assert q.decide(market(), BASE, ours(), T0 + 3_999).reason == UNCHANGED


def test_refresh_republishes_the_last_target_not_a_sub_threshold_one() -> None:
    q = quoter(move_fair_ticks=2, move_touch_ticks=2)
    q.decide(market(), BASE, ours(), T0)
    d = q.decide(market(), pair([("0.46", "100")], [("0.56", "100")]), ours(), T0 + 2_000)  # fair +1 tick
    assert (d.reason, d.orders, d.fair) == ("refresh", TARGET, D("0.50"))


def test_no_refresh_while_pulled() -> None:
    q = quoter()
    q.decide(market(), BASE, ours(kill=True), T0)
    assert q.refresh_due_ms(CID) is None
    assert q.decide(market(), BASE, ours(kill=True), T0 + 10_000).action == "hold"


# --- reset -------------------------------------------------------------------------------------------------

def test_reset_decides_afresh() -> None:
    q = quoter()
    q.decide(market(), BASE, ours(), T0)
    q.reset(CID)
    assert q.refresh_due_ms(CID) is None
    d = q.decide(market(), BASE, ours(), T0 + 1)  # the publish failed: the same target again, at once
    assert (d.action, d.orders) == ("quote", TARGET)
    q.decide(market(), BASE, ours(kill=True), T0 + 2)
    q.reset(CID)
    assert q.decide(market(), BASE, ours(kill=True), T0 + 3).action == "pull"  # first sight again


def test_reset_keeps_the_bucket() -> None:
    q = quoter(bucket_capacity=1, bucket_refill=1, bucket_period_ms=1_000)
    q.decide(market(), BASE, ours(), T0)
    q.reset(CID)
    assert q.decide(market(), BASE, ours(), T0 + 1).reason == RATE_LIMITED
    q.reset("0xunknown")  # a market never seen: nothing to forget


# --- parameters --------------------------------------------------------------------------------------------

def test_per_market_parameters() -> None:
    wide = QuoteParams(half_spread_ticks=4)
    q = SpreadQuoter(QuoteParams(), {CID: wide})
    assert q.params(CID) is wide and q.params("0xother") == QuoteParams()
    d = q.decide(market(), BASE, ours(), T0)
    assert {o.price for o in d.orders} == {D("0.46")}


@pytest.mark.parametrize(("field", "value"), [
    ("half_spread_ticks", 0), ("order_size", D(0)), ("max_position", D(0)), ("bucket_capacity", 0),
    ("move_fair_ticks", -1), ("max_notional_usdc", D(-1)), ("keep_size_frac", D("-0.1")),
    ("fair_price", "vwap"),
    ("refresh_before_ttl_ms", 3_000),  # nothing left of the TTL
    ("refresh_before_ttl_ms", 2_600),  # less than the min interval left
    ("bucket_refill", 0),
])
def test_bad_parameters_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        check_params(dataclasses.replace(QuoteParams(), **{field: value}))


def test_a_bucket_too_slow_for_the_refresh_is_refused() -> None:
    with pytest.raises(ValueError, match="bucket_refill"):
        SpreadQuoter(QuoteParams(bucket_refill=1, bucket_period_ms=5_000))


def test_bad_per_market_parameters_name_the_market() -> None:
    with pytest.raises(ValueError, match=CID):
        SpreadQuoter(QuoteParams(), {CID: QuoteParams(half_spread_ticks=0)})


# --- recorded books ----------------------------------------------------------------------------------------

def test_recorded_2025_12_pair() -> None:
    tick, books = recorded("2025-12")  # YES 0.49 (60) / 0.50 (16), NO its mirror
    d = quoter().decide(market(tick), books, ours(), T0)
    assert d.fair == D("0.495")
    assert d.orders == (TargetOrder(YES, "BUY", D("0.47"), D(10)), TargetOrder(NO, "BUY", D("0.48"), D(10)))


def test_recorded_2026_04_pair_with_its_mirror() -> None:
    tick, books = recorded("2026-04")  # a wide book: YES 0.07 (100) / 0.80 (5)
    assert books[NO] == dataclasses.replace(mirror(books[YES]), asset_id=NO)  # the venue's books are one book
    d = quoter().decide(market(tick), books, ours(), T0)
    assert d.fair == D("0.435")
    assert d.orders == (TargetOrder(YES, "BUY", D("0.41"), D(10)), TargetOrder(NO, "BUY", D("0.54"), D(10)))


def test_a_tick_change_already_in_the_books_pulls_once_then_quotes_on_the_new_tick() -> None:
    q = quoter()
    assert q.decide(market(), BASE, ours(), T0).orders == TARGET
    fine = pair([("0.45", "100")], [("0.55", "100")], tick="0.001")  # the new snapshots, before any pull
    d = q.decide(market("0.001"), fine, ours(), T0 + 10)
    assert (d.action, d.reason, d.orders) == ("pull", TICK_CHANGED, ())
    assert q.decide(market("0.001"), fine, ours(), T0 + 20).reason == MIN_INTERVAL  # a pull is not a fill
    d = q.decide(market("0.001"), fine, ours(), T0 + 510)
    assert d.action == "quote" and d.orders and all((o.price / D("0.001")) % 1 == 0 for o in d.orders)


def test_a_target_that_would_cross_is_never_published(monkeypatch: pytest.MonkeyPatch) -> None:
    import polybot.domain.quoting as quoting

    q = quoter()
    crossing = (TargetOrder(YES, "BUY", D("0.55"), D(10)),)  # at the best ask: it would lock the book
    monkeypatch.setattr(quoting, "plan_orders", lambda *a, **k: crossing)
    d = q.decide(market(), BASE, ours(), T0)
    assert (d.action, d.reason, d.orders) == ("pull", "would_cross", ())
    itself = (TargetOrder(YES, "BUY", D("0.50"), D(10)), TargetOrder(NO, "BUY", D("0.50"), D(10)))  # 0.50 + 0.50
    monkeypatch.setattr(quoting, "plan_orders", lambda *a, **k: itself)
    q2 = quoter()
    assert q2.decide(market(), BASE, ours(), T0).reason == "would_cross"
