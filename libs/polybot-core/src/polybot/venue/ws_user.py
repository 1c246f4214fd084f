"""The CLOB user-channel websocket client (``/ws/user``): our own, because a reconnect must trigger a reconcile.

The SDK's websockets reconnect silently and drop the oldest queued messages; a missed fill there would be
invisible. This client runs::

    connect → send {"auth": {"apiKey", "secret", "passphrase"}, "markets": [condition ids], "type": "user"}
            → on_connected() (the caller reconciles: whatever happened while we were away is in the venue's truth)
            → every frame parsed (``parse_frame``) and handed to on_events(...)
            → (closed, failed, no PONG for two intervals) → jittered exponential backoff → connect again

Keepalive is the venue's text ``PING`` every ``ping_interval_s``; its ``PONG`` is swallowed. Frames are
validated at the edge: a frame that is not the venue's shape is counted in ``bad_frames`` and skipped, never
raised into the loop.

Events (the venue's, as recorded in tests/fixtures/polymarket/ws_user):

* ``trade``: status MATCHED → MINED → CONFIRMED, or RETRYING → FAILED; the match time is ``match_time`` or,
  as also seen in 2026, ``matchtime`` (unix seconds). One ``VenueTrade`` per order of ours in it: the taker
  order when ``trader_side`` is TAKER and the trade's owner is our API key, and each maker order owned by our
  API key or wallet, at its own price and ``matched_amount``. Maker orders recorded before 2025-11 carry no
  ``side``: a maker on the taker's token took the other side, one on the complementary token the same side.
* ``order``: PLACEMENT / UPDATE / CANCELLATION of one of our orders, as an ``OrderUpdate``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from polybot.domain.book import Side
from polybot.domain.retry import backoff_delay_s
from polybot.venue.order_gateway import VenueTrade

log = logging.getLogger(__name__)

_TRADE_STATUSES = frozenset({"MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED"})
_MS_THRESHOLD = 10_000_000_000  # a "unix seconds" field this large is already in milliseconds


class FrameError(ValueError):
    """A user-channel frame that is not the venue's shape."""


@dataclass(frozen=True, slots=True)
class UserAuth:
    """The L2 API credentials the user channel subscribes with, and the wallet our maker orders carry."""

    api_key: str
    secret: str
    passphrase: str
    wallet: str = ""

    def __repr__(self) -> str:
        return "UserAuth(<redacted>)"


def auth_of(gateway: object) -> UserAuth | None:
    """The credentials of a gateway built on the unified SDK (``ClobGateway.client``); None for paper or a fake.

    Read by attribute so that this module (imported in paper mode too) never imports the SDK."""
    client = getattr(gateway, "client", None)
    creds = getattr(client, "credentials", None)
    key, secret, passphrase = (getattr(creds, n, None) for n in ("key", "secret", "passphrase"))
    if not (isinstance(key, str) and isinstance(secret, str) and isinstance(passphrase, str)):
        return None
    wallet = getattr(client, "wallet", "")
    return UserAuth(key, secret, passphrase, str(wallet).lower())


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    order_id: str
    market: str
    asset_id: str
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    status: str  # LIVE, MATCHED, CANCELED …
    kind: str  # PLACEMENT, UPDATE, CANCELLATION
    ts_ms: int


UserEvent = VenueTrade | OrderUpdate


def subscription(auth: UserAuth, markets: Sequence[str] = ()) -> bytes:
    return orjson.dumps({"auth": {"apiKey": auth.api_key, "secret": auth.secret, "passphrase": auth.passphrase},
                         "markets": list(markets), "type": "user"})


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise FrameError(f"{key!r} missing or not a string")
    return value


def _dec(obj: dict[str, Any], key: str) -> Decimal:
    value = obj.get(key)
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise FrameError(f"{key!r} missing or not a number")
    try:
        out = Decimal(value)
    except InvalidOperation as exc:
        raise FrameError(f"{key!r} is not a decimal: {value!r}") from exc
    if not out.is_finite() or out < 0:
        raise FrameError(f"{key!r} out of range: {value!r}")
    return out


def _side(obj: dict[str, Any], key: str = "side") -> Side:
    value = obj.get(key)
    if value == "BUY":
        return "BUY"
    if value == "SELL":
        return "SELL"
    raise FrameError(f"{key!r} is not BUY or SELL: {value!r}")


def _ms(value: object, key: str) -> int:
    try:
        n = int(str(value))
    except ValueError as exc:
        raise FrameError(f"{key!r} is not a timestamp: {value!r}") from exc
    return n if n >= _MS_THRESHOLD else n * 1000


def _fee(price: Decimal, size: Decimal, rate_bps: Decimal) -> Decimal:
    """A taker's fee in USDC: the venue's rate on min(p, 1 − p) × size (as ``ClobGateway.trades``)."""
    return (rate_bps / Decimal(10_000)) * min(price, 1 - price) * size if rate_bps else Decimal(0)


