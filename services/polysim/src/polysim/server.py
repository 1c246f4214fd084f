"""Serving a simulator with uvicorn: in the current event loop (tests) or as the process's main loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI


class QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the host process's signal handlers alone (it runs inside a test)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def uvicorn_config(app: FastAPI, host: str, port: int, log_level: str = "warning",
                   deflate: bool = False) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on", access_log=False,
                          ws="websockets-sansio", ws_ping_interval=None, ws_max_size=16 * 1024 * 1024,
                          ws_per_message_deflate=deflate)


async def start(server: uvicorn.Server, sockets: list[socket.socket] | None = None) -> tuple[asyncio.Task[None], int]:
    """Start ``server`` in this loop (on ``sockets``, bound already, if given); returns its task and the bound
    port once it accepts connections."""
    task = asyncio.create_task(server.serve(sockets))
    while not server.started:
        if task.done():
            task.result()  # raises the startup error
            raise RuntimeError("polysim server stopped during startup")
        await asyncio.sleep(0.002)
    sockets = [s for srv in server.servers for s in srv.sockets]
    return task, int(sockets[0].getsockname()[1])


async def stop(server: uvicorn.Server, task: asyncio.Task[None], timeout_s: float = 5.0) -> None:
    server.should_exit = True
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout_s)
    except TimeoutError:
        server.force_exit = True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
