"""The market channel ``/ws/market``: subscriptions, the initial dump, fan-out, PING/PONG, faults.

Protocol (the venue's): the client's first message is ``{"assets_ids": [...], "type": "market",
"custom_feature_enabled": bool}``; the answer is one JSON array with a ``book`` per known asset, then the
live events. ``{"assets_ids": [...], "operation": "subscribe"|"unsubscribe"}`` changes the set later (a
subscribe is answered with the new assets' books). At most ``max_assets_per_socket`` assets per connection:
beyond that the server answers an error and closes. Text ``PING`` is answered ``PONG`` (even while the
silent-socket fault holds back market data). The ``inject_frames`` chaos drill (``MarketHub.inject``) puts raw
texts in every socket's queue, between the real events, exactly as given.

Gated like the venue in 2026: ``best_bid_ask``, ``new_market`` and ``market_resolved`` only with
``custom_feature_enabled: true``; a ``PING`` before the first subscription is closed with 1008; a frame
listing more than ``max_ids_per_frame`` ids gets the socket closed (1009); ``level`` must be 1–3; and a
subscription without an explicit ``initial_dump: true`` loses the books of some assets once it is large
(every tenth past the first 100: the "some assets never got a book at scale" of 2026), ``initial_dump:
false`` sends none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from polysim.market_wire import MarketMessage

if TYPE_CHECKING:
    from polysim.context import SimContext

_QUEUE_LIMIT = 50_000  # a client this far behind is cut off, as the venue would


class RawFrame(str):
    """A text injected by the ``inject_frames`` chaos drill: sent exactly as given, never batched."""

    __slots__ = ()


class MarketSubscriber:
    __slots__ = ("assets", "close_code", "closing", "custom", "queue", "subscribed", "ws")

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.assets: set[str] = set()
        self.custom = False
        self.subscribed = False
        self.close_code = 1011
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.closing = False

    def push(self, text: str) -> None:
        if self.closing:
            return
        if self.queue.qsize() >= _QUEUE_LIMIT:
            self.close()
            return
        self.queue.put_nowait(text)

    def close(self, code: int = 1011) -> None:
        if not self.closing:
            self.closing = True
            self.close_code = code
            self.queue.put_nowait(None)


class MarketHub:
    """Fans the engine's market messages out to subscribers of their assets."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.by_asset: dict[str, set[MarketSubscriber]] = {}
        self.subscribers: set[MarketSubscriber] = set()
        self.sent = 0
        ctx.engine.wire.sinks.append(self.on_message)

    def on_message(self, message: MarketMessage) -> None:
        if not self.subscribers:
            return
        faults = self.ctx.engine.faults
        if faults.silent_until_ms and faults.silent(self.ctx.clock.now_ms()):
            return
        targets: dict[MarketSubscriber, None] = {}
        for asset in message.assets:
            subs = self.by_asset.get(asset)
            if subs:
                targets.update(dict.fromkeys(subs))
        for sub in targets:
            if message.custom_only and not sub.custom:
                continue
            text = message.text_for(sub.assets)
            if text is not None:
                sub.push(text)
                self.sent += 1

    def dump(self, assets: list[str]) -> str | None:
        """The initial-dump array of ``book``s for the known assets among ``assets``."""
        engine = self.ctx.engine
        engine.wire.flush()  # a held timestamp (2026-09 habits) goes out first: the dump must not be ahead
        books = []
        for asset in assets:
            found = engine.token_book(asset)
            if found is not None:
                book, ti = found
                books.append(engine.wire.book_text(book, ti, book.updated_ms, dump=True))
        return "[" + ",".join(books) + "]" if books else None

    def add(self, sub: MarketSubscriber, assets: list[str], initial_dump: bool | None = True) -> None:
        new = [a for a in dict.fromkeys(assets) if a not in sub.assets]
        for a in new:
            sub.assets.add(a)
            self.by_asset.setdefault(a, set()).add(sub)
        if initial_dump is False:
            return
        dumped = new if initial_dump else [a for i, a in enumerate(new) if i < 100 or i % 10]
        text = self.dump(dumped)
        if text is not None:
            sub.push(text)

    def remove(self, sub: MarketSubscriber, assets: list[str]) -> None:
        for a in assets:
            sub.assets.discard(a)
            subs = self.by_asset.get(a)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self.by_asset[a]

    def detach(self, sub: MarketSubscriber) -> None:
        self.remove(sub, list(sub.assets))
        self.subscribers.discard(sub)

    def inject(self, texts: list[str]) -> int:
        """Chaos drill: queue ``texts``, in order, on every connected market socket, behind what is already
        queued and sent as they are (never folded into a batch), even while the silent fault holds data back.
        Returns how many sockets got them."""
        frames = [RawFrame(t) for t in texts]
        n = 0
        for sub in list(self.subscribers):
            if sub.closing:
                continue
            for frame in frames:
                sub.push(frame)
            n += 1
        return n

    def drop_all(self) -> int:
        """Fault injection: close every market connection; returns how many."""
        subs = list(self.subscribers)
        for sub in subs:
            sub.close()
        return len(subs)


