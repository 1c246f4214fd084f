"""Settings of polysim's trading side (auth, order checks, heartbeats, paging, faults).

These are mutable on purpose: tests and the ``/_sim/*`` admin routes change them on a running simulator.
Values the engine also needs (chain id, starting balance, whether V1 orders are accepted) live on the engine's
``SimConfig`` and are read from there when present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class HttpFaults:
    """Injectable HTTP faults; all off by default.

    * ``latency_ms`` (+ uniform ``jitter_ms``) is added before every matching request is handled.
    * ``error_rate`` is the probability that a request is answered ``error_status`` without being handled;
      ``error_next`` forces that for the next N matching requests.
    * ``timeout_rate`` / ``timeout_next``: the request IS handled (an order is placed), then the answer is held
      for ``timeout_delay_s`` (past the client's timeout) or, with ``timeout_mode="drop"``, the connection is cut
      after the status line.
    * ``paths``: path prefixes the faults apply to (empty = every path except ``/_sim``).
    """

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    error_next: int = 0
    timeout_rate: float = 0.0
    timeout_next: int = 0
    timeout_delay_s: float = 30.0
    timeout_mode: str = "delay"  # "delay" | "drop"
    paths: list[str] = field(default_factory=list)
    seed: int | None = None

    def applies(self, path: str) -> bool:
        """Whether a path is subject to faults."""
        if path.startswith("/_sim"):
            return False
        return not self.paths or any(path.startswith(p) for p in self.paths)

    def active(self) -> bool:
        """Whether any fault is configured (fast path when none is)."""
        return bool(
            self.latency_ms or self.jitter_ms or self.error_rate or self.error_next
            or self.timeout_rate or self.timeout_next
        )


@dataclass
class TradingConfig:
    """Trading-side knobs with the venue's behaviour as defaults."""

    auth_window_s: float = 60.0  # how far POLY_TIMESTAMP may be from the server clock
    heartbeat_timeout_s: float = 10.0  # dead-man switch: cancel all after this long without a heartbeat
    orders_page_size: int = 100
    trades_page_size: int = 100
    max_batch_orders: int = 15  # POST /orders
    max_cancel_ids: int = 1000  # DELETE /orders (since 2026-06-15)
    # SDK market orders imply a price a few millionths off the grid; accept within this fraction of a tick.
    market_order_tick_tolerance: Decimal = Decimal("0.01")
    # signatureType 1/2: proxy or safe address (lower-case) -> the EOA (lower-case) allowed to sign for it.
    proxy_wallets: dict[str, str] = field(default_factory=dict)
    rate_limits_enabled: bool = True
    # New API users must trade through a deposit wallet: on, EOA / proxy / Safe makers are refused with the
    # venue's "maker address not allowed, please use the deposit wallet flow" (off: existing setups keep working).
    require_deposit_wallet: bool = False
    # GTD: the expiration must be at least this far ahead (the protocol note's 60 s; the docs' newest page says
    # 3 minutes, which the unified SDK enforces on its side), and the order leaves the book this long before its
    # stated expiration (the documented one-minute security threshold: lifetime N needs now + 60 + N).
    gtd_min_ahead_s: float = 60.0
    gtd_security_threshold_s: float = 60.0
    user_ws_silent: bool = False  # fault: the user channel pushes nothing but still answers PING
    # How trade events spell their match time: "match_time" (the recordings), "matchtime" (also seen in 2026),
    # or "mixed" (MATCHED events say matchtime, the later ones match_time): a client must read both.
    user_ws_match_time_key: str = "match_time"
    faults: HttpFaults = field(default_factory=HttpFaults)
