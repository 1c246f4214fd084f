"""The two one-shot steps docker-compose.yml runs where ``polybot up`` works in-process: ``polybot migrate``
(the ``migrate`` job) and ``polybot with-sim-wallet -- …`` (the executor's throwaway funded key in sim mode)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import asyncpg

from polybot.store.migrate import discover
from polysim.harness import running_sim

REPO = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
    env.update(extra)
    return env


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "polybot.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


async def test_migrate_applies_every_migration_once(database_url: str, tmp_path: Path) -> None:
    env = _env(POLYBOT_DATABASE_URL=database_url, POLYBOT_STATE_DIR=str(tmp_path / "state"))
    every = [f"{m.owner}/{m.version:04d}_{m.name}" for m in discover()]
    first = await asyncio.to_thread(_cli, "migrate", "--json", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["applied"] == every and report["already_applied"] == 0
    again = await asyncio.to_thread(_cli, "migrate", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"0 applied now, {len(every)} already applied" in again.stdout
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(every)
        for table in ("markets", "book_events", "orders", "exec_audit"):
            assert await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table), table
    finally:
        await conn.close()


def test_migrate_without_a_database_says_so_and_starts_nothing(tmp_path: Path) -> None:
    res = _cli("migrate", env=_env(POLYBOT_STATE_DIR=str(tmp_path / "state")), cwd=tmp_path)
    assert res.returncode == 2 and "no database" in res.stderr and "--db-url" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "state" / "infra.json").exists()


# The child derives its L2 API key from the key it was given (as the executor's SDK does) and prints only that
# sim-only key, so the test can look the account up in the simulator.
_CHILD = """
import asyncio, os
from eth_account import Account
from polymarket import AsyncSecureClient
from polybot.venue.sdk_environment import sim_environment
async def main():
    url = os.environ["SIM"]
    signer = Account.from_key(os.environ["POLYBOT_PRIVATE_KEY"])
    env = sim_environment(url, url + "/gamma", url.replace("http://", "ws://", 1))
    client = await AsyncSecureClient.create(private_key=signer.key.hex(), wallet=signer.address, environment=env)
    try:
        print(client.credentials.key)
    finally:
        await client.close()
asyncio.run(main())
"""


async def test_with_sim_wallet_runs_the_command_with_a_funded_key(tmp_path: Path) -> None:
    async with running_sim(seed=int.from_bytes(os.urandom(3), "big"), n_markets=2) as sim:
        env = _env(POLYBOT_MODE="sim", POLYBOT_EXECUTOR__CLOB_URL=sim.url, SIM=sim.url,
                   POLYBOT_STATE_DIR=str(tmp_path / "state"))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "polybot.cli", "with-sim-wallet", "--", sys.executable, "-c", _CHILD,
            env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, err.decode()[-3000:]
        api_key = out.decode().strip()
        assert sim.ctx.engine.balance(api_key) == Decimal(10_000)


def test_with_sim_wallet_outside_sim_mode_runs_the_command_unchanged(tmp_path: Path) -> None:
    child = "import os, sys; sys.exit(0 if 'POLYBOT_PRIVATE_KEY' not in os.environ else 3)"
    res = _cli("with-sim-wallet", "--", sys.executable, "-c", child,
               env=_env(POLYBOT_MODE="paper", POLYBOT_STATE_DIR=str(tmp_path)), cwd=tmp_path)
    assert res.returncode == 0, res.stderr


def test_with_sim_wallet_refuses_a_polymarket_host_and_a_missing_command(tmp_path: Path) -> None:
    res = _cli("with-sim-wallet", "--wait", "0", "--", sys.executable, "-c", "pass",
               env=_env(POLYBOT_MODE="sim", POLYBOT_EXECUTOR__CLOB_URL="https://clob.polymarket.com",
                        POLYBOT_STATE_DIR=str(tmp_path)), cwd=tmp_path)
    assert res.returncode == 2 and "refuses the Polymarket host" in res.stderr, res.stderr
    res = _cli("with-sim-wallet", env=_env(POLYBOT_MODE="sim", POLYBOT_STATE_DIR=str(tmp_path)), cwd=tmp_path)
    assert res.returncode == 2 and "give the command to run after --" in res.stderr, res.stderr
