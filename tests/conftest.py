"""Real infrastructure for the tests: env URLs, else containers, else embedded servers (never mocks)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import settings

from polybot.bus.client import Bus
from polybot.runtime.infra import Infra, resolve_infra
from polybot.store.pool import create_pool

REPO = Path(__file__).resolve().parents[1]
# The recordings live in ../shared (CI lays it beside the clone, possibly with more recordings than we
# vendored); a checkout on its own falls back to the copy under tests/fixtures. Tests read the env var.
_SHARED = REPO.parent / "shared" / "fixtures" / "polymarket"
FIXTURES = _SHARED if _SHARED.is_dir() else REPO / "tests" / "fixtures" / "polymarket"
os.environ.setdefault("POLYBOT_FIXTURES", str(FIXTURES))

# CI replays the same hypothesis examples every run (a landing must not hinge on a lucky draw); local runs
# keep exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    state = tmp_path_factory.mktemp("infra")
    inf = resolve_infra(
        os.environ.get("POLYBOT_NATS_URL"),
        os.environ.get("POLYBOT_DATABASE_URL"),
        state,
        allow_containers=True,
        share=False,
        durable=False,
    )
    yield inf
    inf.close()


def _with_db(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
async def database_url(infra: Infra) -> AsyncIterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_with_db(infra.database_url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_db(infra.database_url, name)
    admin = await asyncpg.connect(_with_db(infra.database_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(database_url)
    yield p
    await p.close()


@pytest.fixture
async def bus(infra: Infra) -> AsyncIterator[Bus]:
    b = await Bus.connect(infra.nats_url, name="pytest")
    await b.ensure_streams()
    yield b
    await b.close()
