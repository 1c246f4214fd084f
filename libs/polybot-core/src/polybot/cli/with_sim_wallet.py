"""``polybot with-sim-wallet -- COMMAND …``: in sim mode, fund a throwaway key at polysim, then run COMMAND
with it in ``POLYBOT_PRIVATE_KEY``.

What ``polybot up`` does for its executor in sim mode (``polybot.cli.sim_wallet``), as a step another
launcher can take: docker-compose.yml starts the executor as
``polybot with-sim-wallet -- python -m polybot_executor``. The key lives only in COMMAND's environment:
never printed, never written. The simulator is the executor's venue (``executor.clob_url``); the command
waits for it to answer ``GET /time`` (``--wait``), since nothing orders polysim's start before it.

In any other mode, or when a private key is configured already, COMMAND runs unchanged: one launcher for
every mode. On POSIX COMMAND replaces this process (signals reach it directly); on Windows it runs as a
child and its exit code is returned.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from typing import Any

from polybot.cli import flags
from polybot.cli.failures import CliError, describe


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "with-sim-wallet", help="sim mode: run a command with a throwaway key funded at polysim")
    p.add_argument("--config", default=None, help="TOML settings file (default config/service.toml)")
    p.add_argument("--wait", type=flags.real(0, 3_600), default=60.0,
                   help="seconds to wait for polysim to answer (default 60)")
    p.add_argument("command", nargs=argparse.REMAINDER,
                   help="-- then the command to run, e.g. python -m polybot_executor")
    p.set_defaults(handler=run)


def _wait_for_sim(url: str, wait_s: float) -> None:
    import httpx

    deadline = time.monotonic() + wait_s
    while True:
        try:
            if httpx.get(f"{url}/time", timeout=2).status_code == 200:
                return
            problem = "it does not answer GET /time with 200"
        except httpx.HTTPError as exc:
            problem = describe(exc)
        if time.monotonic() >= deadline:
            raise CliError(f"polysim at {url} did not answer within {wait_s:.0f}s ({problem}): start it "
                           f"(`polybot sim`, or the compose profile sim), or fix executor.clob_url")
        time.sleep(0.5)


def _exec(command: list[str], env: dict[str, str]) -> int:
    from polybot.runtime import platform

    if platform.IS_WINDOWS:  # no exec there: run it, and hand its exit code on
        return subprocess.run(command, env=env, check=False).returncode
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        raise CliError(f"cannot run {command[0]}: {describe(exc)}") from exc
    raise AssertionError("unreachable")  # pragma: no cover - execvpe does not return


def run(args: argparse.Namespace) -> int:
    from polybot.app.execute.mode import mode_problem
    from polybot.cli import config

    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise CliError("with-sim-wallet: give the command to run after --, e.g. "
                       "polybot with-sim-wallet -- python -m polybot_executor")
    settings = config.load(args.config)
    env = dict(os.environ)
    if settings.mode != "sim" or settings.private_key is not None:
        return _exec(command, env)
    refusal = mode_problem(settings)  # sim mode refuses a Polymarket host: never fund, or trade, there
    if refusal is not None:
        raise CliError(refusal)
    from polybot.cli.sim_wallet import funded_sim_key

    url = settings.executor.clob_url.rstrip("/")
    _wait_for_sim(url, args.wait)
    try:
        env["POLYBOT_PRIVATE_KEY"] = funded_sim_key(url)
    except Exception as exc:
        raise CliError(f"cannot fund a throwaway key at polysim {url}: {describe(exc)}") from exc
    return _exec(command, env)
