"""A stop cancels nats-py's first connect for sure, although nats-py can swallow a single cancellation.

When the cancel lands just as a refused connection fails, Python 3.11's ``wait_for`` returns the failure,
nats-py counts it as one more failed attempt and goes on retrying; a service whose NATS was down then
ignored SIGINT (``test_stop_while_unreachable`` hung about once a CI run).
"""

from __future__ import annotations

import asyncio
import contextlib
import random

import nats

from polybot.runtime.embedded import free_port
from polybot.runtime.lifecycle import cancel_and_wait


async def _quiet(exc: Exception) -> None:
    pass


async def test_every_connect_attempt_ends_when_cancelled() -> None:
    url = f"nats://127.0.0.1:{free_port()}"  # nothing listens: every connection is refused at once
    rng = random.Random(7)
    lasted = []
    for _ in range(150):
        # Retries close together make the window where a cancel is swallowed wide enough to hit often.
        attempt = asyncio.create_task(nats.connect(servers=[url], connect_timeout=2, max_reconnect_attempts=-1,
                                                   reconnect_time_wait=0.002, error_cb=_quiet))
        await asyncio.sleep(rng.uniform(0.005, 0.03))
        t0 = asyncio.get_running_loop().time()
        assert await cancel_and_wait(attempt, limit_s=2.0)
        lasted.append(asyncio.get_running_loop().time() - t0)
    assert max(lasted) < 1.0, max(lasted)


async def test_a_task_that_ignores_one_cancel_is_cancelled_again() -> None:
    ended = asyncio.Event()

    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # what nats-py's retry loop does with an unlucky cancel
            await asyncio.sleep(60)
        try:
            await asyncio.sleep(60)
        finally:
            ended.set()

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    assert await cancel_and_wait(task, limit_s=1.0)
    assert ended.is_set() and task.cancelled()


async def test_a_task_that_never_ends_is_reported_not_waited_for() -> None:
    release = asyncio.Event()

    async def immortal() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(60)

    task = asyncio.create_task(immortal())
    await asyncio.sleep(0)
    assert not await cancel_and_wait(task, limit_s=0.3)
    release.set()
    task.cancel()
    await asyncio.wait({task}, timeout=1)
