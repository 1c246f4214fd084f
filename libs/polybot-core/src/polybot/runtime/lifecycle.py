"""Run a service: logging, metrics, NATS, PostgreSQL, migrations, the ops app, signals and a clean drain.

A service's ``__main__`` is a few lines::

    def main() -> None:
        run_service(MyService())

Start order: the ops app first (``/healthz`` answers at once, ``/readyz`` stays red), then NATS and
PostgreSQL with retries, then migrations and streams, then ``service.run(ctx)``. SIGINT/SIGTERM set
``ctx.stopping``; the service returns, the bus drains, the pool closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import asyncpg
import uvicorn

from polybot.bus.client import Bus
from polybot.runtime import eventloop, platform
from polybot.runtime.infra import Infra, resolve_infra
from polybot.runtime.jsonlog import log_level_problem, setup_logging
from polybot.runtime.metrics import Metrics
from polybot.runtime.ops_app import build_ops_app
from polybot.runtime.settings import Settings, load_settings, settings_problem
from polybot.store import migrate
from polybot.store.pool import create_pool
from polybot.store.pool import ping as db_ping

log = logging.getLogger(__name__)
# One connection attempt (NATS, then PostgreSQL) before it is abandoned, logged and made again.
_CONNECT_ATTEMPT_S = 15.0
# How long a stop keeps cancelling a connect attempt that does not end (see ``cancel_and_wait``).
_CANCEL_LIMIT_S = 5.0


@dataclass
class ServiceContext:
    name: str
    settings: Settings
    metrics: Metrics
    stopping: asyncio.Event
    bus: Bus | None = None
    pool: asyncpg.Pool | None = None
    migrated: bool = False
    extra_ready: dict[str, Callable[[], Awaitable[bool]]] = field(default_factory=dict)

    def require(self) -> tuple[Bus, asyncpg.Pool]:
        if self.bus is None or self.pool is None:
            raise RuntimeError("service context is not connected yet")
        return self.bus, self.pool


class Service(Protocol):
    name: ClassVar[str]
    migration_owners: ClassVar[tuple[str, ...]]

    async def run(self, ctx: ServiceContext) -> None:
        """Do the service's work until ``ctx.stopping`` is set."""

    async def status(self) -> dict[str, Any]:
        """Service-specific JSON for ``/status``."""


class _OpsServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Our lifecycle owns the signals; uvicorn must not re-raise them after it stops.
        yield


async def readiness(ctx: ServiceContext, owners: tuple[str, ...]) -> dict[str, bool]:
    checks: dict[str, bool] = {
        "nats": ctx.bus is not None and await ctx.bus.ping(),
        "postgres": ctx.pool is not None and await db_ping(ctx.pool),
    }
    if checks["postgres"] and ctx.pool is not None and not ctx.migrated:
        with contextlib.suppress(Exception):
            ctx.migrated = not await migrate.pending(ctx.pool, owners)
    checks["migrations"] = ctx.migrated and checks["postgres"]
    for name, check in ctx.extra_ready.items():
        try:
            checks[name] = await check()
        except Exception:
            checks[name] = False
    return checks


@contextlib.asynccontextmanager
async def ops_server(app: Any, host: str, port: int) -> AsyncIterator[_OpsServer]:
    server = _OpsServer(uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="off", access_log=False))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # surfaces the bind error
                raise RuntimeError(f"ops server on {host}:{port} stopped before starting")
            await asyncio.sleep(0.02)
        yield server
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=5)


async def _connect_with_retry(ctx: ServiceContext, infra: Infra) -> None:
    """Connect to NATS and PostgreSQL, retrying until both answer or ``ctx.stopping`` is set.

    Each attempt races ``ctx.stopping``: nats-py's first connect retries on its own for as long as the
    reconnect settings allow (for ever, for a service), so a stop that only waited between attempts was
    never seen, and a service whose NATS was down outlived its SIGTERM by minutes.
    """
    delay = 0.2
    while not ctx.stopping.is_set():
        attempt = asyncio.create_task(_connect_once(ctx, infra))
        stop = asyncio.create_task(ctx.stopping.wait())
        try:
            await asyncio.wait({attempt, stop}, timeout=_CONNECT_ATTEMPT_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not attempt.done():
            await cancel_and_wait(attempt)
            if ctx.stopping.is_set():
                return
            exc: BaseException | None = TimeoutError(f"no answer within {_CONNECT_ATTEMPT_S:.0f} s")
        else:
            exc = attempt.exception()
        if exc is None:
            return
        log.warning("infrastructure not reachable yet, retrying", extra={"error": repr(exc), "retry_s": delay})
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ctx.stopping.wait(), timeout=delay)
        delay = min(delay * 2, 5.0)


