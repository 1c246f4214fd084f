"""A service that cannot load its settings says why in one line and exits 2, before it starts anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _start(module: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("POLYBOT_")}
    return subprocess.run([sys.executable, "-m", module], capture_output=True, text=True, timeout=60,
                          env={**clean, **env}, cwd=cwd, check=False)


@pytest.mark.parametrize(("module", "env", "words"), [
    ("polybot_ingestor", {"POLYBOT_CONFIG": "{d}/missing.toml"}, ["ingestor", "POLYBOT_CONFIG", "missing.toml"]),
    ("polybot_gamma_sync", {"POLYBOT_CONFIG": "{d}/bad.toml"}, ["gamma-sync", "cannot be read"]),
    ("polybot_ingestor", {"POLYBOT_INGESTOR__PUBLISH_BATCH_MAX": "abc"}, ["ingestor.publish_batch_max"]),
])
def test_bad_settings_stop_a_service_with_one_line(module: str, env: dict[str, str], words: list[str],
                                                   tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("x = [")
    res = _start(module, {k: v.replace("{d}", str(tmp_path)) for k, v in env.items()}, tmp_path)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, res.stderr[-1500:]
    assert "cannot start" in lines[0] and all(w in lines[0] for w in words), lines[0]
