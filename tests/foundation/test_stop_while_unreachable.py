"""A service that cannot reach NATS (or PostgreSQL) still stops within a few seconds of SIGTERM.

nats-py's first connect retries on its own for ever with a service's reconnect settings; a stop that was only
looked at between attempts was never seen, and a stray ingestor outlived a CI job's ``timeout 8`` by minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from polybot.runtime.embedded import free_port
from polybot.runtime.infra import Infra

STOP_LIMIT_S = 3.0


def _env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
    env.update({"POLYBOT_STATE_DIR": str(tmp_path / "state"), **extra})
    return env


@pytest.mark.parametrize(("module", "port_key", "unreachable"), [
    ("polybot_ingestor", "POLYBOT_OPS__INGESTOR", "nats"),
    ("polybot_quoter", "POLYBOT_OPS__QUOTER", "nats"),
    ("polybot_ingestor", "POLYBOT_OPS__INGESTOR", "postgres"),
])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_stops_a_service_that_cannot_connect(module: str, port_key: str, unreachable: str, sig: int,
                                                     tmp_path: Path, infra: Infra) -> None:
    db_url, nats_url = infra.database_url, infra.nats_url  # env URLs, else the embedded servers
    closed = free_port()  # nothing listens there
    if unreachable == "nats":
        nats_url = f"nats://127.0.0.1:{closed}"
    else:
        db_url = f"postgresql://postgres@127.0.0.1:{closed}/postgres"
    port = free_port()
    env = _env(tmp_path, port, **{port_key: str(port), "POLYBOT_NATS_URL": nats_url, "POLYBOT_DATABASE_URL": db_url})
    proc = subprocess.Popen([sys.executable, "-m", module], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:  # the ops app answers first; /readyz names what it is waiting for
            assert proc.poll() is None, proc.communicate()[0][-2000:]
            try:
                checks = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).json()["checks"]
                break
            except (httpx.HTTPError, ValueError, KeyError):
                assert time.monotonic() < deadline, "the ops app never answered"
                time.sleep(0.1)
        assert checks[unreachable] is False, checks
        time.sleep(1.5)  # well inside a connect attempt's retries
        t0 = time.monotonic()
        proc.send_signal(sig)
        try:
            out, _ = proc.communicate(timeout=STOP_LIMIT_S + 10)
        except subprocess.TimeoutExpired:
            out = ""
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert took < STOP_LIMIT_S, f"{module} took {took:.1f}s to stop after signal {sig} with {unreachable} down"
    assert proc.returncode == 0, out[-2000:]
    if unreachable == "nats":  # a refused attempt twice a second is one warning, not an error with a traceback
        assert "nats: encountered error" not in out, out[-2000:]
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        warned = [r for r in lines if r.get("msg") == "NATS connection error"]
        assert len(warned) == 1 and "Connection refused" in warned[0]["error"], out[-2000:]