async def cancel_and_wait(task: asyncio.Task[Any], limit_s: float = _CANCEL_LIMIT_S) -> bool:
    """Cancel ``task`` until it has ended (at most ``limit_s``); True when it did.

    One cancel is not enough for nats-py's first connect: when it lands just as a refused connection fails,
    Python 3.11's ``wait_for`` hands back the failure instead of the cancellation, nats-py counts one more
    failed attempt and retries for ever (seen in about 1 cancel in 20 with the retries close together).
    The next cancel lands in its back-off sleep, where nothing swallows it.
    """
    deadline = time.monotonic() + limit_s
    while not task.done() and time.monotonic() < deadline:
        task.cancel()
        await asyncio.wait({task}, timeout=0.05)
    if not task.done():
        log.error("a task did not end on cancel", extra={"task": task.get_name(), "limit_s": limit_s})
        return False
    if not task.cancelled():
        task.exception()  # retrieved: an attempt that failed as it was cancelled is not an unhandled error
    return True


async def _connect_once(ctx: ServiceContext, infra: Infra) -> None:
    if ctx.bus is None:
        bus = await Bus.connect(infra.nats_url, name=ctx.name)
        try:
            await bus.ensure_streams()
        except BaseException:
            with contextlib.suppress(Exception):
                await bus.close()
            raise
        ctx.bus = bus
    if ctx.pool is None:
        ctx.pool = await create_pool(infra.database_url)


def install_signal_handlers(stopping: asyncio.Event) -> None:
    """SIGINT/SIGTERM (and Ctrl-Break on Windows) set ``stopping`` (``polybot.runtime.platform``)."""
    platform.on_stop_signals(asyncio.get_running_loop(), stopping.set)


async def serve(service: Service, settings: Settings, port: int, *, stopping: asyncio.Event | None = None) -> None:
    """Run ``service`` with its ops app on ``port`` until ``stopping`` is set (by a signal by default)."""
    ctx = ServiceContext(service.name, settings, Metrics(), stopping or asyncio.Event())
    if stopping is None:
        install_signal_handlers(ctx.stopping)
    owners = ("audit", *service.migration_owners)
    infra = resolve_infra(settings.nats_url, settings.database_url, settings.state_dir)
    app = build_ops_app(service.name, lambda: readiness(ctx, owners), service.status, ctx.metrics)
    extra_routes = getattr(service, "ops_router", None)  # a service's own admin routes (the executor's /kill)
    if extra_routes is not None:
        app.include_router(extra_routes(ctx))
    async with AsyncExitStack() as stack:
        stack.callback(infra.close)
        await stack.enter_async_context(ops_server(app, settings.ops.host, port))
        log.info("ops app listening", extra={"host": settings.ops.host, "port": port})
        await _connect_with_retry(ctx, infra)
        if ctx.stopping.is_set():
            return
        bus, pool = ctx.require()
        stack.push_async_callback(pool.close)
        stack.push_async_callback(bus.close)
        await migrate.apply_migrations(pool, owners)
        ctx.migrated = True
        eventloop.freeze_startup_heap()
        log.info("service started", extra={"service": service.name})
        run_task = asyncio.create_task(service.run(ctx))
        stop_task = asyncio.create_task(ctx.stopping.wait())
        await asyncio.wait({run_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        ctx.stopping.set()
        try:
            await asyncio.wait_for(run_task, timeout=10)
        except TimeoutError:
            log.error("service did not stop within 10 s; cancelling")
            run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run_task
        stop_task.cancel()
        log.info("service stopped", extra={"service": service.name})


def run_service(service: Service, port_of: Callable[[Settings], int]) -> None:
    """Entry point for a service process."""
    try:
        settings = load_settings()
    except Exception as exc:
        problem = settings_problem(exc)
        if problem is None and isinstance(exc, ValueError | RecursionError):  # a TOML number of 5000 digits,
            problem = f"the settings cannot be read: {' '.join(str(exc).split(';')[0].split())[:300]}"  # or JSON
        if problem is None:
            raise
        sys.stderr.write(f"{service.name}: cannot start: {problem}\n")
        sys.exit(2)
    preflight = getattr(service, "preflight", None)  # e.g. the executor refusing live mode without both opt-ins
    refusal = preflight(settings) if preflight is not None else None
    if refusal is not None:
        sys.stderr.write(f"{service.name}: cannot start: {refusal}\n")
        sys.exit(2)
    level = log_level_problem(settings.log_level)
    if level is not None:
        sys.stderr.write(f"{service.name}: cannot start: invalid setting log_level = {settings.log_level!r}: {level}\n")
        sys.exit(2)
    setup_logging(service.name, settings.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        eventloop.run(serve(service, settings, port_of(settings)))
    sys.exit(0)
