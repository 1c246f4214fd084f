"""``polybot sim``: run polysim, the local Polymarket (Gamma, CLOB REST, websockets, matching).

The simulator is its own package; this command only replaces the process with ``python -m polysim`` and the
given options (the CLI never imports it, keeping the layers clean). Ready when ``GET /time`` answers.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

from polybot.cli import flags
from polybot.cli.failures import CliError, describe, echo
from polybot.cli.files import readable_file

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
_COUNT = 1_000_000  # more generated markets than any machine holds
_MS = 10**15  # ~31 000 years of milliseconds
_RATE = 10_000.0  # events per market per second

# (option, value converter or None for a flag, help). Kept in step with polysim.cli_args (a test checks it).
OPTIONS: tuple[tuple[str, Callable[[str], Any] | None, str], ...] = (
    ("--host", flags.word(), "interface to listen on (default 127.0.0.1)"),
    ("--port", flags.integer(0, 65_535), "port (default 8080; 0 = any free port, printed on stdout)"),
    ("--seed", flags.integer(-(2**63), 2**63 - 1), "random seed of markets and flow (default 1)"),
    ("--markets", flags.integer(1, _COUNT), "number of generated markets (default 20)"),
    ("--events", flags.integer(1, _COUNT), "number of generated events (default markets/3)"),
    ("--active-books", flags.integer(0, _COUNT), "markets whose books move (default min(markets, 200))"),
    ("--replay", str, "market-channel JSONL to replay instead of the random flow"),
    ("--replay-speed", flags.real(0, 1e6, above=True), "replay speed factor"),
    ("--replay-loop", None, "start the replay over when it ends"),
    ("--replay-delay-ms", flags.integer(0, _MS), "pause before the first recorded event"),
    ("--catalog", str, "recorded Gamma /events or /markets JSON to load markets from"),
    ("--start-ms", flags.integer(0, _MS), "sim clock at start (default: wall clock)"),
    ("--starting-balance", flags.amount(), "USDC of a new account (default 10000)"),
    ("--starting-shares", flags.amount(), "shares of every token a new account holds (default 0)"),
    ("--lp-rate", flags.real(0, _RATE), "liquidity updates per active market per second"),
    ("--taker-rate", flags.real(0, _RATE), "taker orders per active market per second"),
    ("--tick-ms", flags.integer(1, _MS), "how often the simulated market advances"),
    ("--accept-v1-orders", None, "accept V1-signed orders (py-clob-client 0.34.6)"),
    ("--no-rate-limits", None, "turn the venue's rate limits off"),
    ("--log-level", flags.word(LOG_LEVELS), "uvicorn log level (default warning)"),
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


def _check_listen(host: str, port: int) -> None:
    """Refuse, before polysim starts, an address it could not listen on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:  # UnicodeError: a label over 63 characters (IDNA)
        reason = describe(exc) if isinstance(exc, socket.gaierror) else "not a valid host name"
        raise CliError(f"cannot listen on --host {echo(host)}: {reason}; give an address of this machine "
                       f"(127.0.0.1 or 0.0.0.0)") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            what = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({describe(exc)})"
            raise CliError(f"port {port} on {host} {what}: stop what holds it, or pass another --port "
                           f"(0 picks a free one)") from None


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("polysim") is None:
        raise CliError("polysim is not installed in this environment (uv sync --all-packages)")
    if args.replay is not None:
        readable_file(args.replay, "--replay recording")
    if args.catalog is not None:
        readable_file(args.catalog, "--catalog file")
    host = args.host or "127.0.0.1"
    port = 8080 if args.port is None else args.port
    _check_listen(host, port)  # port 0: the host alone
    argv = [sys.executable, "-m", "polysim", *polysim_argv(args)]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
    return 0  # not reached
