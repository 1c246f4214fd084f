"""Supervised tasks: a failure is logged with its traceback, counted, restarted after a backoff, and named in
``down()`` meanwhile; cancellation is a shutdown, not a failure."""

from __future__ import annotations

import asyncio
import logging

import pytest

from polybot.runtime.metrics import Metrics
from polybot.runtime.supervise import Supervisor


async def test_a_failing_task_is_logged_counted_restarted_and_named_while_down(
    caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    sup = Supervisor(metrics, base_s=0.2, max_s=0.2)
    runs = 0
    healthy = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 2:
            raise RuntimeError(f"boom {runs}")
        healthy.set()
        await asyncio.Event().wait()

    with caplog.at_level(logging.ERROR, logger="polybot.runtime.supervise"):
        sup.start("flaky", flaky)
        await asyncio.sleep(0.05)
        assert sup.down() == ["flaky"]  # backing off after the first failure
        await asyncio.wait_for(healthy.wait(), 5)
    assert sup.down() == [] and runs == 3 and sup.failures == {"flaky": 2}
    failed = [r for r in caplog.records if r.getMessage() == "supervised task failed; restarting it"]
    assert len(failed) == 2 and all(r.exc_info is not None for r in failed)
    assert 'task_failures{task="flaky"} 2.0' in metrics.render().decode()
    await sup.stop()
    assert sup.failures == {"flaky": 2}  # stopping is not a failure


async def test_a_name_is_supervised_once() -> None:
    sup = Supervisor()

    async def forever() -> None:
        await asyncio.Event().wait()

    sup.start("x", forever)
    with pytest.raises(RuntimeError, match="already supervised"):
        sup.start("x", forever)
    await sup.stop()


async def test_a_task_that_returns_at_shutdown_has_finished_and_self_restarting_tasks_are_counted() -> None:
    metrics = Metrics()
    stopping = asyncio.Event()
    sup = Supervisor(metrics, base_s=0.05, max_s=0.05, stopping=stopping)
    runs = 0

    async def until_stopped() -> None:
        nonlocal runs
        runs += 1
        await stopping.wait()

    task = sup.start("loop", until_stopped)
    ready = sup.check("loop")
    assert await ready() is True
    stopping.set()
    await asyncio.wait_for(task, 1)  # ended by itself, not restarted
    assert runs == 1 and sup.failures == {"loop": 0}

    sup.expect("shard")
    assert 'task_failures{task="shard"} 0.0' in metrics.render().decode()
    sup.record_failure("shard")
    assert 'task_failures{task="shard"} 1.0' in metrics.render().decode() and sup.failures["shard"] == 1
