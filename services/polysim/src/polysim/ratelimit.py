"""Sliding-window rate limits per endpoint, with the venue's documented limits as the default table.

Protocol note §4.4: windows are sliding; several rules can apply to one request (the global limit, the CLOB
general limit, the endpoint's own burst and sustained limits) and the request is refused (429
``{"error": "Too Many Requests"}``) when any of them is full. Counting is per caller: the API key when the
request carries one, else the client address. A refused request does not consume capacity.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

TOO_MANY_REQUESTS = "Too Many Requests"


@dataclass(frozen=True, slots=True)
class RateRule:
    """``limit`` requests per ``window_s`` for requests matching (method, path)."""

    name: str
    path: str
    limit: int
    window_s: float
    method: str | None = None  # None = any method
    match: Literal["exact", "prefix"] = "exact"
    also: tuple[str, ...] = ()  # more exact paths sharing this rule's counter

    def applies(self, method: str, path: str) -> bool:
        """Whether this rule counts a request."""
        if self.method is not None and self.method != method:
            return False
        if self.match == "prefix":
            return path.startswith(self.path)
        return path == self.path or path in self.also


def default_rules() -> list[RateRule]:
    """The documented CLOB and Gamma limits (docs.polymarket.com/api-reference/rate-limits)."""
    ten = 10.0
    rules = [
        RateRule("global", "/", 15_000, ten, match="prefix"),
        RateRule("ok", "/ok", 100, ten),
        RateRule("balance-allowance", "/balance-allowance", 200, ten, method="GET"),
        RateRule("balance-allowance-update", "/balance-allowance/update", 50, ten),
        RateRule("book", "/book", 1_500, ten),
        RateRule("books", "/books", 500, ten),
        RateRule("price", "/price", 1_500, ten),
        RateRule("prices", "/prices", 500, ten),
        RateRule("midpoint", "/midpoint", 1_500, ten),
        RateRule("midpoints", "/midpoints", 500, ten),
        RateRule("prices-history", "/prices-history", 1_000, ten),
        RateRule("tick-size", "/tick-size", 200, ten),
        RateRule("data-orders", "/data/orders", 500, ten),
        RateRule("data-trades", "/data/trades", 500, ten),
        RateRule("notifications", "/notifications", 125, ten),
        RateRule("api-keys", "/auth/", 100, ten, match="prefix"),
        RateRule("post-order-burst", "/order", 3_500, ten, method="POST"),
        RateRule("post-order-sustained", "/order", 36_000, 600.0, method="POST"),
        RateRule("delete-order-burst", "/order", 3_000, ten, method="DELETE"),
        RateRule("delete-order-sustained", "/order", 30_000, 600.0, method="DELETE"),
        RateRule("post-orders-burst", "/orders", 1_000, ten, method="POST"),
        RateRule("post-orders-sustained", "/orders", 15_000, 600.0, method="POST"),
        RateRule("gamma-general", "/gamma/", 4_000, ten, match="prefix"),
        # The keyset listings replace the legacy ones and count against the same limits.
        RateRule("gamma-events", "/gamma/events", 500, ten, also=("/gamma/events/keyset",)),
        RateRule("gamma-markets", "/gamma/markets", 300, ten, also=("/gamma/markets/keyset",)),
        RateRule("gamma-public-search", "/gamma/public-search", 350, ten),
    ]
    # The CLOB "general" row covers everything that is not Gamma; express it as a prefix rule per route family
    # would be brittle, so it is a catch-all that Gamma paths skip (see RateLimiter.check).
    rules.append(RateRule("clob-general", "/", 9_000, ten, match="prefix"))
    return rules


@dataclass
class RateLimiter:
    """Sliding-window counters; ``check`` admits or refuses one request at time ``now_s`` (monotonic)."""

    rules: list[RateRule] = field(default_factory=default_rules)
    enabled: bool = True
    _hits: dict[tuple[str, str], deque[float]] = field(default_factory=dict)

    def set_limit(self, name: str, limit: int, window_s: float | None = None) -> None:
        """Change one rule's limit (and optionally window); counters are kept."""
        for i, rule in enumerate(self.rules):
            if rule.name == name:
                self.rules[i] = replace(rule, limit=limit, window_s=window_s or rule.window_s)
                return
        raise KeyError(name)

    def replace_rules(self, rules: Iterable[RateRule]) -> None:
        """Install a new rule table and forget all counters."""
        self.rules = list(rules)
        self._hits.clear()

    def _applicable(self, method: str, path: str) -> list[RateRule]:
        gamma = path.startswith("/gamma/")
        return [
            r for r in self.rules if r.applies(method, path) and not (gamma and r.name == "clob-general")
        ]

    def check(self, caller: str, method: str, path: str, now_s: float) -> str | None:
        """Record the request and return None when admitted, else the name of the full rule."""
        if not self.enabled:
            return None
        rules = self._applicable(method, path)
        windows: list[deque[float]] = []
        for rule in rules:
            hits = self._hits.setdefault((rule.name, caller), deque())
            horizon = now_s - rule.window_s
            while hits and hits[0] <= horizon:
                hits.popleft()
            if len(hits) >= rule.limit:
                return rule.name
            windows.append(hits)
        for hits in windows:
            hits.append(now_s)
        return None

    def reset(self) -> None:
        """Forget every counter."""
        self._hits.clear()
