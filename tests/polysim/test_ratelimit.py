"""Sliding-window rate limits: the documented table and the window arithmetic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from polysim.ratelimit import RateLimiter, RateRule, default_rules


def test_the_documented_limits_are_the_defaults() -> None:
    rules = {r.name: (r.limit, r.window_s) for r in default_rules()}
    assert rules["post-order-burst"] == (3_500, 10.0)
    assert rules["post-order-sustained"] == (36_000, 600.0)
    assert rules["post-orders-burst"] == (1_000, 10.0)
    assert rules["delete-order-burst"] == (3_000, 10.0)
    assert rules["data-orders"] == (500, 10.0)
    assert rules["book"] == (1_500, 10.0)
    assert rules["global"] == (15_000, 10.0)


def test_a_full_window_refuses_until_it_slides() -> None:
    limiter = RateLimiter(rules=[RateRule("post", "/order", 3, 10.0, method="POST")])
    assert [limiter.check("k", "POST", "/order", t) for t in (0.0, 1.0, 2.0)] == [None, None, None]
    assert limiter.check("k", "POST", "/order", 9.9) == "post"
    assert limiter.check("other-key", "POST", "/order", 9.9) is None  # counted per caller
    assert limiter.check("k", "DELETE", "/order", 9.9) is None  # other method, other rule
    assert limiter.check("k", "POST", "/order", 10.0) is None  # the t=0 hit has left the window


def test_a_refused_request_consumes_no_capacity_in_any_rule() -> None:
    limiter = RateLimiter(rules=[RateRule("all", "/", 100, 10.0, match="prefix"), RateRule("book", "/book", 1, 10.0)])
    assert limiter.check("k", "GET", "/book", 0.0) is None
    for t in range(1, 50):
        assert limiter.check("k", "GET", "/book", float(t) / 10) == "book"
    assert limiter.check("k", "GET", "/price", 5.0) is None
    limiter.set_limit("all", 2)
    assert limiter.check("k", "GET", "/price", 5.1) == "all"


def test_gamma_paths_skip_the_clob_general_limit() -> None:
    limiter = RateLimiter()
    limiter.set_limit("clob-general", 1)
    assert limiter.check("k", "GET", "/gamma/markets", 0.0) is None
    assert limiter.check("k", "GET", "/gamma/markets", 0.1) is None
    assert limiter.check("k", "GET", "/time", 0.2) is None
    assert limiter.check("k", "GET", "/time", 0.3) == "clob-general"


@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), max_size=200), st.integers(1, 10))
def test_admitted_requests_never_exceed_the_limit_in_any_window(times: list[float], limit: int) -> None:
    limiter = RateLimiter(rules=[RateRule("r", "/x", limit, 5.0)])
    admitted = [t for t in sorted(times) if limiter.check("k", "GET", "/x", t) is None]
    for i, start in enumerate(admitted):
        inside = [t for t in admitted[i:] if t < start + 5.0]
        assert len(inside) <= limit


def test_the_keyset_listings_count_against_the_listing_limits() -> None:
    limiter = RateLimiter()
    limiter.set_limit("gamma-markets", 2)
    limiter.set_limit("gamma-events", 1)
    assert limiter.check("k", "GET", "/gamma/markets", 0.0) is None
    assert limiter.check("k", "GET", "/gamma/markets/keyset", 0.1) is None
    assert limiter.check("k", "GET", "/gamma/markets/keyset", 0.2) == "gamma-markets"
    assert limiter.check("k", "GET", "/gamma/events/keyset", 0.3) is None
    assert limiter.check("k", "GET", "/gamma/events", 0.4) == "gamma-events"
    assert limiter.check("k", "GET", "/gamma/markets/123", 0.5) is None  # single items: the general limit only
