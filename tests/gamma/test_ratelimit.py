"""The token bucket: exact waits, and the property that it never grants more than its rate allows."""

from __future__ import annotations

import copy

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from polybot.domain.ratelimit import TokenBucket

# (time step in ms, possibly negative to model a clock stepping back; tokens asked for)
steps = st.lists(st.tuples(st.integers(-50, 3_000), st.integers(1, 5)), min_size=1, max_size=300)
buckets = st.tuples(st.integers(5, 60), st.integers(1, 400), st.integers(1, 20_000))


def _grants(bucket: TokenBucket, plan: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Run ``plan`` against ``bucket``; return (effective time, tokens) of every grant."""
    now = 0
    clock: int | None = None  # what the bucket has seen: its first reading, then never stepping back
    out: list[tuple[int, int]] = []
    for dt, n in plan:
        now += dt
        clock = now if clock is None else max(clock, now)
        if bucket.try_acquire(now, n):
            out.append((clock, n))
    return out


@settings(max_examples=300, deadline=None)
@given(buckets, steps)
@example((5, 1, 1), [(-1, 1), (1, 5)])  # first reading before the model's zero: found by hypothesis in CI
def test_never_grants_more_than_capacity_plus_refill_over_any_interval(
    shape: tuple[int, int, int], plan: list[tuple[int, int]]
) -> None:
    capacity, refill, period = shape
    bucket = TokenBucket(capacity, refill, period)
    plan = [(dt, min(n, capacity)) for dt, n in plan]
    grants = _grants(bucket, plan)
    for i, (t_i, _) in enumerate(grants):
        total = 0
        for t_j, n_j in grants[i:]:
            total += n_j
            # exact integer form of: total <= capacity + refill * (t_j - t_i) / period
            assert total * period <= capacity * period + refill * (t_j - t_i)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([(300, 10_000), (500, 10_000), (9_000, 10_000), (7, 1_000)]),
       st.lists(st.integers(0, 400), min_size=1, max_size=2_000))
def test_for_limit_never_exceeds_the_documented_sliding_window(
    limit_window: tuple[int, int], gaps: list[int]
) -> None:
    limit, window = limit_window
    bucket = TokenBucket.for_limit(limit, window)
    now = 0
    times: list[int] = []
    for gap in gaps:  # a greedy caller: asks again after every gap, takes whatever it gets
        now += gap
        while bucket.try_acquire(now):
            times.append(now)
    lo = 0
    for hi, t in enumerate(times):  # every closed window [t - window, t]
        while times[lo] < t - window:
            lo += 1
        assert hi - lo + 1 <= limit


@settings(max_examples=300, deadline=None)
@given(buckets, steps, st.integers(1, 5))
def test_wait_ms_is_exact(shape: tuple[int, int, int], plan: list[tuple[int, int]], n: int) -> None:
    capacity, refill, period = shape
    n = min(n, capacity)
    bucket = TokenBucket(capacity, refill, period)
    _grants(bucket, [(abs(dt), min(k, capacity)) for dt, k in plan])
    now = sum(abs(dt) for dt, _ in plan)
    wait = bucket.wait_ms(now, n)
    if wait > 0:
        early = copy.deepcopy(bucket)
        assert not early.try_acquire(now + wait - 1, n)
    assert bucket.try_acquire(now + wait, n)


def test_refused_acquire_changes_nothing() -> None:
    bucket = TokenBucket(2, 1, 1_000)
    assert bucket.try_acquire(0, 2)
    assert not bucket.try_acquire(500)
    assert bucket.wait_ms(500) == 500
    assert bucket.try_acquire(1_000)
    assert not bucket.try_acquire(1_000)


def test_starts_full_or_empty() -> None:
    assert TokenBucket(5, 5, 100).available(0) == 5
    empty = TokenBucket(5, 5, 100, start_full=False)
    assert empty.available(0) == 0
    assert empty.available(40) == 2


@pytest.mark.parametrize(("limit", "burst", "capacity", "refill"), [(300, None, 30, 270), (500, None, 50, 450),
                                                                    (10, 3, 3, 7)])
def test_for_limit_splits_burst_and_refill(limit: int, burst: int | None, capacity: int, refill: int) -> None:
    b = TokenBucket.for_limit(limit, 10_000, burst=burst)
    assert (b.capacity, b.refill, b.period_ms) == (capacity, refill, 10_000)


@pytest.mark.parametrize("bad", [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_rejects_degenerate_shapes(bad: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        TokenBucket(*bad)


def test_rejects_asking_more_than_capacity() -> None:
    with pytest.raises(ValueError):
        TokenBucket(3, 1, 10).try_acquire(0, 4)
    with pytest.raises(ValueError):
        TokenBucket.for_limit(10, 1_000, burst=10)
