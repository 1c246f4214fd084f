"""Polysim's user websocket ``/ws/user``.

A client connects and sends ``{"auth": {"apiKey", "secret", "passphrase"}, "markets": [condition ids],
"type": "user"}``; from then on it receives, one JSON object per frame, the ``order`` events
(PLACEMENT / UPDATE / CANCELLATION) of its own orders and the ``trade`` events (MATCHED → MINED → CONFIRMED, or
RETRYING → FAILED under the ``fail_next_trades`` fault) of trades it is taker or maker in, for the subscribed
markets (all markets when the list is empty). The match time is spelled ``match_time`` or, as the venue also
does in 2026, ``matchtime`` (``TradingConfig.user_ws_match_time_key``). Text
``PING`` is answered ``PONG``. ``{"markets": [...], "operation": "subscribe" | "unsubscribe"}`` changes the
market filter on a live connection.

The engine calls the hub synchronously from inside matching; the hub only filters and enqueues, and one
sender task per connection does the I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from polysim.exchange_api import ExchangeApi, OrderEvent, TradeEvent
from polysim.trading_state import TradingState, state_of
from polysim.trading_wire import match_time_spelling, order_event_json, trade_event_json
from polysim.ws_market import parse_client_message

_QUEUE_LIMIT = 10_000  # a client this far behind is cut off rather than grow memory without bound


@dataclass(eq=False)
class Subscriber:
    """One authenticated user-channel connection."""

    owner: str
    markets: set[str]
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(_QUEUE_LIMIT))
    silent: bool = False  # fault injection: keep answering PING but push nothing

    def wants(self, market: str) -> bool:
        """Whether events of ``market`` pass the subscription filter."""
        return not self.markets or market in self.markets

    def push(self, message: dict[str, Any]) -> None:
        """Enqueue from any thread; overflow closes the connection."""
        if self.silent:
            return
        self.loop.call_soon_threadsafe(self._put, message)

    def _put(self, message: dict[str, Any] | None) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.close()

    def close(self) -> None:
        """Ask the sender task to close the socket."""
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)


class UserHub:
    """Fans engine events out to user-channel subscribers."""

    def __init__(self, exchange: ExchangeApi, match_time_mode: Callable[[], str] = lambda: "match_time") -> None:
        self.subscribers: set[Subscriber] = set()
        self._match_time_mode = match_time_mode
        exchange.subscribe(self.on_order, self.on_trade)

    def on_order(self, event: OrderEvent) -> None:
        """Engine callback: an order changed."""
        view = event.order
        targets = [s for s in self.subscribers if s.owner == view.owner and s.wants(view.market)]
        if targets:
            message = order_event_json(event)
            for s in targets:
                s.push(message)

    def on_trade(self, event: TradeEvent) -> None:
        """Engine callback: a trade was matched or changed status."""
        trade = event.trade
        owners = {m.owner for m in trade.maker_orders}
        if trade.taker_owner:
            owners.add(trade.taker_owner)
        key = match_time_spelling(self._match_time_mode(), trade.status)
        for s in self.subscribers:
            if s.owner in owners and s.wants(trade.market):
                s.push(trade_event_json(event, s.owner, key))

    def drop_all(self) -> int:
        """Fault injection: close every user connection; returns how many."""
        subs = list(self.subscribers)
        for s in subs:
            s.close()
        return len(subs)

    def set_silent(self, silent: bool) -> None:
        """Fault injection: stop (or resume) pushing events while still answering PING."""
        for s in self.subscribers:
            s.silent = silent


_hubs: weakref.WeakKeyDictionary[TradingState, UserHub] = weakref.WeakKeyDictionary()


def hub_of(state: TradingState) -> UserHub:
    """The user-channel hub of a simulator, subscribed to the engine on first use."""
    hub = _hubs.get(state)
    if hub is None:
        hub = _hubs[state] = UserHub(state.exchange, lambda: state.config.user_ws_match_time_key)
    return hub


async def _sender(ws: WebSocket, sub: Subscriber) -> None:
    while True:
        message = await sub.queue.get()
        if message is None:
            await ws.close()
            return
        await ws.send_text(json.dumps(message, separators=(",", ":")))


def build_user_ws_router(ctx: Any) -> APIRouter:
    """The ``/ws/user`` route, bound to ``ctx`` (a ``SimContext``)."""
    state = state_of(ctx)
    router = APIRouter()

    @router.websocket("/ws/user")
    async def user_channel(ws: WebSocket) -> None:
        await ws.accept()
        hub = hub_of(state)
        sub: Subscriber | None = None
        sender: asyncio.Task[None] | None = None
        try:
            while True:
                text = await ws.receive_text()
                if text == "PING":
                    await ws.send_text("PONG")
                    continue
                message = parse_client_message(text)
                if message is None:
                    continue
                if sub is None:
                    auth = message.get("auth") or {}
                    creds = state.creds.check_ws_auth(
                        str(auth.get("apiKey", "")), str(auth.get("secret", "")), str(auth.get("passphrase", ""))
                    )
                    if creds is None:
                        await ws.close(code=1008, reason="invalid auth")
                        return
                    markets = {str(m) for m in message.get("markets") or []}
                    sub = Subscriber(creds.api_key, markets, asyncio.get_running_loop())
                    sub.silent = state.config.user_ws_silent
                    hub.subscribers.add(sub)
                    sender = asyncio.create_task(_sender(ws, sub))
                    continue
                operation = message.get("operation")
                markets = {str(m) for m in message.get("markets") or []}
                if operation == "subscribe":
                    sub.markets |= markets
                elif operation == "unsubscribe":
                    sub.markets -= markets
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            if sub is not None:
                hub.subscribers.discard(sub)
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender

    return router
