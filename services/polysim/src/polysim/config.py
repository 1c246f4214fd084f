"""The simulator's settings: one ``SimConfig`` built from the command line (or test overrides).

Values shared with the trading side (chain id, starting balance, V1 acceptance, seed, rate limits) live here
and are read by it through ``SimContext.config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path


@dataclass
class SimConfig:
    """Everything that shapes one simulator run. Same values (and ``start_ms``) → same market stream."""

    host: str = "127.0.0.1"
    port: int = 8080
    seed: int = 1
    n_markets: int = 20
    n_events: int | None = None  # default: about a third of the markets (binary and neg-risk events)
    active_books: int | None = None  # markets whose books move; default min(n_markets, 200)
    starting_balance: Decimal = Decimal(10000)  # USDC of a new account
    starting_shares: Decimal = Decimal(0)  # shares of every token a new account holds (lets a maker sell)
    chain_id: int = 137
    accept_v1_orders: bool = False
    rate_limits: bool = True
    start_ms: int | None = None  # sim clock at start; None = wall clock
    replay: Path | None = None  # market-channel JSONL to replay instead of the random process
    replay_speed: float = 1.0
    replay_loop: bool = False
    replay_delay_ms: int = 0  # wait this long after start before the first recorded event (lets clients connect)
    catalog: Path | None = None  # recorded Gamma /events or /markets JSON to load markets from
    lp_rate_hz: float = 2.0  # background liquidity updates per active market per second
    taker_rate_hz: float = 0.4  # background taker orders per active market per second
    jump_rate_hz: float = 1 / 120  # fair-value jumps per market per second
    tick_ms: int = 50  # how often the background process is advanced in real time
    mined_delay_ms: int = 1500  # trade MATCHED → MINED
    confirmed_delay_ms: int = 3000  # trade MATCHED → CONFIRMED (total, after MINED)
    max_assets_per_socket: int = 500
    max_ids_per_frame: int = 1000  # a subscription frame listing more gets the socket closed (1009)
    fine_ticks: bool = True  # some generated markets on the 2026 ticks 0.005 and 0.0025 (see catalog)
    ws_deflate: bool = False  # permessage-deflate on the websockets (costs server CPU per frame)
    ws_batch_max: int = 1  # >1: a backlog of market events goes out as JSON arrays of up to this many
    fee_rate_bps: int = 0  # > 0: Gamma markets show feesEnabled and a feeSchedule with this taker rate
    min_order_size: Decimal = Decimal(5)
    v2_markets: int = 0  # generated markets (spread out) that are Protocol V2 ("version": "v2")
    # Legacy Gamma /markets and /events refuse a larger offset (422); small so tests meet it.
    gamma_legacy_max_offset: int = 100
    # The market channel's September 2026 habits (``wire_september``): hashes shared by the frames of a
    # timestamp, ltps ahead of the stream, post-trade books in another spelling. Off: the 2026-05 stream.
    september_2026: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def events_count(self) -> int:
        """How many events the generated catalog has."""
        if self.n_events is not None:
            return max(1, min(self.n_events, self.n_markets))
        return max(1, self.n_markets // 3)

    def active_count(self) -> int:
        """How many markets run the background price process."""
        if self.active_books is not None:
            return max(0, min(self.active_books, self.n_markets))
        return min(self.n_markets, 200)
