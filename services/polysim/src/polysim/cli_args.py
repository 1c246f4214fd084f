"""Command-line options of ``python -m polysim`` (and ``polybot sim``, which passes them through)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from polysim.config import SimConfig


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="polysim", description="A local Polymarket: Gamma, CLOB REST, websockets.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0 = any free port (printed on stdout)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--markets", type=int, default=20, help="number of generated markets")
    p.add_argument("--events", type=int, default=None, help="number of generated events (default markets/3)")
    p.add_argument("--active-books", type=int, default=None,
                   help="markets whose books move (default min(markets, 200)); the rest stay still")
    p.add_argument("--replay", type=Path, default=None, help="market-channel JSONL to replay")
    p.add_argument("--replay-speed", type=float, default=1.0)
    p.add_argument("--replay-loop", action="store_true")
    p.add_argument("--replay-delay-ms", type=int, default=0, help="pause before the first recorded event")
    p.add_argument("--catalog", type=Path, default=None, help="recorded Gamma /events or /markets JSON")
    p.add_argument("--start-ms", type=int, default=None, help="sim clock at start (default: wall clock)")
    p.add_argument("--starting-balance", type=Decimal, default=Decimal(10000))
    p.add_argument("--starting-shares", type=Decimal, default=Decimal(0),
                   help="shares of every token a new account holds")
    p.add_argument("--lp-rate", type=float, default=2.0, help="liquidity updates per active market per second")
    p.add_argument("--taker-rate", type=float, default=0.4, help="taker orders per active market per second")
    p.add_argument("--tick-ms", type=int, default=50)
    p.add_argument("--accept-v1-orders", action="store_true", help="accept V1-signed orders (py-clob-client 0.34.6)")
    p.add_argument("--no-rate-limits", action="store_true")
    p.add_argument("--ws-deflate", action="store_true", help="offer permessage-deflate on the websockets")
    p.add_argument("--ws-batch-max", type=int, default=1,
                   help="send a backlog of market events as JSON arrays of up to this many (default 1: one per frame)")
    p.add_argument("--v2-markets", type=int, default=0, help="generated markets that are Protocol V2 (spread out)")
    p.add_argument("--no-fine-ticks", action="store_true",
                   help="no generated market on the 2026 ticks 0.005 and 0.0025 (only 0.01 and 0.001)")
    p.add_argument("--fee-rate-bps", type=int, default=0, help="> 0: markets charge fees (Gamma feeSchedule)")
    p.add_argument("--gamma-legacy-max-offset", type=int, default=100,
                   help="legacy Gamma /markets and /events answer 422 past this offset (default 100)")
    p.add_argument("--september-2026", action="store_true",
                   help="market channel with the venue's 2026-09 habits (shared hashes per timestamp, ltp ahead, "
                        "spaced post-trade books)")
    p.add_argument("--log-level", default="warning")
    return p


def config_from_args(argv: Sequence[str] | None = None) -> tuple[SimConfig, str]:
    """The ``SimConfig`` and uvicorn log level for a command line."""
    a = build_parser().parse_args(argv)
    config = SimConfig(
        host=a.host, port=a.port, seed=a.seed, n_markets=a.markets, n_events=a.events, active_books=a.active_books,
        replay=a.replay, replay_speed=a.replay_speed, replay_loop=a.replay_loop,
        replay_delay_ms=a.replay_delay_ms, catalog=a.catalog,
        start_ms=a.start_ms, starting_balance=a.starting_balance, starting_shares=a.starting_shares,
        lp_rate_hz=a.lp_rate, taker_rate_hz=a.taker_rate, tick_ms=a.tick_ms, accept_v1_orders=a.accept_v1_orders,
        rate_limits=not a.no_rate_limits, ws_deflate=a.ws_deflate, ws_batch_max=a.ws_batch_max,
        v2_markets=a.v2_markets, fine_ticks=not a.no_fine_ticks, fee_rate_bps=a.fee_rate_bps,
        gamma_legacy_max_offset=a.gamma_legacy_max_offset, september_2026=a.september_2026,
    )
    return config, a.log_level
