"""Shared polysim fixtures: an in-process simulator per test (fast to start, seeded)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from polysim.harness import RunningSim, running_sim


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    """A small seeded simulator (6 markets) serving on 127.0.0.1."""
    async with running_sim(seed=1, n_markets=6) as s:
        yield s
