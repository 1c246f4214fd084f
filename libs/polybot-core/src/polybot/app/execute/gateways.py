"""The backend for the configured mode: paper (books from ``BookFeed``), or the unified SDK (sim, live); in
every mode the published books mark our holdings for the daily-loss check."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from polybot.app.execute.paper_books import FeedBooks, paper_books_loop
from polybot.app.execute.paper_gateway import PaperGateway
from polybot.app.execute.pipeline import Executor
from polybot.app.execute.upkeep import risk_loop
from polybot.bus.book_feed import BookFeed
from polybot.bus.client import Bus
from polybot.runtime.settings import Settings
from polybot.venue.order_gateway import GatewayError, OrderGateway

Loops = Callable[[Executor], list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]]]


@asynccontextmanager
async def open_gateway(settings: Settings, bus: Bus) -> AsyncIterator[tuple[OrderGateway, Loops]]:
    """The mode's gateway and the extra loops it needs: in every mode the risk check marked at the published
    books' midpoints, and in paper the matching on every book change."""
    async with BookFeed(bus, stale_after_ms=settings.quoter.stale_after_ms) as feed:
        books = FeedBooks(feed)
        if settings.mode == "paper":
            gateway = PaperGateway(books)

            def loops(ex: Executor) -> list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]]:
                return [("exec-risk", lambda: risk_loop(ex, books.mark)),
                        ("exec-paper-books", lambda: paper_books_loop(ex, gateway, feed))]

            yield gateway, loops
            return
        async with open_clob_gateway(settings) as clob:
            yield clob, lambda ex: [("exec-risk", lambda: risk_loop(ex, books.mark))]


@asynccontextmanager
async def open_clob_gateway(settings: Settings) -> AsyncIterator[OrderGateway]:
    """The SDK client for the configured mode (sim: polysim's environment; live: PRODUCTION, unchanged)."""
    if settings.private_key is None:
        raise GatewayError(f"mode = {settings.mode!r} needs a private key (POLYBOT_PRIVATE_KEY)")
    ex = settings.executor
    kwargs: dict[str, Any] = {"private_key": settings.private_key.get_secret_value()}
    if settings.mode == "live":
        from polymarket import PRODUCTION

        kwargs["environment"] = PRODUCTION
    else:
        from polybot.venue.sdk_environment import sim_environment

        ws_base = ex.ws_user_url.removesuffix("/user").removesuffix("/ws")
        kwargs["environment"] = sim_environment(ex.clob_url, ex.gamma_url, ws_base)
    if ex.funder is not None:
        kwargs["wallet"] = ex.funder
    elif ex.signature_type == "eoa":
        from eth_account import Account

        kwargs["wallet"] = Account.from_key(kwargs["private_key"]).address
    from polymarket import AsyncSecureClient  # the SDK is imported only where orders really go out

    from polybot.venue.clob_gateway import ClobGateway

    client = await AsyncSecureClient.create(**kwargs)
    gateway = ClobGateway(client, chain_id=settings.chain_id, timeout_s=ex.request_timeout_s)
    try:
        yield gateway
    finally:
        with contextlib.suppress(Exception):
            await gateway.close()
