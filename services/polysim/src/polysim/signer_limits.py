"""The venue's per-signer order and cancel token buckets (since 2026-07-24; docs "CLOB Trading Rate Limits").

Each signer address (the address of the API credentials) has an order bucket and a cancel bucket; tokens
refill continuously at the tier's rate up to its burst. Costs: ``POST /order`` 1, ``POST /orders`` the number
of orders, ``DELETE /order`` 1, ``DELETE /orders`` the number of ids, ``DELETE /cancel-all`` and
``DELETE /cancel-market-orders`` 1 up front and then one more per order actually canceled — for the tiers
that allow it this second debit may leave the bucket negative (later cancels wait until it covers them); the
others floor it at zero. A request is admitted only when the bucket holds its whole cost (a batch is refused
whole, nothing processed); a cost above the burst is never admitted (split it).

Headers on every evaluated request: ``Poly-RateLimit-Remaining`` (tokens left after accounting, an integer,
may be negative), ``Poly-RateLimit-Reset`` (Unix seconds when the current wait ends: now for an admitted
request, when enough tokens will be there for a refused one whose cost fits the burst), ``Poly-RateLimit-Tier``
(the tier's name in lower case, as the SDKs' own tests spell it); a 429 carries ``Retry-After`` (whole seconds)
unless its cost exceeds the burst. ``mode`` ``warn`` is the venue's July 2026 warning period: nothing is refused,
a request that would have been gets ``Poly-RateLimit-Warning: true`` and is not charged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

Bucket = Literal["order", "cancel"]
Mode = Literal["enforce", "warn", "off"]
MODES: tuple[Mode, ...] = ("enforce", "warn", "off")


@dataclass(frozen=True, slots=True)
class Tier:
    """One volume tier: refill rates (tokens per second) and bursts of both buckets."""

    name: str
    order_rate: float
    order_burst: int
    cancel_rate: float
    cancel_burst: int
    negative_cancel: bool  # whether cancel-all / cancel-market-orders may leave the cancel bucket in debt

    def rate(self, bucket: Bucket) -> float:
        return self.order_rate if bucket == "order" else self.cancel_rate

    def burst(self, bucket: Bucket) -> int:
        return self.order_burst if bucket == "order" else self.cancel_burst


# The documented table (30-day maker volume: none, $30k, $50k, $100k, $500k, $2.5M, $5M, $10M).
TIERS: dict[str, Tier] = {
    t.name: t
    for t in (
        Tier("standard", 40, 60, 80, 120, True),
        Tier("copper", 60, 90, 120, 180, True),
        Tier("bronze", 80, 120, 160, 240, True),
        Tier("silver", 200, 300, 400, 600, True),
        Tier("gold", 400, 600, 800, 1200, True),
        Tier("platinum", 450, 675, 900, 1350, False),
        Tier("diamond", 525, 787, 1050, 1575, False),
        Tier("elite", 600, 900, 1200, 1800, False),
    )
}


# The 30-day maker volume (USDC) each tier starts at, in the table's order: ``next_tier_threshold`` of the tier
# endpoint is the next one's.
VOLUME_THRESHOLDS: dict[str, int] = {
    "standard": 0, "copper": 30_000, "bronze": 50_000, "silver": 100_000, "gold": 500_000,
    "platinum": 2_500_000, "diamond": 5_000_000, "elite": 10_000_000,
}


def next_tier_threshold(name: str) -> int | None:
    """The volume of the tier above ``name`` (None at the top, or for a tier outside the documented table)."""
    names = list(VOLUME_THRESHOLDS)
    if name not in VOLUME_THRESHOLDS or names.index(name) == len(names) - 1:
        return None
    return VOLUME_THRESHOLDS[names[names.index(name) + 1]]


@dataclass(slots=True)
class TokenBucket:
    tokens: float
    updated_s: float

    def refill(self, rate: float, burst: int, now_s: float) -> None:
        if now_s > self.updated_s:
            self.tokens = min(float(burst), self.tokens + (now_s - self.updated_s) * rate)
            self.updated_s = now_s


@dataclass(frozen=True, slots=True)
class Verdict:
    """The limiter's answer for one request: admitted or not, and the headers to send either way."""

    admitted: bool
    headers: dict[str, str]
    retry_after_s: int | None = None  # a refused request whose cost fits the burst


