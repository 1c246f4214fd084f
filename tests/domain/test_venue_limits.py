"""Our copy of the venue's per-signer buckets: sized from the tier, refused whole, corrected by the headers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polybot.domain.venue_limits import (
    DEFAULT_TIER,
    DOCUMENTED_TIERS,
    RateLimitHeaders,
    TierParseError,
    VenueLimits,
    VenueTier,
    parse_headers,
    tier_from_json,
)

D = Decimal
SMALL = VenueTier("standard", D(2), 3, D(4), 6)  # 2 orders/s, burst 3; 4 cancels/s, burst 6


@pytest.mark.parametrize(("body", "expected"), [
    ({"tier": "gold", "period": 30}, DOCUMENTED_TIERS["gold"]),
    ({"tier": "STANDARD"}, DEFAULT_TIER),
    ({"tier": "standard", "tier_details": {"order_rate": 2.0, "order_burst": 3, "cancel_rate": 4.0,
                                           "cancel_burst": 6, "negative_cancel": True}}, SMALL),
    ({"tier": "custom", "tier_details": {"order_rate": "0.5", "order_burst": 2, "cancel_rate": 1,
                                         "cancel_burst": 4}}, VenueTier("custom", D("0.5"), 2, D(1), 4)),
])
def test_the_tier_answer_sizes_the_buckets(body: dict[str, object], expected: VenueTier) -> None:
    assert tier_from_json(body) == expected


@pytest.mark.parametrize("body", [
    {}, {"tier": ""}, {"tier": "mythril"},
    {"tier": "x", "tier_details": {"order_rate": 0, "order_burst": 3, "cancel_rate": 1, "cancel_burst": 2}},
    {"tier": "x", "tier_details": {"order_rate": 1, "order_burst": 2.5, "cancel_rate": 1, "cancel_burst": 2}},
    {"tier": "x", "tier_details": {"order_rate": "fast", "order_burst": 2, "cancel_rate": 1, "cancel_burst": 2}},
])
def test_an_unusable_tier_answer_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(TierParseError):
        tier_from_json(body)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Poly-RateLimit-Remaining": "11", "Poly-RateLimit-Reset": "1700000000", "Poly-RateLimit-Tier": "gold"},
     RateLimitHeaders(11, 1700000000, "gold")),
    ({"poly-ratelimit-remaining": "-4", "poly-ratelimit-warning": "true"}, RateLimitHeaders(-4, None, None, True)),
    ({"Poly-RateLimit-Remaining": "2.7"}, RateLimitHeaders(2)),
    ({"Poly-RateLimit-Remaining": "lots", "Poly-RateLimit-Tier": " "}, RateLimitHeaders()),
    ({}, RateLimitHeaders()),
])
def test_headers_are_read_case_insensitively_and_malformed_ones_ignored(
        headers: dict[str, str], expected: RateLimitHeaders) -> None:
    assert parse_headers(headers) == expected


def test_a_batch_is_taken_whole_or_not_at_all_and_refills_at_the_tier_rate() -> None:
    lim = VenueLimits()
    lim.set_tier(SMALL, 0)
    assert lim.try_take("order", 2, 0)
    assert not lim.try_take("order", 2, 0)  # 1 left: the batch of 2 is refused, nothing taken
    assert lim.available("order", 0) == 1
    assert lim.wait_ms("order", 2, 0) == 500  # one token at 2 a second
    assert not lim.try_take("order", 2, 499)
    assert lim.try_take("order", 2, 500)
    assert lim.available("cancel", 500) == 6  # the cancel bucket is its own
    assert not lim.try_take("order", 4, 10_000) and lim.wait_ms("order", 4, 10_000) is None  # above the burst
    assert lim.try_take("order", 0, 10_000)


def test_the_venue_remaining_only_lowers_our_level_and_a_debt_is_paid_off_first() -> None:
    lim = VenueLimits()
    lim.set_tier(SMALL, 0)
    lim.correct("order", RateLimitHeaders(remaining=1, tier="standard"), 0)
    assert lim.available("order", 0) == 1 and not lim.tier_stale
    lim.correct("order", RateLimitHeaders(remaining=50), 0)
    assert lim.available("order", 0) == 1  # never raised by the venue's word
    lim.correct("cancel", RateLimitHeaders(remaining=-4), 0)
    assert lim.available("cancel", 0) == 0 and lim.wait_ms("cancel", 1, 0) == 1250  # 5 tokens at 4 a second
    lim.charge("cancel", 2, 1250)
    assert lim.wait_ms("cancel", 1, 1250) == 500  # 1 - 2 = -1: two tokens to go


def test_a_header_naming_another_tier_or_warning_is_noted() -> None:
    lim = VenueLimits()
    assert lim.tier_stale  # nothing read yet: the lowest tier meanwhile
    lim.set_tier(SMALL, 0)
    lim.correct("order", RateLimitHeaders(tier="gold", warning=True), 0)
    assert lim.tier_stale and lim.warnings == 1


def test_a_new_tier_keeps_what_was_used() -> None:
    lim = VenueLimits()
    lim.set_tier(SMALL, 0)
    assert lim.try_take("order", 3, 0)
    lim.set_tier(DOCUMENTED_TIERS["gold"], 0)
    assert lim.available("order", 0) == 0 and lim.available("order", 1000) == 400


def test_a_fractional_rate_refills_exactly() -> None:
    lim = VenueLimits(VenueTier("slow", D("0.125"), 1, D(1), 1))
    assert lim.try_take("order", 1, 0)
    assert lim.wait_ms("order", 1, 0) == 8000
    assert not lim.try_take("order", 1, 7999) and lim.try_take("order", 1, 8000)


@settings(max_examples=200, deadline=None)
@given(rate=st.integers(1, 20), burst=st.integers(1, 30),
       steps=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 12), st.integers(-3, 40) | st.none()),
                      max_size=60))
def test_never_more_taken_than_the_bucket_allows_over_any_window(
        rate: int, burst: int, steps: list[tuple[int, int, int | None]]) -> None:
    """Over any window of T ms at most burst + rate·T/1000 tokens go out, whatever the headers say."""
    lim = VenueLimits(VenueTier("t", D(rate), burst, D(rate), burst))
    now, taken = 0, []
    for gap, n, remaining in steps:
        now += gap
        if remaining is not None:
            lim.correct("order", RateLimitHeaders(remaining=remaining), now)
        if lim.try_take("order", n, now):
            taken.append((now, n))
    for i, (start, _) in enumerate(taken):
        total = 0
        for when, n in taken[i:]:
            total += n
            assert total * 1000 <= burst * 1000 + rate * (when - start)
