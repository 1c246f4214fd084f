"""When to retry and how long to wait: pure, shared by the venue clients and the ingestor's outbox and resyncs.

(Reading a ``Retry-After`` header is wire parsing and lives in ``polybot.venue.http_headers``.)

Randomness comes in as an argument (``jitter`` in [0, 1)) so the schedule is testable and the domain
reads no random source of its own.
"""

from __future__ import annotations

_MAX_DOUBLINGS = 64


def is_retryable_status(status: int) -> bool:
    """429 (throttled) and 5xx are worth retrying; every other status is final."""
    return status == 429 or 500 <= status <= 599


def backoff_delay_s(attempt: int, base_s: float, max_s: float, jitter: float) -> float:
    """Delay before retry ``attempt`` (1, 2, …): ``base·2^(attempt-1)`` capped at ``max_s``, jittered into [½d, d].

    Any attempt number is fine: a reconnect loop counts on through a long outage, and ``2.0 ** n`` overflows
    past n = 1023, so the exponent stops growing long after every real ``max_s`` is reached."""
    ceiling = min(max_s, base_s * 2.0 ** min(max(0, attempt - 1), _MAX_DOUBLINGS))
    return ceiling * (0.5 + 0.5 * jitter)