@dataclass
class SignerLimiter:
    """Order and cancel buckets of every signer; tiers per signer, the default for the others."""

    mode: Mode = "enforce"
    default_tier: str = "standard"
    signer_tiers: dict[str, str] = field(default_factory=dict)  # lower-case signer address -> tier name
    tiers: dict[str, Tier] = field(default_factory=lambda: dict(TIERS))
    _buckets: dict[tuple[str, Bucket], TokenBucket] = field(default_factory=dict)

    def tier_of(self, signer: str) -> Tier:
        return self.tiers[self.signer_tiers.get(signer.lower(), self.default_tier)]

    def set_tier_figures(self, name: str, figures: dict[str, float]) -> None:
        """Change a tier's rates or bursts (drills: a tiny bucket); KeyError / ValueError when unknown."""
        tier = self.tiers[name]
        allowed = {"order_rate", "order_burst", "cancel_rate", "cancel_burst", "negative_cancel"}
        unknown = set(figures) - allowed
        if unknown:
            raise ValueError(f"unknown tier figures {sorted(unknown)}")
        changes: dict[str, object] = {
            k: (bool(v) if k == "negative_cancel" else int(v) if k.endswith("burst") else float(v))
            for k, v in figures.items()
        }
        self.tiers[name] = replace(tier, **changes)  # type: ignore[arg-type]

    def reset(self) -> None:
        """Every bucket full again."""
        self._buckets.clear()

    def _bucket(self, signer: str, bucket: Bucket, tier: Tier, now_s: float) -> TokenBucket:
        key = (signer.lower(), bucket)
        state = self._buckets.get(key)
        if state is None:
            state = self._buckets[key] = TokenBucket(float(tier.burst(bucket)), now_s)
        state.refill(tier.rate(bucket), tier.burst(bucket), now_s)
        return state

    def _headers(self, tier: Tier, tokens: float, reset_s: float, warning: bool) -> dict[str, str]:
        headers = {
            "Poly-RateLimit-Remaining": str(math.floor(tokens + 1e-9)),
            "Poly-RateLimit-Reset": str(math.ceil(reset_s)),
            "Poly-RateLimit-Tier": tier.name,
        }
        if warning:
            headers["Poly-RateLimit-Warning"] = "true"
        return headers

    def admit(self, signer: str, bucket: Bucket, cost: int, now_s: float) -> Verdict | None:
        """Charge ``cost`` tokens (None when the limiter is off)."""
        if self.mode == "off":
            return None
        tier = self.tier_of(signer)
        state = self._bucket(signer, bucket, tier, now_s)
        if state.tokens + 1e-9 >= cost:
            state.tokens -= cost
            return Verdict(True, self._headers(tier, state.tokens, now_s, False))
        rate = tier.rate(bucket)
        fits = cost <= tier.burst(bucket) and rate > 0
        wait_s = (cost - state.tokens) / rate if fits else 0.0
        if self.mode == "warn":
            return Verdict(True, self._headers(tier, state.tokens, now_s, True))
        retry = max(1, math.ceil(wait_s)) if fits else None
        return Verdict(False, self._headers(tier, state.tokens, now_s + wait_s, False), retry)

    def charge_after(self, signer: str, count: int, now_s: float, verdict: Verdict) -> Verdict:
        """The second debit of a cancel-all / cancel-market-orders: one cancel token per order canceled."""
        if self.mode == "off" or count <= 0:
            return verdict
        tier = self.tier_of(signer)
        state = self._bucket(signer, "cancel", tier, now_s)
        state.tokens -= count
        if not tier.negative_cancel:
            state.tokens = max(0.0, state.tokens)
        warning = verdict.headers.get("Poly-RateLimit-Warning") == "true"
        return Verdict(True, self._headers(tier, state.tokens, now_s, warning))

    def snapshot(self) -> dict[str, object]:
        """Settings and tiers, for the admin route."""
        return {
            "mode": self.mode,
            "default_tier": self.default_tier,
            "signer_tiers": dict(self.signer_tiers),
            "tiers": {
                t.name: {"order_rate": t.order_rate, "order_burst": t.order_burst, "cancel_rate": t.cancel_rate,
                         "cancel_burst": t.cancel_burst, "negative_cancel": t.negative_cancel}
                for t in self.tiers.values()
            },
        }
