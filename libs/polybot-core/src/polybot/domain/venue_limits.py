"""Our copy of the venue's per-signer order and cancel token buckets, so a burst is refused here, not by a 429.

Polymarket gives every signer (the address of the API credentials) two buckets: ``order`` (``POST /order`` costs
1, ``POST /orders`` one per order) and ``cancel`` (one per id; ``cancel-all`` 1 up front then one per order
canceled, possibly into debt). Each refills continuously at its tier's rate up to its burst, and a request is
admitted only when the bucket holds its whole cost: a batch is refused whole. ``GET /v1/user/rate-limit-tier``
names the tier and its figures; every answer the venue's limiter evaluated carries ``Poly-RateLimit-Remaining``
(tokens left, may be negative), ``Poly-RateLimit-Reset`` (Unix seconds) and ``Poly-RateLimit-Tier``.

``VenueLimits`` holds both buckets sized from the tier (``TokenBucket`` scaled so fractional rates stay exact),
``try_take`` before sending and ``correct`` after each answer: the venue's ``Remaining`` only ever lowers our
level (another process on the same signer, or a bucket that did not start full), never raises it. A header
naming a different tier than ours says the tier must be read again (``tier_stale``). Pure: time is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from polybot.domain.ratelimit import TokenBucket

Kind = Literal["order", "cancel"]
KINDS: tuple[Kind, ...] = ("order", "cancel")
# Rates are tokens per second with up to three decimals: one token per 1,000,000 ms keeps them integral.
_PERIOD_MS = 1_000_000
_RATE_SCALE = 1000


@dataclass(frozen=True, slots=True)
class VenueTier:
    """One tier's refill rates (tokens per second) and bursts."""

    name: str
    order_rate: Decimal
    order_burst: int
    cancel_rate: Decimal
    cancel_burst: int

    def rate(self, kind: Kind) -> Decimal:
        return self.order_rate if kind == "order" else self.cancel_rate

    def burst(self, kind: Kind) -> int:
        return self.order_burst if kind == "order" else self.cancel_burst


def _tier(name: str, order_rate: int, order_burst: int, cancel_rate: int, cancel_burst: int) -> VenueTier:
    return VenueTier(name, Decimal(order_rate), order_burst, Decimal(cancel_rate), cancel_burst)


# The documented table ("CLOB Trading Rate Limits", 2026-07): what a tier means when its figures are not sent.
DOCUMENTED_TIERS: dict[str, VenueTier] = {
    t.name: t
    for t in (
        _tier("standard", 40, 60, 80, 120), _tier("copper", 60, 90, 120, 180),
        _tier("bronze", 80, 120, 160, 240), _tier("silver", 200, 300, 400, 600),
        _tier("gold", 400, 600, 800, 1200), _tier("platinum", 450, 675, 900, 1350),
        _tier("diamond", 525, 787, 1050, 1575), _tier("elite", 600, 900, 1200, 1800),
    )
}
# Until the tier is read, the lowest one: the safe assumption.
DEFAULT_TIER = DOCUMENTED_TIERS["standard"]


class TierParseError(ValueError):
    """A ``/v1/user/rate-limit-tier`` body that names no usable tier."""


def _decimal(value: Any) -> Decimal:
    try:
        out = Decimal(str(value))
    except InvalidOperation as exc:
        raise TierParseError(f"not a number: {value!r}") from exc
    if not out.is_finite() or out <= 0:
        raise TierParseError(f"not a positive number: {value!r}")
    return out


def tier_from_json(body: Mapping[str, Any]) -> VenueTier:
    """The tier of a ``GET /v1/user/rate-limit-tier`` answer: its ``tier_details`` if sent, else the table's."""
    name = body.get("tier")
    if not isinstance(name, str) or not name:
        raise TierParseError(f"no tier name in {dict(body)!r}")
    name = name.lower()
    details = body.get("tier_details")
    if isinstance(details, Mapping) and {"order_rate", "order_burst", "cancel_rate", "cancel_burst"} <= set(details):
        bursts = [_decimal(details["order_burst"]), _decimal(details["cancel_burst"])]
        if any(b != b.to_integral_value() for b in bursts):
            raise TierParseError(f"fractional burst in {dict(details)!r}")
        return VenueTier(name, _decimal(details["order_rate"]), int(bursts[0]),
                         _decimal(details["cancel_rate"]), int(bursts[1]))
    if name in DOCUMENTED_TIERS:
        return DOCUMENTED_TIERS[name]
    raise TierParseError(f"unknown tier {name!r} without figures")


