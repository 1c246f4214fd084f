"""Every command of docs/runbook.md and docs/deployment.md that can run on this machine is run here, as written
(``uv run`` becomes this interpreter), against a real ``polybot up --config config/demo.toml`` on embedded servers.
A command that cannot run here is named in ``NOT_HERE`` with the reason, and a command the docs gain that is in
neither list fails the test: the docs cannot drift from what is checked."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polybot.runtime.embedded import free_port

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("POLYBOT_FIXTURES", REPO / "tests" / "fixtures" / "polymarket"))
RECORDING = FIXTURES / "ws_market" / "frames_2025-12_initial_dump_price_change_post_trade_book.jsonl"
READY_LINE = "Ctrl-C stops everything"
LIVE_S = 4.0  # how long a command that follows the bus (tap) runs before Ctrl-C

# Commands of the docs that cannot run inside this test, and why (each is checked elsewhere or by hand).
NOT_HERE = {
    "git clone <this repository> polybot && cd polybot": "the clean-clone CI does exactly this",
    "cp .env.example .env": "compose only; tests/foundation/test_compose.py reads .env.example",
    "docker compose up --build": "no Docker engine here; `docker-compose config` is checked by test_compose.py",
    "POLYBOT_CONFIRM_LIVE=1 docker compose -f docker-compose.yml -f docker-compose.live.yml up --build":
        "live: never from a test (and no Docker engine); the override is checked by test_compose.py",
    "docker compose logs -f ingestor": "no Docker engine here",
    "docker compose up": "no Docker engine here; `docker-compose config` is checked by test_compose.py",
    "docker compose --profile sim up": "no Docker engine here; the profile is checked by test_compose.py",
    "docker compose down": "no Docker engine here",
    'export POLYBOT_NATS_URL="nats://$NATS_USER:$NATS_PASSWORD@127.0.0.1:4222"':
        "points the CLI at compose's NATS: the CLI's env URLs are tested by tests/cli",
    'export POLYBOT_DATABASE_URL="postgresql://polybot:$POSTGRES_PASSWORD@127.0.0.1:5432/polybot"':
        "points the CLI at compose's PostgreSQL: as above",
    "make system-tools": "the bootstrap runs it before any test (make test depends on it)",
    "make demo": "runs until Ctrl-C; it is `polybot up --config config/demo.toml`, which this test starts",
    "make test": "this suite itself",
    "python3 -m pip install uv": "the bootstrap (make bootstrap) does it before any test",
    "python3 -m uv sync --frozen --all-packages": "the bootstrap does it before any test",
    "python3 -m uv run polybot up --config config/demo.toml": "the stack this test starts (see `stack`)",
}

# Exit codes each command may end with against the demo stack (0 unless said), and why.
EXPECTED_EXIT = {
    "builder-health": {0, 1},  # the demo has no Builder credentials: a check fails, and says which
    "market-trade": {2},  # polysim has no event "foo": a clear error, nothing sent
    "tap": {130},  # follows the bus until Ctrl-C
    "replay": {0, 1},  # 1 when the recording disagrees with a hash (reported, not a crash)
}


def doc_commands(path: Path) -> list[str]:
    """Shell commands of a doc: the lines of its fenced blocks, and inline code that starts with ``uv run`` or
    ``polybot`` (comments cut)."""
    text = path.read_text(encoding="utf-8")
    found: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#") and not line.startswith("["):
                found.append(line)
    for code in re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S)):
        if code.startswith(("uv run ", "make ", "docker compose ", "python3 -m ")):
            found.append(code.strip())
    return list(dict.fromkeys(found))


def argv(command: str, market: str) -> list[str]:
    """A doc's command as this interpreter runs it, its placeholders filled."""
    command = (command.replace("<file.jsonl>", str(RECORDING)).replace("<file>", str(RECORDING))
               .replace("<market_id>", market).replace('"<why>"', "runbook-drill").replace("<why>", "runbook-drill"))
    for prefix in ("uv run python -m polybot.cli ", "uv run polybot ", "polybot.cli "):
        if command.startswith(prefix):
            return [sys.executable, "-m", "polybot.cli", *_split(command[len(prefix):])]
    raise AssertionError(f"not a polybot command: {command!r}")


