"""`polybot.cli status` against a real PostgreSQL: JSON and table output, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from polybot.store import migrate


def _cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "polybot.cli", "status", *args], capture_output=True, text=True,
                          timeout=60, check=False, cwd=cwd, env=env)


async def _seed(pool: asyncpg.Pool) -> int:
    await migrate.apply_migrations(pool, ("ingest",))
    now = int(time.time() * 1000)
    await pool.executemany(
        "INSERT INTO market_status (asset_id, market, last_seq, last_update_ts_ms, snapshots, deltas, state,"
        " resync_first_delta, resync_gap, resync_checksum, resync_tick_size) VALUES"
        " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        [("111", "0xm1", 42, now - 1500, 3, 40, "live", 0, 1, 2, 0),
         ("222", "0xm1", 7, now - 200, 1, 6, "resyncing", 1, 0, 0, 0),
         ("333", "0xm2", 0, None, 0, 0, "awaiting_snapshot", 0, 0, 0, 0)],
    )
    return now


async def test_status_json_groups_assets_by_market(pool: asyncpg.Pool, database_url: str) -> None:
    seeded_at = await _seed(pool)
    res = _cli("--db-url", database_url, "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert set(report["markets"]) == {"0xm1", "0xm2"}
    a = report["markets"]["0xm1"]["111"]
    assert (a["state"], a["last_seq"], a["snapshots"], a["deltas"]) == ("live", 42, 3, 40)
    assert a["last_update_ts_ms"] == seeded_at - 1500
    assert 1500 <= a["freshness_ms"] < 1500 + 60_000
    assert a["resyncs"] == {"first_delta": 0, "gap": 1, "checksum": 2, "tick_size": 0}
    assert report["markets"]["0xm2"]["333"]["freshness_ms"] is None

    only = json.loads(_cli("--db-url", database_url, "--json", "--market", "0xm2").stdout)
    assert list(only["markets"]) == ["0xm2"]


async def test_status_table_lists_every_asset(pool: asyncpg.Pool, database_url: str) -> None:
    await _seed(pool)
    res = _cli("--db-url", database_url)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["MARKET", "ASSET", "STATE", "LAST_SEQ"]
    assert len(lines) == 4 and "resyncing" in res.stdout and "awaiting_snapshot" in res.stdout


async def test_status_without_tables_is_a_clear_error(database_url: str) -> None:
    res = _cli("--db-url", database_url)
    assert res.returncode == 2 and "market_status" in res.stderr and "Traceback" not in res.stderr


def test_status_without_any_database_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
    env["POLYBOT_STATE_DIR"] = str(tmp_path)
    (tmp_path / "empty.toml").write_text("")
    env["POLYBOT_CONFIG"] = str(tmp_path / "empty.toml")
    res = _cli(env=env, cwd=tmp_path)
    assert res.returncode == 2 and "no database" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "infra.json").exists()  # it must not start servers of its own


def test_status_with_an_unreachable_database_is_a_clear_error() -> None:
    res = _cli("--db-url", "postgresql://postgres@127.0.0.1:9/none")
    assert res.returncode == 2 and "cannot connect" in res.stderr and "Traceback" not in res.stderr
