"""``python -m polysim --host 127.0.0.1 --port 8080 --seed 1 --markets 20 [--replay FILE] …``

Prints one JSON line ``{"polysim": "listening", "url": ...}`` on stdout once the server accepts connections
(useful with ``--port 0``), then serves until SIGINT/SIGTERM, and exits 0 after a graceful shutdown.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Sequence

from polysim.app import build_app
from polysim.cli_args import config_from_args
from polysim.context import build_context
from polysim.server import QuietServer, start, uvicorn_config


async def serve(argv: Sequence[str] | None = None) -> None:
    config, log_level = config_from_args(argv)
    ctx = build_context(config)
    server = QuietServer(uvicorn_config(build_app(ctx), config.host, config.port, log_level, config.ws_deflate))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # a graceful stop that exits 0, not by re-raising the signal
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    task, port = await start(server)
    print(json.dumps({"polysim": "listening", "url": f"http://{config.host}:{port}",
                      "markets": len(ctx.catalog.markets), "seed": config.seed}), flush=True)
    await task


def main(argv: Sequence[str] | None = None) -> int:
    try:
        asyncio.run(serve(argv))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
