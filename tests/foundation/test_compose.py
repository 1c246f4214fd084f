"""docker-compose.yml runs the same services `polybot up` runs, on the same ports, and is valid."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from polybot.cli.up import stack
from polybot.runtime.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, dict[str, object]]:
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services: dict[str, dict[str, object]] = doc["services"]
    return services


def test_compose_has_every_service_up_runs_with_its_module_and_port() -> None:
    services = _compose()
    for spec in stack(Settings()):
        assert spec.name in services, f"{spec.name} missing from docker-compose.yml"
        svc = services[spec.name]
        build = svc["build"]
        assert isinstance(build, dict) and build["args"]["MODULE"] == spec.module
        assert f"{spec.port}:{spec.port}" in svc["ports"]  # type: ignore[operator]
        if spec.name == "polysim":
            command = svc["command"]
            assert isinstance(command, list)
            assert command[:5] == ["python", "-m", "polysim", "--host", "0.0.0.0"]
            assert command[5:] == list(spec.args[2:])  # same port, seed and market count
            continue
        env = svc["environment"]
        assert isinstance(env, dict) and env["PORT"] == str(spec.port)
        assert env["POLYBOT_MODE"] == "paper"


def test_compose_config_is_valid() -> None:
    exe = shutil.which("docker-compose")
    # never a skip: `make bootstrap` installs it (apt-get, as root); a machine without it must say so
    assert exe is not None, "the docker-compose client is not installed: run `make bootstrap` as root " \
        "or `apt-get install docker-compose`"
    res = subprocess.run([exe, "-f", str(REPO / "docker-compose.yml"), "config", "-q"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
