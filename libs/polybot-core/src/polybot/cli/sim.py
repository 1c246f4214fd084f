"""``polybot sim``: run polysim, the local Polymarket (Gamma, CLOB REST, websockets, matching).

The simulator is its own package; this command only replaces the process with ``python -m polysim`` and the
given options (the CLI never imports it, keeping the layers clean). Ready when ``GET /time`` answers.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from typing import Any

from polybot.cli.main import CliError

# (option, value type or None for a flag, help). Kept in step with polysim.cli_args (a test checks it).
OPTIONS: tuple[tuple[str, type | None, str], ...] = (
    ("--host", str, "interface to listen on (default 127.0.0.1)"),
    ("--port", int, "port (default 8080; 0 = any free port, printed on stdout)"),
    ("--seed", int, "random seed of markets and flow (default 1)"),
    ("--markets", int, "number of generated markets (default 20)"),
    ("--events", int, "number of generated events (default markets/3)"),
    ("--active-books", int, "markets whose books move (default min(markets, 200))"),
    ("--replay", str, "market-channel JSONL to replay instead of the random flow"),
    ("--replay-speed", float, "replay speed factor"),
    ("--replay-loop", None, "start the replay over when it ends"),
    ("--replay-delay-ms", int, "pause before the first recorded event"),
    ("--catalog", str, "recorded Gamma /events or /markets JSON to load markets from"),
    ("--start-ms", int, "sim clock at start (default: wall clock)"),
    ("--starting-balance", str, "USDC of a new account (default 10000)"),
    ("--starting-shares", str, "shares of every token a new account holds (default 0)"),
    ("--lp-rate", float, "liquidity updates per active market per second"),
    ("--taker-rate", float, "taker orders per active market per second"),
    ("--tick-ms", int, "how often the simulated market advances"),
    ("--accept-v1-orders", None, "accept V1-signed orders (py-clob-client 0.34.6)"),
    ("--no-rate-limits", None, "turn the venue's rate limits off"),
    ("--log-level", str, "uvicorn log level (default warning)"),
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("sim", help="run polysim, a local Polymarket, until Ctrl-C")
    for option, kind, text in OPTIONS:
        if kind is None:
            p.add_argument(option, action="store_true", help=text)
        else:
            p.add_argument(option, type=kind, default=None, help=text)
    p.set_defaults(handler=run)


def polysim_argv(args: argparse.Namespace) -> list[str]:
    """The ``python -m polysim`` arguments for the options given on the command line."""
    argv: list[str] = []
    for option, kind, _ in OPTIONS:
        value = getattr(args, option.lstrip("-").replace("-", "_"))
        if kind is None:
            if value:
                argv.append(option)
        elif value is not None:
            argv += [option, str(value)]
    return argv


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("polysim") is None:
        raise CliError("polysim is not installed in this environment (uv sync --all-packages)")
    argv = [sys.executable, "-m", "polysim", *polysim_argv(args)]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
    return 0  # not reached