def _split(rest: str) -> list[str]:
    import shlex

    return shlex.split(rest)


def _market() -> str:
    first = json.loads(RECORDING.read_text(encoding="utf-8").splitlines()[0])
    return str((first[0] if isinstance(first, list) else first)["market"])


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, str]]:
    """``polybot up --config config/demo.toml`` on free ports and embedded servers; yields the env that finds it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
    sim_port = free_port()
    env.update({"POLYBOT_STATE_DIR": str(tmp_path / "state"), "POLYBOT_SIM__PORT": str(sim_port),
                "POLYBOT_OPS__INGESTOR": str(free_port()), "POLYBOT_OPS__QUOTER": str(free_port()),
                "POLYBOT_OPS__EXECUTOR": str(free_port()), "POLYBOT_OPS__GAMMA_SYNC": str(free_port()),
                "PYTHONIOENCODING": "utf-8"})
    log = tmp_path / "up.log"
    with log.open("w", encoding="utf-8") as out:
        up = subprocess.Popen([sys.executable, "-m", "polybot.cli", "up", "--config", "config/demo.toml",
                               "--ready-timeout", "60"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 75
        while READY_LINE not in log.read_text(encoding="utf-8", errors="replace"):
            assert up.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-4000:]
            time.sleep(0.3)
        # the venue is polysim on its own port here (the demo's default is 8080): as the runbook says for
        # compose, the commands that talk to the venue are pointed at it
        sim = f"http://127.0.0.1:{sim_port}"
        yield {**env, "POLYBOT_GAMMA__GAMMA_URL": f"{sim}/gamma", "POLYBOT_GAMMA__CLOB_URL": sim,
               "POLYBOT_EXECUTOR__CLOB_URL": sim, "POLYBOT_EXECUTOR__GAMMA_URL": f"{sim}/gamma"}
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(60)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait(10)


def _run(cmd: list[str], env: dict[str, str], cwd: Path, follows: bool) -> tuple[int, str, str]:
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if follows:
            time.sleep(LIVE_S)
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


def test_every_doc_command_is_run_or_named() -> None:
    commands = doc_commands(REPO / "docs" / "runbook.md") + doc_commands(REPO / "docs" / "deployment.md")
    unknown = [c for c in commands if c not in NOT_HERE and not c.startswith(("uv run ", "polybot.cli "))]
    assert unknown == [], f"commands in the docs that no test runs: {unknown}"
    assert [c for c in NOT_HERE if c not in commands] == [], "NOT_HERE names a command the docs no longer have"


def test_the_runbook_commands_run_as_written_against_the_demo(stack: dict[str, str], tmp_path: Path) -> None:
    market = _market()
    commands = [c for c in doc_commands(REPO / "docs" / "runbook.md") if c not in NOT_HERE]
    assert any("status" in c for c in commands) and any("tap" in c for c in commands)
    results = []
    for command in commands:
        cmd = argv(command, market)
        name = cmd[3]
        # replay writes ./polybot.db as written: in a scratch directory, not the checkout
        cwd = tmp_path if name == "replay" else REPO
        code, out, err = _run(cmd, stack, cwd, follows=name == "tap")
        results.append((command, code))
        assert "Traceback" not in err and "Traceback" not in out, f"{command}:\n{err[-3000:]}"
        assert code in EXPECTED_EXIT.get(name, {0}), f"{command} exited {code}:\n{out[-1500:]}\n{err[-1500:]}"
        if code == 2:  # refused: one line saying why, and that nothing was sent
            assert err.startswith("error: ") and "nothing was sent" in err, err[-1500:]
        elif "--json" in cmd and name != "tap":
            assert out.strip(), f"{command} printed nothing (exit {code}): {err[-1500:]}"
            json.loads(out.strip().splitlines()[-1])  # one JSON object, last line
        if name == "tap" and cmd[4] == "books":
            assert out.strip(), f"{command} printed nothing in {LIVE_S} s of a running demo"
        if name == "kill" and "--clear" not in cmd:
            assert "ENGAGED" in out
    assert len(results) >= 12, results
