"""The Windows branch of every platform difference, run here with ``polybot.runtime.platform.IS_WINDOWS``
forced on: stop signals through ``signal.signal`` (Windows' event loops have no ``add_signal_handler``),
plain asyncio instead of uvloop, children in their own process group asked to stop with Ctrl-Break.

The service and polysim processes run with ``add_signal_handler`` made to raise ``NotImplementedError``, as
it does on Windows, so a code path that still relies on it fails here.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from polybot.runtime import eventloop, lifecycle, platform
from polybot.runtime.embedded import free_port
from polybot.runtime.infra import Infra

REPO = Path(__file__).resolve().parents[2]

# Run a module as __main__ with the Windows branch forced and add_signal_handler failing like Windows'.
_FORCE_WINDOWS = """
import asyncio, runpy, sys
def _no_signals(self, *a, **k):
    raise NotImplementedError("add_signal_handler: not on Windows")
asyncio.AbstractEventLoop.add_signal_handler = _no_signals
import asyncio.unix_events
asyncio.unix_events._UnixSelectorEventLoop.add_signal_handler = _no_signals
import polybot.runtime.platform as platform
platform.IS_WINDOWS = True
module = sys.argv[1]
if module == "polysim":
    import polysim.__main__ as sim
    sim.IS_WINDOWS = True
    sys.exit(sim.main(sys.argv[2:]))
sys.argv = [module, *sys.argv[2:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(platform, "IS_WINDOWS", True)
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _no_add_signal_handler(loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("the Windows branch must not call add_signal_handler")

    monkeypatch.setattr(loop, "add_signal_handler", refuse)


@pytest.mark.usefixtures("windows")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_windows_branch_stops_the_service_on_a_signal(sig: int, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_add_signal_handler(asyncio.get_running_loop(), monkeypatch)
    stopping = asyncio.Event()
    lifecycle.install_signal_handlers(stopping)
    os.kill(os.getpid(), sig)
    await asyncio.wait_for(stopping.wait(), timeout=2)


@pytest.mark.usefixtures("windows")
def test_windows_branch_runs_plain_asyncio_not_uvloop() -> None:
    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert eventloop.run(loop_module()).startswith("asyncio")


def test_posix_branch_runs_uvloop() -> None:  # the flag is what decides, in both directions
    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert eventloop.run(loop_module()).startswith("uvloop")


class _Child:
    def __init__(self) -> None:
        self.sent: list[int] = []
        self.terminated = False

    def poll(self) -> int | None:
        return None

    def send_signal(self, sig: int) -> None:
        self.sent.append(sig)

    def terminate(self) -> None:
        self.terminated = True


@pytest.mark.usefixtures("windows")
def test_windows_branch_children_get_a_process_group_and_ctrl_break() -> None:
    assert platform.child_popen_kwargs() == {"creationflags": 0x00000200}  # CREATE_NEW_PROCESS_GROUP
    child = _Child()
    platform.request_stop(child)  # type: ignore[arg-type]
    assert child.sent == [1] and not child.terminated  # CTRL_BREAK_EVENT; terminate() would be TerminateProcess
    assert platform.executable_name("nats-server") == "nats-server.exe"
    assert signal.SIGINT in platform.stop_signals() and signal.SIGTERM in platform.stop_signals()


def test_posix_branch_children_get_a_session_and_sigterm() -> None:
    assert platform.child_popen_kwargs() == {"start_new_session": True}
    child = _Child()
    platform.request_stop(child)  # type: ignore[arg-type]
    assert child.terminated and child.sent == []


def test_pid_alive_asks_without_signalling() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert platform.pid_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait(10)
    assert not platform.pid_alive(proc.pid)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
    env.update(extra)
    return env


def _wait_json(url: str, proc: subprocess.Popen[str], timeout_s: float, want: Any = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}: {proc.communicate()[0][-3000:]}"
        try:
            r = httpx.get(url, timeout=1)
            last = r.json()
            if want is None or want(last):
                return last
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not as wanted after {timeout_s}s: {last}")


def _stop_within(proc: subprocess.Popen[str], sig: int, limit_s: float) -> tuple[int, float, str]:
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
        raise AssertionError(f"still running {limit_s}s after signal {sig}: {out[-2000:]}") from None
    return proc.returncode, time.monotonic() - t0, out


def test_a_service_on_the_windows_branch_runs_and_stops_cleanly(tmp_path: Path, infra: Infra) -> None:
    """The ingestor, Windows branch forced: connects, migrates, runs, and drains on Ctrl-C (SIGINT)."""
    nats_url, db_url = infra.nats_url, infra.database_url  # env URLs, else the embedded servers
    port, venue = free_port(), free_port()
    env = _clean_env(POLYBOT_NATS_URL=nats_url, POLYBOT_DATABASE_URL=db_url, POLYBOT_OPS__INGESTOR=str(port),
                     POLYBOT_STATE_DIR=str(tmp_path / "state"), POLYBOT_INGESTOR__FOLLOW_GAMMA="false",
                     POLYBOT_INGESTOR__CLOB_REST_URL=f"http://127.0.0.1:{venue}",
                     POLYBOT_INGESTOR__CLOB_WS_URL=f"ws://127.0.0.1:{venue}/ws/market")
    proc = subprocess.Popen([sys.executable, "-c", _FORCE_WINDOWS, "polybot_ingestor"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = _wait_json(f"http://127.0.0.1:{port}/readyz", proc, 60,
                          lambda b: all(b.get("checks", {}).get(k) for k in ("nats", "postgres", "migrations")))
        assert body["service"] == "ingestor"
        code, _, out = _stop_within(proc, signal.SIGINT, 15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert code == 0 and "service stopped" in out, out[-3000:]
    assert "NotImplementedError" not in out, out[-3000:]


def test_polysim_on_the_windows_branch_stops_cleanly() -> None:
    proc = subprocess.Popen([sys.executable, "-c", _FORCE_WINDOWS, "polysim", "--port", "0", "--markets", "2",
                             "--seed", str(os.getpid())], env=_clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["polysim"] == "listening"
        code, _, out = _stop_within(proc, signal.SIGTERM, 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert code == 0, out[-3000:]
