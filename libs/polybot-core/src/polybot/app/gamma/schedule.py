"""When gamma-sync refreshes: a full refresh every ``full_refresh_interval_s``, an incremental one between.

A failed full refresh is retried soon (30 s at most), not a whole interval later; a full refresh also
covers what an incremental one would, so it resets the incremental clock. A refresh in progress when the
service is told to stop is cancelled: its current page's transaction rolls back and the next start picks
up from the database. Outcomes go to the metrics (``gamma_refresh_total``, ``gamma_refresh_errors_total``,
``gamma_markets``, ``gamma_refresh_duration_seconds``) and to ``status()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import asyncpg

from polybot.app.gamma.refresh import GammaRefresher, RefreshCounts
from polybot.runtime.metrics import Metrics
from polybot.runtime.settings import GammaSettings
from polybot.store import gamma_repo

log = logging.getLogger(__name__)

FULL = "full"
INCREMENTAL = "incremental"
_STATES = ("open", "inactive", "closed", "missing", "selected", "total")
_FAILED_FULL_RETRY_S = 30.0


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class RefreshSchedule:
    """Runs ``refresher`` on the schedule until ``stopping`` is set; ``status()`` is the ``/status`` body."""

    def __init__(self, refresher: GammaRefresher, pool: asyncpg.Pool, settings: GammaSettings,
                 metrics: Metrics) -> None:
        self.refresher = refresher
        self.pool = pool
        self.settings = settings
        self._refreshes = metrics.counter("gamma_refresh_total", "Gamma refreshes completed", ["kind"])
        self._errors = metrics.counter("gamma_refresh_errors_total", "Gamma refreshes that failed", ["kind"])
        self._markets_gauge = metrics.gauge("gamma_markets", "Markets in the database by state", ["state"])
        self._duration = metrics.histogram("gamma_refresh_duration_seconds", "Duration of Gamma refreshes",
                                           ["kind"], buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300))
        self._last: dict[str, dict[str, Any]] = {}
        self._errors_total = 0
        self._last_error: dict[str, Any] | None = None
        self._running: str | None = None
        self._markets: dict[str, int] = {}
        self._next_at: dict[str, float] = {}

    async def run(self, stopping: asyncio.Event) -> None:
        gs = self.settings
        now = time.monotonic()
        self._next_at = {FULL: now}
        if gs.incremental_interval_s > 0:
            self._next_at[INCREMENTAL] = now + gs.incremental_interval_s
        while not stopping.is_set():
            now = time.monotonic()
            due = FULL if self._next_at[FULL] <= now else (
                INCREMENTAL if self._next_at.get(INCREMENTAL, float("inf")) <= now else None)
            if due is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=max(0.0, min(self._next_at.values()) - now))
                continue
            run = self.refresher.full if due == FULL else self.refresher.incremental
            outcome = await self._one(due, run, stopping)
            if outcome == "cancelled":
                break
            (self._refreshes if outcome == "ok" else self._errors).inc(kind=due)
            done = time.monotonic()
            if due == FULL:
                ok = outcome == "ok"
                self._next_at[FULL] = done + (gs.full_refresh_interval_s if ok else
                                              min(gs.full_refresh_interval_s, _FAILED_FULL_RETRY_S))
            if INCREMENTAL in self._next_at:
                self._next_at[INCREMENTAL] = done + gs.incremental_interval_s
            await self._count_markets()

    async def _count_markets(self) -> None:
        try:
            async with self.pool.acquire() as conn:
                self._markets = await gamma_repo.state_counts(conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("could not count markets", extra={"error": repr(exc)})
            return
        for state in _STATES:
            self._markets_gauge.labels(state=state).set(self._markets.get(state, 0))

    async def _one(self, kind: str, run: Callable[[], Coroutine[Any, Any, RefreshCounts]],
                   stopping: asyncio.Event) -> str:
        """Run one refresh unless the service stops first; record its outcome."""
        self._running = kind
        started = time.monotonic()
        task = asyncio.create_task(run())
        stop = asyncio.create_task(stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                log.info("refresh cancelled by shutdown", extra={"kind": kind})
                return "cancelled"
            counts = task.result()
        except Exception as exc:
            self._errors_total += 1
            self._last_error = {"at": _now_iso(), "kind": kind, "error": f"{type(exc).__name__}: {exc}"}
            log.error("gamma refresh failed", extra={"kind": kind, "error": repr(exc)})
            return "error"
        finally:
            stop.cancel()
            self._running = None
            self._duration.labels(kind=kind).observe(time.monotonic() - started)
        self._last[kind] = {"finished_at": _now_iso(), **counts.as_dict()}
        self._last["latest"] = {k: self._last[kind][k] for k in ("kind", "finished_at", "duration_s")}
        log.info("gamma refresh done", extra=counts.as_dict())
        return "ok"

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        notices = self.refresher.client.notices
        return {
            "refreshing": self._running,
            "last_refresh": self._last.get("latest"),
            "last_full": self._last.get(FULL),
            "last_incremental": self._last.get(INCREMENTAL),
            "errors": {"total": self._errors_total, "last": self._last_error},
            "markets": self._markets,
            "venue_notices": [{"endpoint": e, "header": h, "value": v, "count": n}
                              for (e, h, v), n in sorted(notices.items())],
            "next_in_s": {k: round(max(0.0, v - now), 1) for k, v in self._next_at.items()},
        }