def _bucket(tier: VenueTier, kind: Kind) -> TokenBucket:
    # Rounded down: our bucket may refill a little slower than the venue's, never faster.
    refill = max(1, int(tier.rate(kind) * _RATE_SCALE))
    return TokenBucket(tier.burst(kind), refill, _PERIOD_MS)


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    """The ``Poly-RateLimit-*`` headers of one answer (each may be missing)."""

    remaining: int | None = None
    reset_s: int | None = None
    tier: str | None = None
    warning: bool = False


def _int_header(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(Decimal(value.strip()).to_integral_value(rounding="ROUND_FLOOR"))
    except (InvalidOperation, ValueError):
        return None


def parse_headers(headers: Mapping[str, str]) -> RateLimitHeaders:
    """Read the headers case-insensitively; malformed values count as missing."""
    low = {k.lower(): v for k, v in headers.items()}
    tier = low.get("poly-ratelimit-tier")
    return RateLimitHeaders(_int_header(low.get("poly-ratelimit-remaining")),
                            _int_header(low.get("poly-ratelimit-reset")),
                            tier.strip().lower() if tier and tier.strip() else None,
                            low.get("poly-ratelimit-warning", "").strip().lower() == "true")


class VenueLimits:
    """The order and cancel buckets of one signer."""

    def __init__(self, tier: VenueTier = DEFAULT_TIER) -> None:
        self.tier = tier
        self.tier_stale = True  # nothing read from the venue yet
        self.warnings = 0  # answers the venue flagged "would have been refused" (its warning period)
        self._buckets: dict[Kind, TokenBucket] = {k: _bucket(tier, k) for k in KINDS}

    def set_tier(self, tier: VenueTier, now_ms: int) -> None:
        """Resize both buckets to ``tier``; what is left carries over (capped at the new burst)."""
        for kind in KINDS:
            left = self._buckets[kind].available(now_ms)
            fresh = _bucket(tier, kind)
            fresh.cap_at(now_ms, left)
            self._buckets[kind] = fresh
        self.tier = tier
        self.tier_stale = False

    def burst(self, kind: Kind) -> int:
        return self.tier.burst(kind)

    def available(self, kind: Kind, now_ms: int) -> int:
        return self._buckets[kind].available(now_ms)

    def try_take(self, kind: Kind, n: int, now_ms: int) -> bool:
        """Take ``n`` tokens for one request if the bucket covers all of them; change nothing otherwise.

        A cost above the burst is never covered (the venue would never admit it either).
        """
        if n < 1:
            return True
        if n > self.burst(kind):
            return False
        return self._buckets[kind].try_acquire(now_ms, n)

    def wait_ms(self, kind: Kind, n: int, now_ms: int) -> int | None:
        """Milliseconds until ``n`` tokens are there (None: never, ``n`` exceeds the burst)."""
        if n < 1:
            return 0
        if n > self.burst(kind):
            return None
        return self._buckets[kind].wait_ms(now_ms, n)

    def charge(self, kind: Kind, n: int, now_ms: int) -> None:
        """A cost learnt after the fact (cancel-all's one per order canceled): into debt if need be."""
        if n > 0:
            self._buckets[kind].debit(now_ms, n)

    def correct(self, kind: Kind, headers: RateLimitHeaders, now_ms: int) -> None:
        """Follow the venue's account of ``kind``'s bucket after one of its answers."""
        if headers.tier is not None and headers.tier != self.tier.name:
            self.tier_stale = True
        if headers.warning:
            self.warnings += 1
        if headers.remaining is not None:
            self._buckets[kind].cap_at(now_ms, headers.remaining)
