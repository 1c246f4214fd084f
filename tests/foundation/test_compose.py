"""docker-compose.yml runs what `polybot up --config config/demo.toml` runs, with the same settings keys, and
is valid, healthy by construction and free of inline secrets; docker-compose.live.yml refuses to start
without the live flag; deploy/nats/nats.conf runs on a real nats-server.

The client here is Debian's docker-compose 1.29 (`make system-tools` installs it). It validates and
interpolates the files (profiles included: it knows `profiles:` and `--profile`, and `config` lists every
service whatever the profile; filtering happens at `up`). No Docker engine runs here, so no image is built.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import nats
import pytest
import yaml

from polybot.bus.client import Bus
from polybot.cli.up import _sim_env, service_env, stack
from polybot.runtime.embedded import free_port, nats_server_binary
from polybot.runtime.infra import Infra
from polybot.runtime.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
SERVICES = {"nats", "postgres", "migrate", "gamma-sync", "ingestor", "quoter", "executor", "polysim",
            "prometheus", "grafana"}
POLYBOT = ("gamma-sync", "ingestor", "quoter", "executor")
# Settings the containers need that `polybot up` does not give its processes, and why.
CONTAINER_ONLY = {"POLYBOT_OPS__HOST": "a container listens on every interface, or its port is unreachable"}
SECRET_WORDS = re.compile(r"PASSWORD|SECRET|TOKEN|PASSPHRASE|PRIVATE_KEY|API_KEY", re.I)
INTERPOLATED = re.compile(r"^\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}$")


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((REPO / name).read_text())
    return doc


def _services(name: str = "docker-compose.yml") -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _load(name)["services"]
    return services


def _demo() -> Any:
    return load_settings(REPO / "config" / "demo.toml")


def test_compose_has_exactly_the_services() -> None:
    assert set(_services()) == SERVICES


def test_compose_runs_what_up_runs_with_the_same_settings_keys() -> None:
    settings = _demo()
    services = _services()
    assert settings.mode == "sim"  # the demo trades on polysim: the default configuration of compose too
    up_env = service_env(settings, Infra("nats://n:4222", "postgresql://p/db", "env", "env"),
                         config="config/demo.toml", with_sim=True)
    for spec in stack(settings):
        svc = services[spec.name]
        assert svc["build"]["args"]["MODULE"] == spec.module, spec.name
        assert f"127.0.0.1:{spec.port}:{spec.port}" in svc["ports"], spec.name
        if spec.name == "polysim":
            assert svc["command"][:5] == ["python", "-m", "polysim", "--host", "0.0.0.0"]
            assert svc["command"][5:] == list(spec.args[2:])  # same port, seed and market count
            continue
        env = svc["environment"]
        assert env["PORT"] == str(spec.port) == svc["build"]["args"]["PORT"]
        keys = {k for k in env if k.startswith("POLYBOT_")}
        assert keys - set(CONTAINER_ONLY) == set(up_env), f"{spec.name}: compose and up give different settings"
        assert env["POLYBOT_CONFIG"] == "/app/" + "config/demo.toml"
        for key, url in _sim_env(settings).items():  # the same simulator routes, by the container's name
            ours = urlsplit(env[key])
            theirs = urlsplit(url)
            assert (ours.scheme, ours.hostname, ours.port, ours.path) == \
                (theirs.scheme, "polysim", settings.sim.port, theirs.path), key
        command = svc.get("command")
        if spec.name == "executor":  # up funds a throwaway key in sim mode; compose takes the same step
            assert command == ["python", "-m", "polybot.cli", "with-sim-wallet", "--", "python", "-m", spec.module]
        else:
            assert command is None  # the image runs `python -m $MODULE`


def test_every_service_is_health_checked_and_waits_for_what_it_needs() -> None:
    services = _services()
    for name, svc in services.items():
        if name == "migrate":
            assert svc["healthcheck"] == {"disable": True} and svc["restart"] == "no"
            assert svc["command"] == ["python", "-m", "polybot.cli", "migrate"]
            assert svc["depends_on"] == {"postgres": {"condition": "service_healthy"}}
            continue
        assert svc["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    for name in POLYBOT:
        test = " ".join(services[name]["healthcheck"]["test"])
        assert "/readyz" in test and "PORT" in test, name
        assert services[name]["depends_on"] == {
            "nats": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "js-enabled-only=true" in " ".join(services["nats"]["healthcheck"]["test"])
    assert "/time" in " ".join(services["polysim"]["healthcheck"]["test"])
    assert services["polysim"]["profiles"] == ["sim"]
    assert [n for n, s in services.items() if "profiles" in s] == ["polysim"]
    # a dependency on a service behind a profile would stop the stack whenever the profile is off
    assert not [n for n, s in services.items() if "polysim" in (s.get("depends_on") or {})]
    assert services["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"}}


def _env_values(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    found = []
    for anchor, value in doc.items():
        if anchor.startswith("x-") and isinstance(value, dict):
            found += [(anchor, k, str(v)) for k, v in value.items() if isinstance(v, str | int)]
    for name, svc in (doc.get("services") or {}).items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict), f"{name}: environment as a mapping, so that it can be checked"
        found += [(name, k, str(v)) for k, v in env.items()]
    return found


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.live.yml"])
def test_no_secret_is_written_in_a_compose_file(name: str) -> None:
    values = _env_values(_load(name))
    assert values
    for where, key, value in values:
        if SECRET_WORDS.search(key):
            assert INTERPOLATED.match(value), f"{where}.{key} must come from .env (${{VAR:?…}}), not be written here"
        userinfo = urlsplit(value).netloc.rpartition("@")[0] if "://" in value else ""
        if ":" in userinfo:  # a URL carrying credentials: the password part is a variable
            password = userinfo.split(":", 1)[1]
            assert password.startswith("${") and password.endswith("}"), f"{where}.{key}: password written inline"
    text = (REPO / name).read_text()
    assert "change-me" not in text and "hunter2" not in text


def test_every_variable_the_compose_files_need_is_in_env_example_and_env_is_ignored() -> None:
    example = {line.split("=", 1)[0] for line in (REPO / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    needed = set()
    for name in ("docker-compose.yml", "docker-compose.live.yml"):
        code = "\n".join(ln for ln in (REPO / name).read_text().splitlines() if not ln.lstrip().startswith("#"))
        needed |= set(re.findall(r"\$\{([A-Z0-9_]+)", code))
    assert needed - example == set()
    assert "COMPOSE_PROFILES" in example  # the default configuration runs the sim profile (the demo)
    assert re.search(r"^COMPOSE_PROFILES=sim$", (REPO / ".env.example").read_text(), re.M)
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()


def _compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    # never a skip: `make bootstrap` installs it (apt-get, as root); a machine without it must say so
    assert exe is not None, "the docker-compose client is not installed: run `make bootstrap` as root " \
        "or `apt-get install docker-compose`"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POLYBOT_", "COMPOSE_", "NATS_", "POSTGRES_"))}
    return subprocess.run([exe, "--env-file", str(REPO / ".env.example"), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False, env={**clean, **(env or {})})


@pytest.mark.parametrize("profile", [[], ["--profile", "sim"]])
def test_docker_compose_accepts_the_file_with_and_without_the_sim_profile(profile: list[str]) -> None:
    res = _compose("-f", "docker-compose.yml", *profile, "config", "-q")
    assert res.returncode == 0, res.stderr
    res = _compose("-f", "docker-compose.yml", *profile, "config", "--services")
    assert res.returncode == 0 and set(res.stdout.split()) == SERVICES, res.stderr


def test_docker_compose_refuses_without_a_secret() -> None:
    exe = shutil.which("docker-compose")
    assert exe is not None
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POLYBOT_", "COMPOSE_", "NATS_", "POSTGRES_"))}
    empty = REPO / ".git" / f"compose-empty-{uuid.uuid4().hex}.env"  # not .env: never touch the operator's
    empty.write_text("")
    try:
        res = subprocess.run([exe, "--env-file", str(empty), "config", "-q"], cwd=REPO, capture_output=True,
                             text=True, timeout=120, check=False, env=clean)
    finally:
        empty.unlink()
    assert res.returncode != 0 and "in .env (see .env.example)" in res.stderr, res.stderr


def test_live_override_refuses_to_start_without_the_live_flag() -> None:
    files = ["-f", "docker-compose.yml", "-f", "docker-compose.live.yml"]
    res = _compose(*files, "config", "-q", env={"POLYBOT_PRIVATE_KEY": "0x" + "1" * 64})
    assert res.returncode != 0 and "POLYBOT_CONFIRM_LIVE=1" in res.stderr, res.stderr
    res = _compose(*files, "config", "-q", env={"POLYBOT_CONFIRM_LIVE": "1"})
    assert res.returncode != 0 and "POLYBOT_PRIVATE_KEY" in res.stderr, res.stderr
    res = _compose(*files, "config", env={"POLYBOT_CONFIRM_LIVE": "1", "POLYBOT_PRIVATE_KEY": "0x" + "1" * 64})
    assert res.returncode == 0, res.stderr
    services = yaml.safe_load(res.stdout)["services"]
    executor = services["executor"]["environment"]
    assert executor["POLYBOT_MODE"] == "live" and executor["POLYBOT_CONFIRM_LIVE"] == "1"
    for name in ("gamma-sync", "ingestor", "quoter"):  # the key and the mode reach the executor alone
        env = services[name]["environment"]
        assert "POLYBOT_PRIVATE_KEY" not in env and "POLYBOT_MODE" not in env, name
    for name in POLYBOT:
        env = services[name]["environment"]
        assert env["POLYBOT_CONFIG"] == "/app/config/live.toml"
        assert not [k for k, v in env.items() if "polysim" in str(v)], name  # every venue URL replaced
    assert "must not run beside live services" in " ".join(services["polysim"]["entrypoint"])
    live = tomllib.loads((REPO / "config" / "live.toml").read_text())
    assert live["gamma"]["selection"]["auto"] is False and "mode" not in live and "private_key" not in live


def test_the_image_recipe_is_one_parameterised_multistage_non_root_build() -> None:
    text = (REPO / "deploy" / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert 'uv sync --frozen --no-dev --package "${PACKAGE}"' in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*READY_PATH", text, re.M) and "ARG READY_PATH=/readyz" in text
    members = {tomllib.loads(p.read_text())["project"]["name"]
               for p in [REPO / "libs" / "polybot-core" / "pyproject.toml", *REPO.glob("services/*/pyproject.toml")]}
    for dockerfile_copy in re.findall(r"^COPY (\S+/pyproject\.toml) ", text, re.M):
        assert (REPO / dockerfile_copy).is_file(), dockerfile_copy
    assert len(re.findall(r"^COPY \S+/pyproject\.toml ", text, re.M)) == len(members)  # every workspace member
    import importlib.util

    for name, svc in _services().items():
        if "build" in svc:
            args = svc["build"]["args"]
            assert args["PACKAGE"] in members, name
            assert importlib.util.find_spec(args["MODULE"]) is not None, name
            assert svc["build"]["dockerfile"] == "deploy/Dockerfile"


def test_prometheus_scrapes_every_service_and_grafana_gets_its_provisioning() -> None:
    services = _services()
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in scrape["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]}
    for name in POLYBOT:
        assert f"{name}:{services[name]['environment']['PORT']}" in targets, name
    mounts = {m.split(":")[0]: m.split(":")[1] for m in services["prometheus"]["volumes"]}
    assert mounts["./deploy/prometheus"] == "/etc/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    mounts = {m.split(":")[0]: m.split(":")[1] for m in services["grafana"]["volumes"]}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((REPO / "deploy/grafana/provisioning/dashboards/polybot.yml").read_text())
    assert mounts["./deploy/grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    datasource = yaml.safe_load((REPO / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    for host_path in [*(m for m in mounts if m.startswith("./")), "./deploy/nats/nats.conf"]:
        assert (REPO / host_path).exists(), host_path


def _nats(conf_env: dict[str, str], tmp_path: Path, port: int, monitor: int) -> subprocess.Popen[bytes]:
    """nats-server on deploy/nats/nats.conf, its store moved from the container's /data to ``tmp_path``
    (nats-server refuses -sd beside a store_dir); ports and address from the command line."""
    text = (REPO / "deploy" / "nats" / "nats.conf").read_text()
    assert "  store_dir: /data\n" in text
    conf = tmp_path / "nats.conf"
    conf.write_text(text.replace("  store_dir: /data\n", f"  store_dir: {tmp_path / 'js'}\n"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NATS_")}
    return subprocess.Popen([str(nats_server_binary()), "-c", str(conf),
                             "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor)],
                            env={**clean, **conf_env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_healthy(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, proc.communicate()[0].decode()[-2000:]
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "nats-server never became healthy"
        time.sleep(0.1)


async def test_nats_conf_runs_jetstream_with_its_user_and_monitoring(tmp_path: Path) -> None:
    user, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    port, monitor = free_port(), free_port()
    proc = _nats({"NATS_USER": user, "NATS_PASSWORD": password}, tmp_path, port, monitor)
    try:
        await asyncio.to_thread(_wait_healthy, proc, f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true")
        with pytest.raises(Exception, match=r"(?i)authorization"):
            await nats.connect(f"nats://127.0.0.1:{port}", allow_reconnect=False, max_reconnect_attempts=0,
                               connect_timeout=2)
        bus = await Bus.connect(f"nats://{user}:{password}@127.0.0.1:{port}", name="test-compose")
        try:
            await bus.ensure_streams()  # JetStream on, on file storage
            info = await bus.js.account_info()
            assert info.streams >= 1
            assert (tmp_path / "js" / "jetstream").is_dir()
        finally:
            await bus.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_nats_conf_refuses_to_start_without_its_user(tmp_path: Path) -> None:
    proc = _nats({}, tmp_path, free_port(), free_port())
    try:
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode != 0 and b"NATS_USER" in out, out.decode()[-2000:]
