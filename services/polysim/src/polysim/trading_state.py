"""The trading side's state for one simulator: credentials, heartbeats, rate limits, restarts, fault settings.

It hangs off the engine's ``SimContext`` (``state_of(ctx)``), created on first use, so the engine side never
has to know about it. Chain id, V1 acceptance and the seed are read from ``ctx.config`` when it has them.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
import weakref
from typing import Any

from polysim.auth import CredentialStore
from polysim.engine_restart import EngineRestart
from polysim.exchange_api import ExchangeApi
from polysim.heartbeat import HeartbeatMonitor
from polysim.ratelimit import RateLimiter
from polysim.signer_limits import SignerLimiter
from polysim.trading_config import TradingConfig


def wall_ms() -> int:
    """Wall-clock milliseconds (clients sign with their wall clock, so auth windows use it too)."""
    return time.time_ns() // 1_000_000


def ctx_now_ms(ctx: Any) -> int:
    """The simulator's notion of now in ms: ``ctx.clock`` when the engine provides one, else wall time."""
    clock = getattr(ctx, "clock", None)
    if clock is None:
        return wall_ms()
    now_ms = getattr(clock, "now_ms", None)
    if now_ms is not None:
        return int(now_ms() if callable(now_ms) else now_ms)
    if callable(clock):
        return int(clock())
    return wall_ms()


def _config_value(ctx: Any, name: str, default: Any) -> Any:
    config = getattr(ctx, "config", None)
    value = getattr(config, name, None) if config is not None else None
    return default if value is None else value


class TradingState:
    """Everything the private routes, the user channel and the fault middleware share."""

    def __init__(self, ctx: Any, config: TradingConfig | None = None) -> None:
        self.ctx = ctx
        self.exchange: ExchangeApi = ctx.exchange
        self.config = config or TradingConfig(rate_limits_enabled=bool(_config_value(ctx, "rate_limits", True)))
        seed = _config_value(ctx, "seed", None)
        # A seeded simulator hands out the same credentials after a restart; an unseeded one random ones.
        secret = hashlib.sha256(f"polysim-creds:{seed}".encode()).digest() if seed is not None else os.urandom(32)
        self.chain_id: int = int(_config_value(ctx, "chain_id", 137))
        self.creds = CredentialStore(secret, self.chain_id, lambda: self.config.auth_window_s)
        self.heartbeats = HeartbeatMonitor(
            self.exchange, lambda: self.config.heartbeat_timeout_s, lambda: ctx_now_ms(ctx)
        )
        self.limiter = RateLimiter()
        self.signer_limits = SignerLimiter()  # per-signer order / cancel token buckets (off with rate limits)
        self.restart = EngineRestart()  # the scheduled matching-engine restart fault
        self.fault_rng = random.Random(seed)

    @property
    def accept_v1_orders(self) -> bool:
        """Whether V1-signed orders (py-clob-client 0.34.6) are accepted (engine config flag)."""
        return bool(_config_value(self.ctx, "accept_v1_orders", False))

    def now_ms(self) -> int:
        """The engine's clock."""
        return ctx_now_ms(self.ctx)

    def wall_s(self) -> float:
        """Wall-clock seconds for auth freshness."""
        return time.time()

    def close(self) -> None:
        """Stop timers (simulator shutdown)."""
        self.heartbeats.close()


_states: weakref.WeakKeyDictionary[Any, TradingState] = weakref.WeakKeyDictionary()
_states_by_id: dict[int, tuple[Any, TradingState]] = {}


def state_of(ctx: Any) -> TradingState:
    """The ``TradingState`` of a simulator context, created on first use."""
    try:
        state = _states.get(ctx)
        if state is None:
            state = _states[ctx] = TradingState(ctx)
        return state
    except TypeError:
        # Contexts that cannot be weakly referenced (slotted dataclasses) are kept alive with their state.
        entry = _states_by_id.get(id(ctx))
        if entry is None or entry[0] is not ctx:
            entry = _states_by_id[id(ctx)] = (ctx, TradingState(ctx))
        return entry[1]