def parse_trade(obj: dict[str, Any], auth: UserAuth) -> list[VenueTrade]:
    status = _str(obj, "status")
    if status not in _TRADE_STATUSES:
        raise FrameError(f"unknown trade status {status!r}")
    when_raw = obj.get("matchtime", obj.get("match_time"))
    if when_raw is None:
        raise FrameError("neither 'matchtime' nor 'match_time'")
    when = _ms(when_raw, "match_time")
    trade_id, market, asset, side = _str(obj, "id"), _str(obj, "market"), _str(obj, "asset_id"), _side(obj)
    makers = obj.get("maker_orders") or []
    if not isinstance(makers, list):
        raise FrameError("'maker_orders' is not a list")
    out: list[VenueTrade] = []
    taker_owner = obj.get("trade_owner") or obj.get("owner")
    if obj.get("trader_side") == "TAKER" and taker_owner == auth.api_key:
        price, size = _dec(obj, "price"), _dec(obj, "size")
        rate = _dec(obj, "fee_rate_bps") if obj.get("fee_rate_bps") is not None else Decimal(0)
        out.append(VenueTrade(trade_id, _str(obj, "taker_order_id"), market, asset, side, price, size, status,
                              when, _fee(price, size, rate)))
    for m in makers:
        if not isinstance(m, dict):
            raise FrameError("a maker order is not an object")
        address = m.get("maker_address")
        mine = m.get("owner") == auth.api_key or (
            bool(auth.wallet) and isinstance(address, str) and address.lower() == auth.wallet)
        if not mine:
            continue
        m_asset = _str(m, "asset_id")
        if m.get("side") is not None:
            m_side = _side(m)
        else:
            m_side = side if m_asset != asset else ("SELL" if side == "BUY" else "BUY")
        out.append(VenueTrade(trade_id, _str(m, "order_id"), market, m_asset, m_side, _dec(m, "price"),
                              _dec(m, "matched_amount"), status, when))
    return out


def parse_order(obj: dict[str, Any]) -> OrderUpdate:
    ts = obj.get("timestamp")
    return OrderUpdate(_str(obj, "id"), _str(obj, "market"), _str(obj, "asset_id"), _side(obj), _dec(obj, "price"),
                       _dec(obj, "original_size"), _dec(obj, "size_matched"), _str(obj, "status"),
                       _str(obj, "type"), _ms(ts, "timestamp") if ts is not None else 0)


def parse_frame(text: str | bytes, auth: UserAuth) -> list[UserEvent]:
    """The events of one frame (an object or a list of them); raises ``FrameError`` on anything else."""
    try:
        payload = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"not JSON: {exc}") from exc
    items = payload if isinstance(payload, list) else [payload]
    out: list[UserEvent] = []
    for obj in items:
        if not isinstance(obj, dict):
            raise FrameError("an event is not an object")
        kind = obj.get("event_type")
        if kind == "trade":
            out.extend(parse_trade(obj, auth))
        elif kind == "order":
            out.append(parse_order(obj))
        else:
            raise FrameError(f"unknown event_type {kind!r}")
    return out


@dataclass(frozen=True, slots=True)
class UserChannelConfig:
    url: str
    markets: tuple[str, ...] = ()  # empty: every market of the key
    ping_interval_s: float = 10.0
    reconnect_base_s: float = 0.25
    reconnect_max_s: float = 15.0
    open_timeout_s: float = 10.0


class UserChannel:
    """One authenticated connection to ``/ws/user``, reconnected forever (``run``)."""

    def __init__(self, config: UserChannelConfig, auth: UserAuth,
                 on_bad_frame: Callable[[], None] = lambda: None) -> None:
        self.config, self.auth = config, auth
        self.on_bad_frame = on_bad_frame  # the caller's counter (a metric)
        self.bad_frames = 0
        self.connects = 0
        self.connected = False

    async def run(self, on_connected: Callable[[], Awaitable[None]],
                  on_events: Callable[[list[UserEvent]], Awaitable[None]]) -> None:
        attempt = 0
        while True:
            try:
                async with connect(self.config.url, open_timeout=self.config.open_timeout_s, ping_interval=None,
                                   compression=None, max_size=2**22) as ws:
                    await ws.send(subscription(self.auth, self.config.markets).decode())
                    self.connects += 1
                    self.connected, attempt = True, 0
                    log.info("user channel connected", extra={"connects": self.connects})
                    await on_connected()
                    await self._read(ws, on_events)
            except (ConnectionClosed, InvalidHandshake, InvalidURI, OSError, TimeoutError) as exc:
                log.warning("user channel lost; reconnecting", extra={"error": repr(exc)})
            finally:
                self.connected = False
            attempt += 1
            await asyncio.sleep(backoff_delay_s(attempt, self.config.reconnect_base_s, self.config.reconnect_max_s,
                                                0.5))

    async def _read(self, ws: ClientConnection, on_events: Callable[[list[UserEvent]], Awaitable[None]]) -> None:
        last_pong = time.monotonic()
        keepalive = asyncio.create_task(self._keepalive(ws, lambda: last_pong))
        try:
            async for frame in ws:
                if frame in ("PONG", "PING"):
                    last_pong = time.monotonic()
                    continue
                try:
                    events = parse_frame(frame, self.auth)
                except FrameError as exc:
                    self.bad_frames += 1
                    self.on_bad_frame()
                    log.warning("bad user-channel frame skipped", extra={"error": str(exc), "frame": str(frame)[:300]})
                    continue
                if events:
                    await on_events(events)
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):  # its socket is gone: ours too
                await keepalive

    async def _keepalive(self, ws: ClientConnection, last_pong: Callable[[], float]) -> None:
        interval = self.config.ping_interval_s
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() - last_pong() > 2 * interval:
                log.warning("user channel: no PONG for two intervals; reconnecting")
                await ws.close(code=4000, reason="pong_timeout")
                return
            await ws.send("PING")
