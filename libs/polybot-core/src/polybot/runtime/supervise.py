"""Supervised long-lived tasks: nothing dies silently.

A task that ends with an unexpected exception is logged with its traceback, counted
(``task_failures{task}``), and started again after a jittered exponential backoff (reset once it has run
for a while). While it is down its name is in ``down()``, which the services turn into a ``/readyz`` 503
naming it. Cancellation (shutdown) is not a failure and is never restarted.

Tasks that restart themselves (a websocket shard reconnects, a resync fetch retries) report their failures
with ``record_failure`` so that every unexpected exception shows in the same ``task_failures`` counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from polybot.domain.retry import backoff_delay_s
from polybot.runtime.metrics import ExactCounter, Metrics

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Coroutine[Any, Any, None]]


class Supervisor:
    """Starts and restarts named tasks; ``down()`` names those not running right now."""

    def __init__(self, metrics: Metrics | None = None, *, base_s: float = 0.2, max_s: float = 10.0,
                 healthy_after_s: float = 30.0, stopping: asyncio.Event | None = None) -> None:
        self._stopping = stopping  # a task that returns once this is set has finished, not failed
        self._failures: ExactCounter | None = None
        if metrics is not None:
            self._failures = metrics.counter("task_failures", "Long-lived tasks that died unexpectedly "
                                                              "(restarted with backoff)", ["task"])
        self.base_s = base_s
        self.max_s = max_s
        self.healthy_after_s = healthy_after_s
        self.failures: dict[str, int] = {}
        self._down: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, make: TaskFactory) -> asyncio.Task[None]:
        """Run ``make()`` as task ``name`` under supervision (a name is started once)."""
        if name in self._tasks and not self._tasks[name].done():
            raise RuntimeError(f"task {name} is already supervised")
        self.expect(name)
        task = asyncio.create_task(self._keep(name, make), name=name)
        self._tasks[name] = task
        return task

    def expect(self, name: str) -> None:
        """Show ``task_failures{task=name}`` at 0 before a self-restarting task first fails."""
        self.failures.setdefault(name, 0)
        if self._failures is not None:
            self._failures.inc(0, task=name)

    def record_failure(self, name: str) -> None:
        """Count a failure that a self-restarting task survived (it has logged it, with its traceback)."""
        self.failures[name] = self.failures.get(name, 0) + 1
        if self._failures is not None:
            self._failures.inc(task=name)

    def down(self) -> list[str]:
        return sorted(self._down)

    def check(self, name: str) -> Callable[[], Awaitable[bool]]:
        """A ``/readyz`` check: false while task ``name`` is down."""
        async def running() -> bool:
            return name not in self._down

        return running

    async def stop(self) -> None:
        """Cancel every supervised task and wait for them."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _keep(self, name: str, make: TaskFactory) -> None:
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                await make()
                if self._stopping is not None and self._stopping.is_set():
                    return
                log.warning("supervised task returned; starting it again", extra={"task": name})
            except asyncio.CancelledError:
                raise
            except Exception:
                self.record_failure(name)
                log.exception("supervised task failed; restarting it", extra={"task": name})
            if time.monotonic() - started >= self.healthy_after_s:
                attempt = 0  # it ran well for a while: this is a new failure, not a crash loop
            attempt += 1
            self._down.add(name)
            try:
                await asyncio.sleep(backoff_delay_s(attempt, self.base_s, self.max_s, random.random()))
            finally:
                self._down.discard(name)
