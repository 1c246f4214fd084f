"""A market-channel websocket that replays prepared frames as fast as its client reads them (for bench/ingest.py).

    python bench/ws_feed.py <frames.jsonl> <port>

Speaks the part of the protocol the ingestor's client needs: it waits for the subscription message, answers
text ``PING`` with ``PONG``, sends the file's first line (the initial book dump), then every other line,
then keeps the connection open. Prints ``ready`` once listening. A separate process, as the venue is: its
CPU is not the ingestor's.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve


async def main(frames: list[str], port: int) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.recv()  # the subscription
        pongs = asyncio.create_task(_answer_pings(ws))
        try:
            for frame in frames:
                await ws.send(frame)
            await ws.wait_closed()
        finally:
            pongs.cancel()

    async with serve(handler, "127.0.0.1", port, max_size=None, compression=None, ping_interval=None):
        print("ready", flush=True)
        await asyncio.Future()


async def _answer_pings(ws: ServerConnection) -> None:
    async for message in ws:
        if message == "PING":
            await ws.send("PONG")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]).read_text().splitlines(), int(sys.argv[2])))
