"""A token bucket in exact integer arithmetic, with the time passed in.

The bucket holds at most ``capacity`` tokens and gains ``refill`` tokens every ``period_ms``, continuously.
Over any interval of length ``T`` ms it therefore grants at most ``capacity + refill * T / period_ms``
tokens. To stay under a venue's sliding-window limit of ``L`` requests per ``W`` ms, build it with
``TokenBucket.for_limit(L, W)``, which keeps ``capacity + refill == L``.

The level is stored scaled by ``period_ms`` (one token == ``period_ms`` units, one elapsed millisecond adds
``refill`` units), so refills never round and no binary float is involved. Callers own the clock: they pass
a monotonic ``now_ms``; a clock that steps backwards is treated as no time having passed.
"""

from __future__ import annotations


class TokenBucket:
    """Grant up to ``capacity`` tokens at once, refilled at ``refill`` tokens per ``period_ms``."""

    __slots__ = ("_last_ms", "_level", "capacity", "period_ms", "refill")

    def __init__(self, capacity: int, refill: int, period_ms: int, *, start_full: bool = True) -> None:
        if capacity < 1 or refill < 1 or period_ms < 1:
            raise ValueError("capacity, refill and period_ms must all be positive")
        self.capacity = capacity
        self.refill = refill
        self.period_ms = period_ms
        self._level = capacity * period_ms if start_full else 0
        self._last_ms: int | None = None

    @classmethod
    def for_limit(cls, limit: int, window_ms: int, *, burst: int | None = None) -> TokenBucket:
        """A bucket that never grants more than ``limit`` tokens in any window of ``window_ms``.

        ``burst`` (default a tenth of the limit) is what may go out at once; the rest refills evenly.
        """
        if limit < 2:
            raise ValueError("limit must be at least 2 (one burst token and one refill token)")
        cap = max(1, limit // 10) if burst is None else burst
        if not 1 <= cap < limit:
            raise ValueError("burst must be between 1 and limit - 1")
        return cls(cap, limit - cap, window_ms)

    def _advance(self, now_ms: int) -> None:
        if self._last_ms is not None and now_ms > self._last_ms:
            full = self.capacity * self.period_ms
            self._level = min(full, self._level + (now_ms - self._last_ms) * self.refill)
        if self._last_ms is None or now_ms > self._last_ms:
            self._last_ms = now_ms

    def _check(self, n: int) -> None:
        if not 1 <= n <= self.capacity:
            raise ValueError(f"cannot take {n} tokens from a bucket of capacity {self.capacity}")

    def available(self, now_ms: int) -> int:
        """Whole tokens that could be taken at ``now_ms`` (0 while a debt is being paid off)."""
        self._advance(now_ms)
        return max(0, self._level // self.period_ms)

    def cap_at(self, now_ms: int, tokens: int) -> None:
        """Lower the level to at most ``tokens``, which may be negative: a debt the refill pays off first.

        For a second opinion that may know better (the venue's count of what is left); never raises the level.
        """
        self._advance(now_ms)
        self._level = min(self._level, tokens * self.period_ms)

    def debit(self, now_ms: int, n: int) -> None:
        """Take ``n`` tokens unconditionally, into debt if need be (a cost learnt after the fact)."""
        self._advance(now_ms)
        self._level -= n * self.period_ms

    def wait_ms(self, now_ms: int, n: int = 1) -> int:
        """Milliseconds from ``now_ms`` until ``n`` tokens are available (0: now)."""
        self._check(n)
        self._advance(now_ms)
        missing = n * self.period_ms - self._level
        if missing <= 0:
            return 0
        return -(-missing // self.refill)  # ceiling division

    def try_acquire(self, now_ms: int, n: int = 1) -> bool:
        """Take ``n`` tokens if they are available at ``now_ms``; change nothing otherwise."""
        self._check(n)
        self._advance(now_ms)
        need = n * self.period_ms
        if self._level < need:
            return False
        self._level -= need
        return True
