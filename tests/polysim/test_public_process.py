"""polysim as a process: ``python -m polysim`` (SimProcess) and ``polybot sim`` start, answer, stop cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx

from polybot.cli.sim import OPTIONS
from polysim.cli_args import build_parser
from polysim.harness import SimProcess


def test_python_m_polysim_serves_until_sigterm() -> None:
    with SimProcess(["--seed", "3", "--markets", "5", "--events", "2"]) as proc:
        assert httpx.get(proc.url + "/time").text.isdigit()
        markets = httpx.get(proc.url + "/markets").json()["data"]
        assert len(markets) == 5
        token = markets[0]["tokens"][0]["token_id"]
        assert httpx.get(proc.url + "/book", params={"token_id": token}).json()["asset_id"] == token
        assert len(httpx.get(proc.gamma_url + "/events").json()) == 2
        pid = proc.proc.pid if proc.proc else 0
    assert proc.proc is not None and proc.proc.returncode == 0 and pid


def test_polybot_sim_runs_the_same_simulator() -> None:
    cmd = [sys.executable, "-m", "polybot.cli", "sim", "--port", "0", "--seed", "4", "--markets", "3",
           "--no-rate-limits"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["polysim"] == "listening" and ready["markets"] == 3 and ready["seed"] == 4
        assert httpx.get(ready["url"] + "/time", timeout=5).text.isdigit()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        if proc.stdout is not None:
            proc.stdout.close()


def test_polybot_sim_options_are_polysim_options() -> None:
    polysim_options = {s for a in build_parser()._actions for s in a.option_strings}
    assert {option for option, _, _ in OPTIONS} <= polysim_options
