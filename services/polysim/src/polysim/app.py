"""The simulator's ASGI app: public CLOB routes, Gamma under ``/gamma``, ``/ws/market``, the admin routes,
and the trading side's routers (private CLOB, ``/ws/user``) and HTTP fault/rate-limit middleware.

The lifespan runs the driver task that advances the engine with the sim clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from polysim.admin_api import build_admin_router
from polysim.context import SimContext
from polysim.gamma_api import build_gamma_router
from polysim.public_api import build_public_router
from polysim.ws_market import MarketHub, build_market_ws_router

log = logging.getLogger("polysim")


async def drive(ctx: SimContext) -> None:
    """Advance the engine to the sim clock every ``tick_ms`` until cancelled."""
    interval = max(1, ctx.config.tick_ms) / 1000
    while True:
        try:
            ctx.engine.step(ctx.clock.now_ms())
        except Exception:  # a bug in one step must not stop the market for good
            log.exception("polysim engine step failed")
        await asyncio.sleep(interval)


def build_app(ctx: SimContext) -> FastAPI:
    """The whole simulator as one FastAPI app bound to ``ctx``."""
    from polysim.http_faults import install as install_trading_middleware
    from polysim.private_api import build_private_router
    from polysim.user_ws import build_user_ws_router

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(drive(ctx), name="polysim-driver")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if ctx.hub is not None:
                ctx.hub.drop_all()

    if ctx.hub is None:
        ctx.hub = MarketHub(ctx)
    app = FastAPI(title="polysim", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.include_router(build_public_router(ctx))
    app.include_router(build_gamma_router(ctx), prefix="/gamma")
    app.include_router(build_market_ws_router(ctx))
    app.include_router(build_admin_router(ctx))
    app.include_router(build_private_router(ctx))
    app.include_router(build_user_ws_router(ctx))
    install_trading_middleware(app, ctx)
    _apply_trading_settings(ctx)
    return app


def _apply_trading_settings(ctx: SimContext) -> None:
    """Hand the engine-side settings the trading side keeps in its own state (rate limits on/off)."""
    from polysim.trading_state import state_of

    state_of(ctx).config.rate_limits_enabled = ctx.config.rate_limits
