"""`polybot up`: four real service processes ready, then a clean stop on SIGINT with nothing left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from polybot.runtime.embedded import free_port

REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_up_starts_the_stack_and_sigint_leaves_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
    env.update({
        "POLYBOT_STATE_DIR": str(tmp_path / "state"),
        "POLYBOT_OPS__INGESTOR": str(free_port()),
        "POLYBOT_OPS__QUOTER": str(free_port()),
        "POLYBOT_OPS__EXECUTOR": str(free_port()),
        "POLYBOT_OPS__GAMMA_SYNC": str(free_port()),
        "POLYBOT_SIM__PORT": str(free_port()),
    })
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "polybot.cli", "up", "--ready-timeout", "60"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        took = time.monotonic() - t0
        assert proc.poll() is None, "".join(lines)
        table = [ln for ln in lines if re.match(r"^(polysim|gamma-sync|ingestor|quoter|executor)\s+\d+", ln)]
        assert len(table) == 5, "".join(lines)
        pids = [int(ln.split()[1]) for ln in table]
        assert all(_alive(p) for p in pids)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert took < 30, f"stack took {took:.1f}s to be ready"
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, rest
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not [p for p in pids if _alive(p)]
    assert not [c.pid for c in children if _alive(c.pid)]
    leftovers = [p.info for p in psutil.process_iter(["pid", "cmdline"])
                 if str(tmp_path) in " ".join(p.info["cmdline"] or []) and _alive(p.info["pid"])]
    assert leftovers == []
    assert list((tmp_path / "state" / "run").glob("*.pid")) == []
    assert not (tmp_path / "state" / "infra.json").exists()
