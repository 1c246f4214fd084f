"""Rate limiting and injectable HTTP faults for the whole simulator, plus the ``/_sim`` admin routes.

One pure ASGI middleware (no response buffering unless a fault needs it) runs, in order:

1. the sliding-window rate limits (429 ``{"error": "Too Many Requests"}``), per API key or client address;
2. the configured faults: added latency, a 5xx answer instead of handling, or a "timeout that still
   executes": the request is handled (an order really rests or trades) and then its answer is held past the
   client's timeout, or the connection is cut after the status line.

Admin routes (not rate limited, never faulted) change settings on a running simulator:

* ``GET|POST /_sim/http-faults``: the ``HttpFaults`` fields (``{"reset": true}`` first clears them).
* ``GET|POST /_sim/rate-limits``: ``{"enabled": false}`` turns every limit off (the IP windows and the
  per-signer buckets: what benches want); ``{"limits": {rule: n}}`` changes an IP window;
  ``{"signer_buckets": "enforce" | "warn" | "off"}`` the per-signer order/cancel buckets' mode (``warn``: the
  venue's warning period, nothing refused, ``Poly-RateLimit-Warning: true`` instead); ``{"default_tier":
  "standard"}``, ``{"signer_tiers": {address: "gold"}}`` (tiers: standard, copper, bronze, silver, gold,
  platinum, diamond, elite); ``{"tiers": {"standard": {"order_rate": 2, "order_burst": 3, "cancel_rate": 4,
  "cancel_burst": 6, "negative_cancel": true}}}`` changes a tier's figures (drills); ``{"reset": true}``
  refills every bucket and empties every window. The answer shows it all.
* ``POST /_sim/user-ws``: ``{"silent": true}`` (push nothing, still answer PING), ``{"drop": true}``.
* ``GET|POST /_sim/trading``: the ``TradingConfig`` fields, e.g. ``heartbeat_timeout_s``,
  ``require_deposit_wallet``, ``gtd_min_ahead_s``, ``gtd_security_threshold_s``, ``user_ws_match_time_key``
  (``match_time`` | ``matchtime`` | ``mixed``), ``proxy_wallets``.

The matching-engine restart and the failing settlements are engine faults: ``POST /_sim/faults`` (``admin_api``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, fields
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polysim.ratelimit import TOO_MANY_REQUESTS
from polysim.signer_limits import MODES
from polysim.trading_config import HttpFaults
from polysim.trading_state import TradingState, state_of


class FaultDropped(ConnectionAbortedError):
    """Raised after the status line to make the server cut the connection (an injected fault)."""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class TradingMiddleware:
    """Rate limits, then faults, around every HTTP request of the simulator."""

    def __init__(self, app: ASGIApp, state: TradingState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        state = self.state
        path: str = scope["path"]
        if state.config.rate_limits_enabled:
            client = scope.get("client")
            caller = (
                _header(scope, b"poly_api_key")
                or _header(scope, b"poly_address")
                or (client[0] if client else "unknown")
            )
            if state.limiter.check(caller, scope["method"], path, time.monotonic()) is not None:
                await _send_json(send, 429, {"error": TOO_MANY_REQUESTS})
                return
        faults = state.config.faults
        if not faults.active() or not faults.applies(path):
            await self.app(scope, receive, send)
            return
        await self._with_faults(faults, scope, receive, send)

    async def _with_faults(self, faults: HttpFaults, scope: Scope, receive: Receive, send: Send) -> None:
        rng = self.state.fault_rng
        delay_ms = faults.latency_ms + (rng.uniform(0, faults.jitter_ms) if faults.jitter_ms else 0.0)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if faults.error_next > 0 or (faults.error_rate and rng.random() < faults.error_rate):
            faults.error_next = max(0, faults.error_next - 1)
            await _send_json(send, faults.error_status, {"error": "Internal Server Error (injected)"})
            return
        if not (faults.timeout_next > 0 or (faults.timeout_rate and rng.random() < faults.timeout_rate)):
            await self.app(scope, receive, send)
            return
        faults.timeout_next = max(0, faults.timeout_next - 1)
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)  # the request takes effect here
        if faults.timeout_mode == "drop":
            if held:
                await send(held[0])
            raise FaultDropped("polysim: injected connection drop after handling the request")
        await asyncio.sleep(faults.timeout_delay_s)
        with contextlib.suppress(Exception):  # the client has usually gone by now
            for message in held:
                await send(message)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _update(target: Any, changes: dict[str, Any], skip: set[str]) -> list[str]:
    """Set known scalar fields of a settings dataclass; return the names that were unknown."""
    known = {f.name: f for f in fields(target)} if hasattr(target, "__dataclass_fields__") else {}
    unknown = []
    for name, value in changes.items():
        if name not in known or name in skip:
            unknown.append(name)
            continue
        current = getattr(target, name)
        setattr(target, name, Decimal(str(value)) if isinstance(current, Decimal) else value)
    return unknown


def _update_signer_limits(state: TradingState, changes: dict[str, Any]) -> str | None:
    """Apply the per-signer bucket settings of a ``/_sim/rate-limits`` body; an error message or None."""
    limits = state.signer_limits
    mode = changes.get("signer_buckets")
    if mode is not None:
        if mode not in MODES:
            return f"signer_buckets must be one of {', '.join(MODES)}"
        limits.mode = mode
    try:
        for name, figures in (changes.get("tiers") or {}).items():
            if not isinstance(figures, dict):
                return f"tier {name}: expected an object of figures"
            limits.set_tier_figures(str(name), figures)
    except KeyError as exc:
        return f"unknown tier {exc}"
    except (TypeError, ValueError) as exc:
        return str(exc)
    tiers = [changes["default_tier"]] if "default_tier" in changes else []
    signer_tiers = changes.get("signer_tiers") or {}
    unknown = [t for t in [*tiers, *signer_tiers.values()] if t not in limits.tiers]
    if unknown:
        return f"unknown tier {unknown[0]!r}: one of {', '.join(limits.tiers)}"
    if tiers:
        limits.default_tier = str(tiers[0])
    limits.signer_tiers.update({str(a).lower(): str(t) for a, t in signer_tiers.items()})
    return None


def _admin_router(state: TradingState) -> APIRouter:
    router = APIRouter()

    async def http_faults(request: Request) -> JSONResponse:
        if request.method == "POST":
            changes = await request.json()
            if changes.get("reset"):
                state.config.faults = HttpFaults()
                changes = {k: v for k, v in changes.items() if k != "reset"}
            unknown = _update(state.config.faults, changes, skip=set())
            if unknown:
                return JSONResponse({"error": f"unknown fault settings: {unknown}"}, status_code=400)
            if "seed" in changes and changes["seed"] is not None:
                state.fault_rng.seed(changes["seed"])
        return JSONResponse(asdict(state.config.faults))

    async def rate_limits(request: Request) -> JSONResponse:
        changes = await request.json() if request.method == "POST" else {}
        if not isinstance(changes, dict):
            return JSONResponse({"error": "expected a JSON object"}, status_code=400)
        if "enabled" in changes:
            state.config.rate_limits_enabled = bool(changes["enabled"])
        try:
            for name, limit in (changes.get("limits") or {}).items():
                state.limiter.set_limit(name, int(limit))
        except KeyError as exc:
            return JSONResponse({"error": f"unknown rate limit rule {exc}"}, status_code=400)
        error = _update_signer_limits(state, changes)
        if error:
            return JSONResponse({"error": error}, status_code=400)
        if changes.get("reset"):
            state.limiter.reset()
            state.signer_limits.reset()
        return JSONResponse(
            {
                "enabled": state.config.rate_limits_enabled,
                "rules": [{"name": r.name, "limit": r.limit, "window_s": r.window_s} for r in state.limiter.rules],
                "signer_buckets": state.signer_limits.snapshot(),
            }
        )

    async def user_ws(request: Request) -> JSONResponse:
        from polysim.user_ws import hub_of  # late: user_ws imports this module's siblings

        changes = await request.json()
        hub = hub_of(state)
        dropped = 0
        if "silent" in changes:
            state.config.user_ws_silent = bool(changes["silent"])
            hub.set_silent(state.config.user_ws_silent)
        if changes.get("drop"):
            dropped = hub.drop_all()
        return JSONResponse({"silent": state.config.user_ws_silent, "dropped": dropped})

    async def trading(request: Request) -> JSONResponse:
        if request.method == "POST":
            unknown = _update(state.config, await request.json(), skip={"faults"})
            if unknown:
                return JSONResponse({"error": f"unknown trading settings: {unknown}"}, status_code=400)
        body = {f.name: getattr(state.config, f.name) for f in fields(state.config) if f.name != "faults"}
        return JSONResponse(_jsonable(body))

    router.add_api_route("/_sim/http-faults", http_faults, methods=["GET", "POST"])
    router.add_api_route("/_sim/rate-limits", rate_limits, methods=["GET", "POST"])
    router.add_api_route("/_sim/user-ws", user_ws, methods=["POST"])
    router.add_api_route("/_sim/trading", trading, methods=["GET", "POST"])
    return router


def install(app: FastAPI, ctx: Any) -> None:
    """Install the rate-limit/fault middleware and the trading admin routes on ``app``.

    The app's lifespan is wrapped so that the trading side's timers (heartbeat switches) stop with the app.
    """
    state = state_of(ctx)
    app.add_middleware(TradingMiddleware, state=state)
    app.include_router(_admin_router(state))
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as value:
            try:
                yield value
            finally:
                state.close()

    app.router.lifespan_context = lifespan
