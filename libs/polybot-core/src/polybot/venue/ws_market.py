"""The CLOB market-channel websocket client: sharded connections, keepalive, silence detection, reconnects.

Assets are spread over several connections (``assets_per_connection`` each, the venue allows 500). Each
connection ("shard") runs the same loop::

    connect → send {"assets_ids": [≤ 100 ids], "type": "market", "initial_dump": true, "level": 2,
                    "custom_feature_enabled": true}, then the rest in {"operation": "subscribe", …} chunks
            → listener.on_connected(shard, assets)
            → hand every frame to listener.on_frame(shard, text, recv_ts_ms, recv_ns)
            → (closed, failed, or silent) listener.on_disconnected(shard, assets, reason)
            → sleep a jittered exponential backoff → connect again

Today's venue (2026): without an explicit ``initial_dump: true`` some assets never got a book at scale, a frame
listing thousands of ids gets the socket closed (so subscriptions go ``subscribe_chunk`` ids a frame), and a
``PING`` before the first subscription is closed with 1008 (so keepalive starts only once subscribed).
Keepalive is the venue's text ``PING`` every ``ping_interval_s``; its ``PONG`` is swallowed here. A connection
is dropped when no ``PONG`` came back for two intervals (``"pong_timeout"``) or when no market data arrived
for ``silence_timeout_s`` although the socket is alive (``"silence"``): the venue can go quiet while still
answering PING. Parsing frames is the caller's business; this module only moves text.

Assets can be added and removed while running: added ones go to a shard with room (``operation:
"subscribe"``), removed ones are unsubscribed (or, when ``unsubscribe_supported`` is off, their shard
reconnects with its new list). A shard left without assets is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from polybot.domain.retry import backoff_delay_s

log = logging.getLogger(__name__)

_KEEPALIVE_REPLIES = frozenset({"PONG", "PING"})
FAILURE_TASK = "ws-market"  # the task name its failures are counted under (task_failures{task})


@dataclass(frozen=True, slots=True)
class WsMarketConfig:
    url: str
    assets_per_connection: int = 500
    ping_interval_s: float = 10.0
    silence_timeout_s: float = 30.0  # 0 disables silence detection
    reconnect_base_s: float = 0.5
    reconnect_max_s: float = 30.0
    open_timeout_s: float = 10.0
    custom_feature_enabled: bool = True
    unsubscribe_supported: bool = True
    compression: bool = False  # permessage-deflate costs CPU on every frame; off by default
    subscribe_chunk: int = 100  # asset ids per subscription frame
    max_frame_bytes: int = 64 << 20  # an initial dump of 500 books can be several MB


class MarketWsListener(Protocol):
    """What the client reports. Called synchronously from the shard's task, in order."""

    def on_frame(self, shard: int, frame: str, recv_ts_ms: int, recv_ns: int) -> None:
        """One market-data frame (text as received; ``recv_ns`` is ``time.perf_counter_ns()``)."""

    def on_connected(self, shard: int, asset_ids: tuple[str, ...]) -> None:
        """The shard is connected and subscribed to ``asset_ids``; their data follows."""

    def on_disconnected(self, shard: int, asset_ids: tuple[str, ...], reason: str) -> None:
        """The shard lost its connection; no data for ``asset_ids`` until ``on_connected`` again."""


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Delay before reconnect ``attempt`` (1, 2, …): exponential, capped, jittered into [½d, d]."""
    return backoff_delay_s(attempt, base_s, max_s, rng.random() if rng is not None else random.random())


def subscribe_message(asset_ids: Iterable[str], custom_feature_enabled: bool = True) -> str:
    """The first message on a market connection: books of every asset first (``initial_dump``), level 2."""
    return orjson.dumps({"assets_ids": list(asset_ids), "type": "market", "initial_dump": True, "level": 2,
                         "custom_feature_enabled": custom_feature_enabled}).decode()


def operation_message(asset_ids: Iterable[str], operation: str, custom_feature_enabled: bool = True) -> str:
    """A dynamic ``subscribe``/``unsubscribe`` on an open connection (a subscribe asks for the books too)."""
    body: dict[str, Any] = {"assets_ids": list(asset_ids), "operation": operation,
                            "custom_feature_enabled": custom_feature_enabled}
    if operation == "subscribe":
        body.update(initial_dump=True, level=2)
    return orjson.dumps(body).decode()


def chunks(asset_ids: list[str], size: int) -> list[list[str]]:
    """``asset_ids`` in frames of at most ``size`` (at least one frame, even for none)."""
    return [asset_ids[i:i + size] for i in range(0, len(asset_ids), size)] or [[]]


@dataclass
class ShardStats:
    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    frames: int = 0
    pongs: int = 0
    last_frame_ns: int = 0
    last_reason: str | None = None
    connected_since_ms: int | None = None


@dataclass
class _Shard:
    id: int
    assets: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    ws: ClientConnection | None = None
    task: asyncio.Task[None] | None = None
    stats: ShardStats = field(default_factory=ShardStats)
    close_reason: str | None = None  # why we are closing it ourselves
    retire: bool = False


class MarketWsClient:
    """Market-channel connections for a changing set of assets. Use as an async context manager."""

    def __init__(self, config: WsMarketConfig, listener: MarketWsListener, *, rng: random.Random | None = None,
                 on_failure: Callable[[str], None] | None = None) -> None:
        self.config = config
        self._on_failure = on_failure or (lambda _task: None)
        self.listener = listener
        self._rng = rng or random.Random()
        self._shards: dict[int, _Shard] = {}
        self._next_id = 0
        self._closed = False
        self.failures = 0  # unexpected errors a shard survived (it reconnected)

    async def __aenter__(self) -> MarketWsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the asset set ------------------------------------------------------------------------------------------
    @property
    def assets(self) -> set[str]:
        return {a for s in self._shards.values() for a in s.assets}

    async def add_assets(self, asset_ids: Iterable[str]) -> list[str]:
        """Subscribe to the assets not yet subscribed; returns those added."""
        if self._closed:
            raise RuntimeError("client is closed")
        have = self.assets
        new = [a for a in dict.fromkeys(asset_ids) if a not in have]
        cap = self.config.assets_per_connection
        remaining = list(new)
        for shard in list(self._shards.values()):
            if not remaining:
                break
            room = cap - len(shard.assets)
            if room <= 0 or shard.retire:
                continue
            take, remaining = remaining[:room], remaining[room:]
            for a in take:
                shard.assets[a] = None
            await self._send_op(shard, take, "subscribe")
        while remaining:
            take, remaining = remaining[:cap], remaining[cap:]
            shard = _Shard(self._next_id, dict.fromkeys(take))
            self._next_id += 1
            self._shards[shard.id] = shard
            shard.task = asyncio.create_task(self._run(shard), name=f"ws-market-{shard.id}")
        return new

    async def remove_assets(self, asset_ids: Iterable[str]) -> list[str]:
        """Unsubscribe assets; returns those removed. A shard left empty is closed."""
        gone = set(asset_ids)
        removed: list[str] = []
        for shard in list(self._shards.values()):
            drop = [a for a in shard.assets if a in gone]
            if not drop:
                continue
            for a in drop:
                del shard.assets[a]
            removed.extend(drop)
            if not shard.assets:
                await self._retire(shard)
            elif self.config.unsubscribe_supported:
                await self._send_op(shard, drop, "unsubscribe")
            else:
                await self._reconnect(shard, "resubscribe")
        return removed

    async def reconnect(self, shard_id: int, reason: str = "requested") -> None:
        """Drop one shard's connection (it reconnects with backoff)."""
        shard = self._shards.get(shard_id)
        if shard is not None:
            await self._reconnect(shard, reason)

    async def close(self) -> None:
        """Close every connection and stop the shard tasks."""
        self._closed = True
        for shard in list(self._shards.values()):
            await self._retire(shard)

    def status(self) -> list[dict[str, Any]]:
        """Per-connection figures for ``/status``."""
        now_ns = time.perf_counter_ns()
        out = []
        for shard in self._shards.values():
            st = shard.stats
            out.append({
                "shard": shard.id,
                "assets": len(shard.assets),
                "connected": st.connected,
                "connects": st.connects,
                "disconnects": st.disconnects,
                "frames": st.frames,
                "last_frame_age_ms": (now_ns - st.last_frame_ns) // 1_000_000 if st.last_frame_ns else None,
                "last_disconnect_reason": st.last_reason,
                "connected_since_ms": st.connected_since_ms,
            })
        return out

    # --- internals ----------------------------------------------------------------------------------------------
    def _failed(self) -> None:
        self.failures += 1
        self._on_failure(FAILURE_TASK)

    async def _send_op(self, shard: _Shard, asset_ids: list[str], operation: str) -> None:
        ws = shard.ws
        if ws is None or not shard.stats.connected:
            return  # the next connect subscribes the whole list
        with contextlib.suppress(ConnectionClosed):  # the shard loop reconnects and resubscribes everything
            for chunk in chunks(asset_ids, self.config.subscribe_chunk):
                if chunk:
                    await ws.send(operation_message(chunk, operation, self.config.custom_feature_enabled))

    async def _reconnect(self, shard: _Shard, reason: str) -> None:
        shard.close_reason = reason
        if shard.ws is not None:
            with contextlib.suppress(Exception):
                await shard.ws.close()

    async def _retire(self, shard: _Shard) -> None:
        shard.retire = True
        self._shards.pop(shard.id, None)
        await self._reconnect(shard, "closed")
        task = shard.task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, shard: _Shard) -> None:
        attempt = 0
        cfg = self.config
        while not shard.retire:
            if attempt:
                await asyncio.sleep(backoff_delay(attempt, cfg.reconnect_base_s, cfg.reconnect_max_s, self._rng))
            attempt += 1
            try:
                got_data = await self._session(shard)
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
                log.warning("market websocket connect failed",
                            extra={"shard": shard.id, "error": repr(exc), "attempt": attempt})
                continue
            except Exception:  # a bug must not end the shard for good: log it, reconnect, resubscribe
                self._failed()
                log.exception("market websocket shard failed; reconnecting", extra={"shard": shard.id})
                if shard.stats.connected:  # the listener must know its books get no data meanwhile
                    shard.stats.connected = False
                    shard.stats.disconnects += 1
                    shard.stats.last_reason = "error"
                    self.listener.on_disconnected(shard.id, tuple(shard.assets), "error")
                continue
            if got_data:
                attempt = 1  # a connection that worked: start the backoff over (but never reconnect in a hot loop)

    async def _session(self, shard: _Shard) -> bool:
        """One connection's life; returns whether any market data arrived on it."""
        cfg = self.config
        ws = await connect(cfg.url, open_timeout=cfg.open_timeout_s, ping_interval=None, close_timeout=1.0,
                           max_size=cfg.max_frame_bytes, max_queue=None, proxy=None,
                           compression="deflate" if cfg.compression else None)
        shard.ws = ws
        shard.close_reason = None
        st = shard.stats
        got_data = False
        try:
            if shard.retire:
                return False
            subscribed = tuple(shard.assets)
            first, *rest = chunks(list(subscribed), cfg.subscribe_chunk)
            await ws.send(subscribe_message(first, cfg.custom_feature_enabled))
            for chunk in rest:
                await ws.send(operation_message(chunk, "subscribe", cfg.custom_feature_enabled))
            while True:  # assets added or removed while a send was in flight were not covered by it
                current = tuple(shard.assets)
                added = [a for a in current if a not in set(subscribed)]
                removed = [a for a in subscribed if a not in shard.assets]
                if not (added or removed):
                    break
                for op, ids in (("subscribe", added), ("unsubscribe", removed)):
                    for chunk in chunks(ids, cfg.subscribe_chunk):
                        if chunk:
                            await ws.send(operation_message(chunk, op, cfg.custom_feature_enabled))
                subscribed = current
            st.connected = True
            st.connects += 1
            st.connected_since_ms = time.time_ns() // 1_000_000
            st.last_frame_ns = time.perf_counter_ns()
            self.listener.on_connected(shard.id, subscribed)
            keepalive = asyncio.create_task(self._keepalive(shard, ws), name=f"ws-market-ping-{shard.id}")
            try:
                on_frame = self.listener.on_frame
                async for message in ws:
                    recv_ns = time.perf_counter_ns()
                    text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                    if len(text) <= 4 and text.strip() in _KEEPALIVE_REPLIES:
                        st.pongs += 1
                        continue
                    st.frames += 1
                    st.last_frame_ns = recv_ns
                    got_data = True
                    on_frame(shard.id, text, time.time_ns() // 1_000_000, recv_ns)
            except ConnectionClosed:
                pass
            except Exception:  # the listener failed on a frame: this connection's data can no longer be trusted
                self._failed()
                shard.close_reason = "error"
                log.exception("market frame handling failed; reconnecting", extra={"shard": shard.id})
            finally:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await keepalive
            reason = shard.close_reason or _closed_reason(ws)
        finally:
            shard.ws = None
            with contextlib.suppress(Exception):
                await ws.close()
        if st.connected:
            st.connected = False
            st.disconnects += 1
            st.last_reason = reason
            st.connected_since_ms = None
            log.warning("market websocket disconnected",
                        extra={"shard": shard.id, "reason": reason, "assets": len(shard.assets)})
            # Report what the connection carried, including assets removed meanwhile: their state is moot.
            self.listener.on_disconnected(shard.id, tuple(shard.assets), reason)
        return got_data

    async def _keepalive(self, shard: _Shard, ws: ClientConnection) -> None:
        cfg = self.config
        st = shard.stats
        interval = cfg.ping_interval_s
        pongs_seen = st.pongs
        last_pong_ns = time.perf_counter_ns()
        next_ping = time.monotonic() + interval
        check = min(interval, cfg.silence_timeout_s / 4 if cfg.silence_timeout_s > 0 else interval, 1.0)
        while True:
            await asyncio.sleep(check)
            now_ns = time.perf_counter_ns()
            if st.pongs != pongs_seen:
                pongs_seen, last_pong_ns = st.pongs, now_ns
            if cfg.silence_timeout_s > 0 and shard.assets and now_ns - st.last_frame_ns > cfg.silence_timeout_s * 1e9:
                await self._reconnect(shard, "silence")
                return
            if now_ns - last_pong_ns > 2.5 * interval * 1e9:
                await self._reconnect(shard, "pong_timeout")
                return
            if time.monotonic() >= next_ping:
                next_ping += interval
                try:
                    await ws.send("PING")
                except ConnectionClosed:
                    return


def _closed_reason(ws: ClientConnection) -> str:
    code = ws.close_code
    return "closed" if code is None else f"closed:{code}"