def parse_client_message(text: str) -> dict[str, Any] | None:
    """A client's subscription frame as a JSON object, or None for anything else (both channels)."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _batchable(text: str) -> bool:
    # single events only: never PONG, a dump array, an error or an injected raw frame
    return type(text) is str and text.startswith("{")


async def _writer(sub: MarketSubscriber, batch_max: int) -> None:
    """Send queued texts in order; with ``batch_max`` > 1 a backlog of events goes out as JSON arrays."""
    queue = sub.queue
    ws = sub.ws
    carry: list[str | None] = []  # the item that ended a batch, sent next
    while True:
        text = carry.pop() if carry else await queue.get()
        if text is None:
            with contextlib.suppress(Exception):
                await ws.close(code=sub.close_code)
            return
        if batch_max > 1 and _batchable(text) and not queue.empty():
            batch = [text]
            while len(batch) < batch_max and not queue.empty():
                nxt = queue.get_nowait()
                if nxt is None or not _batchable(nxt):
                    carry.append(nxt)
                    break
                batch.append(nxt)
            if len(batch) > 1:
                text = "[" + ",".join(batch) + "]"
        await ws.send_text(text)


def build_market_ws_router(ctx: SimContext) -> APIRouter:
    """The ``/ws/market`` route bound to ``ctx``."""
    router = APIRouter()

    @router.websocket("/ws/market")
    async def market_ws(ws: WebSocket) -> None:
        hub = ctx.hub
        assert hub is not None
        await ws.accept()
        sub = MarketSubscriber(ws)
        hub.subscribers.add(sub)
        writer = asyncio.create_task(_writer(sub, ctx.config.ws_batch_max))
        limit = ctx.config.max_assets_per_socket
        try:
            while not writer.done():
                receive = asyncio.ensure_future(ws.receive())
                done, _ = await asyncio.wait({receive, writer}, return_when=asyncio.FIRST_COMPLETED)
                if receive not in done:
                    receive.cancel()
                    break
                frame = receive.result()
                if frame["type"] == "websocket.disconnect":
                    break
                text = frame.get("text") or (frame.get("bytes") or b"").decode("utf-8", "replace")
                if text.strip() == "PING":
                    if not sub.subscribed:
                        sub.close(1008)  # the venue closes a PING that comes before any subscription
                        continue
                    sub.push("PONG")  # answered even while the silent-socket fault holds data back
                    continue
                message = parse_client_message(text)
                if message is None:
                    continue
                assets = [str(a) for a in message.get("assets_ids") or []]
                if len(assets) > ctx.config.max_ids_per_frame:
                    sub.close(1009)
                    continue
                level = message.get("level", 2)
                if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 3:
                    sub.push(json.dumps({"error": f"invalid level {level!r}: 1, 2 or 3"}))
                    continue
                if "custom_feature_enabled" in message:
                    sub.custom = bool(message["custom_feature_enabled"])
                operation = str(message.get("operation") or "subscribe").lower()
                if operation == "unsubscribe":
                    hub.remove(sub, assets)
                    continue
                if len(sub.assets | set(assets)) > limit:
                    sub.push(json.dumps({"error": f"too many assets: at most {limit} per connection"}))
                    sub.close()
                    continue
                sub.subscribed = True
                dump = message.get("initial_dump")
                hub.add(sub, assets, dump if isinstance(dump, bool) else None)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            hub.detach(sub)
            sub.close()
            if not writer.done():
                with contextlib.suppress(asyncio.TimeoutError, Exception):
                    await asyncio.wait_for(writer, 1.0)
            writer.cancel()

    return router
