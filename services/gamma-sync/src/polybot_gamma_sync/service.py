"""The gamma-sync service: a full refresh every ``full_refresh_interval_s``, an incremental one in between.

It runs the shared pipeline (``polybot.app.gamma_refresh``); this shell only schedules it, reports it on
``/status`` and exposes ``gamma_refresh_total``, ``gamma_refresh_errors_total``, ``gamma_markets`` (by
state), ``gamma_refresh_duration_seconds`` and ``gamma_deprecation_notices_total`` (by endpoint and
header: the venue announcing, with ``Deprecation``/``Sunset``/``Warning``, that an endpoint we use is going
away; ``/status`` lists them under ``venue_notices``). A refresh in progress when the service is told to
stop is cancelled: its current page's transaction rolls back and the next start picks up from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

from prometheus_client import Histogram

from polybot.app.gamma_refresh import GammaRefresher, RefreshCounts, client_config
from polybot.runtime.lifecycle import ServiceContext
from polybot.store import gamma_repo
from polybot.venue.gamma_client import GammaClient

log = logging.getLogger(__name__)

FULL = "full"
INCREMENTAL = "incremental"
_STATES = ("open", "inactive", "closed", "missing", "selected", "total")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class GammaSyncService:
    name: ClassVar[str] = "gamma-sync"
    migration_owners: ClassVar[tuple[str, ...]] = ("gamma",)

    def __init__(self) -> None:
        self._last: dict[str, dict[str, Any]] = {}
        self._errors_total = 0
        self._last_error: dict[str, Any] | None = None
        self._running: str | None = None
        self._markets: dict[str, int] = {}
        self._next_at: dict[str, float] = {}
        self._client: GammaClient | None = None

    async def run(self, ctx: ServiceContext) -> None:
        bus, pool = ctx.require()
        gs = ctx.settings.gamma
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is thousands a refresh
        m = ctx.metrics
        refreshes = m.counter("gamma_refresh_total", "Gamma refreshes completed", ["kind"])
        errors = m.counter("gamma_refresh_errors_total", "Gamma refreshes that failed", ["kind"])
        markets = m.gauge("gamma_markets", "Markets in the database by state", ["state"])
        duration = m.histogram("gamma_refresh_duration_seconds", "Duration of Gamma refreshes", ["kind"],
                               buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300))
        notices = m.counter("gamma_deprecation_notices_total",
                            "Gamma answers announcing a deprecation (Deprecation, Sunset or Warning header)",
                            ["endpoint", "header"])

        def on_notice(endpoint: str, header: str) -> None:
            notices.inc(endpoint=endpoint, header=header)

        async with GammaClient(client_config(gs), on_notice=on_notice) as client:
            self._client = client
            refresher = GammaRefresher(client, pool, bus, gs)
            now = time.monotonic()
            self._next_at = {FULL: now}
            if gs.incremental_interval_s > 0:
                self._next_at[INCREMENTAL] = now + gs.incremental_interval_s
            while not ctx.stopping.is_set():
                now = time.monotonic()
                due = FULL if self._next_at[FULL] <= now else (
                    INCREMENTAL if self._next_at.get(INCREMENTAL, float("inf")) <= now else None)
                if due is None:
                    wait = min(self._next_at.values()) - now
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(ctx.stopping.wait(), timeout=max(0.0, wait))
                    continue
                outcome = await self._one(ctx, refresher, due, duration)
                if outcome == "cancelled":
                    break
                (refreshes if outcome == "ok" else errors).inc(kind=due)
                done = time.monotonic()
                if due == FULL:  # a failed full refresh is retried soon, not a whole interval later
                    retry_s = gs.full_refresh_interval_s if outcome == "ok" else min(gs.full_refresh_interval_s, 30.0)
                    self._next_at[FULL] = done + retry_s
                if INCREMENTAL in self._next_at:  # a full refresh also covers what an incremental one would
                    self._next_at[INCREMENTAL] = done + gs.incremental_interval_s
                with contextlib.suppress(Exception):
                    async with pool.acquire() as conn:
                        self._markets = await gamma_repo.state_counts(conn)
                    for state in _STATES:
                        markets.labels(state=state).set(self._markets.get(state, 0))

    async def _one(self, ctx: ServiceContext, refresher: GammaRefresher, kind: str, duration: Histogram) -> str:
        """Run one refresh unless the service stops first; record its outcome."""
        self._running = kind
        started = time.monotonic()
        task = asyncio.create_task(refresher.full() if kind == FULL else refresher.incremental())
        stop = asyncio.create_task(ctx.stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                log.info("refresh cancelled by shutdown", extra={"kind": kind})
                return "cancelled"
            counts: RefreshCounts = task.result()
        except Exception as exc:
            self._errors_total += 1
            self._last_error = {"at": _now_iso(), "kind": kind, "error": f"{type(exc).__name__}: {exc}"}
            log.error("gamma refresh failed", extra={"kind": kind, "error": repr(exc)})
            return "error"
        finally:
            stop.cancel()
            self._running = None
            duration.labels(kind=kind).observe(time.monotonic() - started)
        self._last[kind] = {"finished_at": _now_iso(), **counts.as_dict()}
        self._last["latest"] = {k: self._last[kind][k] for k in ("kind", "finished_at", "duration_s")}
        log.info("gamma refresh done", extra=counts.as_dict())
        return "ok"

    def _notices(self) -> list[dict[str, Any]]:
        client = self._client
        if client is None:
            return []
        return [{"endpoint": e, "header": h, "value": v, "count": n} for (e, h, v), n in sorted(client.notices.items())]

    async def status(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "refreshing": self._running,
            "last_refresh": self._last.get("latest"),
            "last_full": self._last.get(FULL),
            "last_incremental": self._last.get(INCREMENTAL),
            "errors": {"total": self._errors_total, "last": self._last_error},
            "markets": self._markets,
            "venue_notices": self._notices(),
            "next_in_s": {k: round(max(0.0, v - now), 1) for k, v in self._next_at.items()},
        }
