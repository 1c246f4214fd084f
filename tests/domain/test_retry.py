"""Retry decisions shared by the venue clients: which statuses, and how long to wait."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polybot.domain.retry import backoff_delay_s, is_retryable_status


@pytest.mark.parametrize(("status", "retry"), [(200, False), (400, False), (401, False), (404, False),
                                               (429, True), (500, True), (503, True), (599, True), (600, False)])
def test_retryable_statuses(status: int, retry: bool) -> None:
    assert is_retryable_status(status) is retry


def test_backoff_doubles_then_caps() -> None:
    assert [backoff_delay_s(a, 0.5, 5.0, 1.0) for a in (1, 2, 3, 4, 5, 6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff_delay_s(3, 0.5, 5.0, 0.0) == 1.0  # jitter keeps at least half


@given(st.integers(min_value=1, max_value=60), st.floats(min_value=0, max_value=1, exclude_max=True))
def test_backoff_stays_in_its_band(attempt: int, jitter: float) -> None:
    ceiling = min(30.0, 0.2 * 2.0 ** (attempt - 1))
    assert ceiling / 2 <= backoff_delay_s(attempt, 0.2, 30.0, jitter) <= ceiling


def test_backoff_of_a_long_outage_stays_at_the_cap() -> None:
    # A reconnect loop counts attempts for as long as the venue is down: 2.0 ** n overflows past n = 1023.
    assert backoff_delay_s(5_000, 0.5, 30.0, 0.99) == pytest.approx(30.0 * 0.995)
    assert backoff_delay_s(10**9, 0.5, 30.0, 0.0) == 15.0
