"""``python -m polysim --host 127.0.0.1 --port 8080 --seed 1 --markets 20 [--replay FILE] …``

Prints one JSON line ``{"polysim": "listening", "url": ...}`` on stdout once the server accepts connections
(useful with ``--port 0``), then serves until SIGINT/SIGTERM, and exits 0 after a graceful shutdown.

``polybot sim`` replaces itself with this process, so a start that cannot be made (a ``--catalog`` or
``--replay`` file polysim cannot load, an address it cannot listen on) follows the CLI's rule: one line on
stderr, ``error: <what was wrong>: <what to do>``, exit 2, no traceback.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from polysim.app import build_app
from polysim.cli_args import config_from_args
from polysim.config import SimConfig
from polysim.context import SimContext, build_context
from polysim.server import QuietServer, start, uvicorn_config

EXIT_ERROR = 2
_REASON_MAX = 300  # characters of an exception's text in the one line


IS_WINDOWS = sys.platform == "win32"  # polysim stands alone: polybot.runtime.platform decides the same way


def stop_on_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
    """``stop`` on SIGINT/SIGTERM, and on Ctrl-Break on Windows (how ``polybot up`` asks a child there), whose
    event loops have no ``add_signal_handler``: a plain handler hands the stop to the loop instead."""
    if not IS_WINDOWS:
        try:
            for posix_sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(posix_sig, stop)
            return
        except (NotImplementedError, RuntimeError):
            pass
    brk: int | None = getattr(signal, "SIGBREAK", None)
    sigs: list[int] = [signal.SIGINT, signal.SIGTERM, *([brk] if IS_WINDOWS and brk is not None else [])]
    for sig in sigs:
        signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop))


class StartupError(Exception):
    """polysim cannot start as asked; the message is the whole line a person reads."""


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    text = text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"
    return f"{type(exc).__name__}: {text}"


def _context(config: SimConfig) -> SimContext:
    try:
        return build_context(config)
    except Exception as exc:  # a recorded file polysim cannot take: say which, in one line
        given = [(flag, path, want) for flag, path, want in _file_flags(config) if path is not None]
        if not given:
            raise
        files = " and ".join(f"--{flag} {path}" for flag, path, _ in given)
        wants = " and ".join(f"{want} (--{flag})" if len(given) > 1 else want for flag, _, want in given)
        raise StartupError(f"cannot load {files}: {_reason(exc)}: give {wants}") from exc


def _file_flags(config: SimConfig) -> tuple[tuple[str, Path | None, str], ...]:
    return (("catalog", config.catalog, "a recorded Gamma /events or /markets JSON"),
            ("replay", config.replay, "a market-channel JSONL recording"))


def _listen(host: str, port: int) -> socket.socket:
    """The listening address, bound before uvicorn is given it, so that a port in use is one plain line."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as exc:  # UnicodeError: a label over 63 characters (IDNA)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a valid host name"
        raise StartupError(f"cannot listen on --host {host[:60]!r}: {reason}: give an address of this "
                           f"machine (127.0.0.1 or 0.0.0.0)") from exc
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)  # held from now on: nothing else can take the port before uvicorn serves on it
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host} port {port}: {exc.strerror or exc}: stop what holds it, or "
                           f"pass another --port (0 picks a free one)") from exc
    return sock


async def serve(argv: Sequence[str] | None = None) -> None:
    config, log_level = config_from_args(argv)
    ctx = _context(config)
    sock = _listen(config.host, config.port)
    server = QuietServer(uvicorn_config(build_app(ctx), config.host, config.port, log_level, config.ws_deflate))
    # a graceful stop that exits 0, not by re-raising the signal
    stop_on_signals(asyncio.get_running_loop(), lambda: setattr(server, "should_exit", True))
    task, port = await start(server, [sock])
    print(json.dumps({"polysim": "listening", "url": f"http://{config.host}:{port}",
                      "markets": len(ctx.catalog.markets), "seed": config.seed}), flush=True)
    await task


def main(argv: Sequence[str] | None = None) -> int:
    try:
        asyncio.run(serve(argv))
    except KeyboardInterrupt:
        return 130
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
