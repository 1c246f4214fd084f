"""The gamma-refresh CLI as a real process: counts, idempotence, plain errors (the service: test_gamma_polysim)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from polybot.runtime.embedded import free_port
from polybot.runtime.infra import Infra

REPO = Path(__file__).resolve().parents[2]


def _env(infra: Infra, database_url: str, venue: Any, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
    env.update(
        POLYBOT_NATS_URL=infra.nats_url,
        POLYBOT_DATABASE_URL=database_url,
        POLYBOT_STATE_DIR=str(tmp / "state"),
        POLYBOT_GAMMA__GAMMA_URL=venue.gamma_url,
        POLYBOT_GAMMA__CLOB_URL=venue.url,
        POLYBOT_GAMMA__BACKOFF_BASE_S="0.01",
        **extra,
    )
    return env


async def _spawn(args: list[str], env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, *args, env=env, cwd=cwd,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_cli_gamma_refresh_prints_counts_and_is_idempotent(
    start_venue: Any, infra: Infra, database_url: str, tmp_path: Path
) -> None:
    venue = await start_venue(uuid.uuid4().hex[:8], 4, 3)
    venue.events[0]["markets"][0]["outcomes"] = '["Yes"]'  # one malformed market
    cid = venue.markets()[1]["conditionId"]
    env = _env(infra, database_url, venue, tmp_path, POLYBOT_GAMMA__SELECTION__CONDITION_IDS=json.dumps([cid]))
    env.pop("POLYBOT_GAMMA__GAMMA_URL")  # comes from --gamma-url instead
    args = ["-m", "polybot.cli", "gamma-refresh", "--gamma-url", venue.gamma_url, "--json"]
    outs = []
    for _ in range(2):
        proc = await _spawn(args, env, tmp_path)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err.decode()
        outs.append(json.loads(out))
    first, second = outs
    keys = ["events", "markets", "outcomes", "inserted", "updated", "unchanged", "skipped_invalid",
            "selected_for_making", "duration_s"]
    assert list(first) == keys
    assert {k: first[k] for k in keys[:-1]} == {"events": 4, "markets": 11, "outcomes": 22, "inserted": 11,
                                                "updated": 0, "unchanged": 0, "skipped_invalid": 1,
                                                "selected_for_making": 1}
    assert (second["inserted"], second["updated"], second["unchanged"]) == (0, 0, 11)
    assert b"skipping invalid gamma item" in err or b"invalid" in err


async def test_cli_reports_unreachable_gamma_plainly(infra: Infra, database_url: str, tmp_path: Path) -> None:
    class _Nowhere:
        url = f"http://127.0.0.1:{free_port()}"
        gamma_url = f"{url}/gamma"

    env = _env(infra, database_url, _Nowhere(), tmp_path)
    proc = await _spawn(["-m", "polybot.cli", "gamma-refresh"], env, tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2
    assert err.decode().strip().splitlines()[-1].startswith(f"error: cannot reach Gamma at {_Nowhere.gamma_url}")



async def test_cli_reports_unreachable_database_plainly(
    start_venue: Any, infra: Infra, database_url: str, tmp_path: Path
) -> None:
    venue = await start_venue(uuid.uuid4().hex[:8], 1, 1)
    bad = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/nope"
    env = _env(infra, bad, venue, tmp_path)
    proc = await _spawn(["-m", "polybot.cli", "gamma-refresh"], env, tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("error: cannot connect to PostgreSQL at postgresql://postgres:***@127.0.0.1:"), last
    assert "secret" not in err.decode()
