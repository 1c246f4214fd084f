"""`polybot demo --duration N --json`: the whole stack headless (sim mode, the real SDK against polysim), then
a report as the last line; everything is cancelled before it stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_headless_and_ends_with_a_report_and_no_open_order(tmp_path: Path) -> None:
    env = {**os.environ, "POLYBOT_STATE_DIR": str(tmp_path / "state"), "PYTHONIOENCODING": "utf-8"}
    res = subprocess.run([sys.executable, "-m", "polybot.cli", "demo", "--duration", "8", "--json"],
                         capture_output=True, text=True, timeout=240, env=env, cwd=REPO, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert {"markets", "plans", "orders_placed", "fills", "exec_audit_rows", "crossed_quotes", "resyncs",
            "open_orders_at_end", "pnl"} <= set(report)
    assert report["mode"] == "sim" and report["markets"] > 0
    assert report["open_orders_at_end"] == 0 and report["crossed_quotes"] == 0
    assert report["exec_audit_rows"] == report["plans"]
    assert report["orders_placed"] > 0 and report["fills"] > 0, report  # the demo trades in every run
