"""deploy/prometheus: promtool accepts the scrape config and the rules, every alert's unit test passes, and every
alert has a case where it fires and one where it stays quiet; the scrape config scrapes every service."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from polybot.runtime.settings import OpsPorts

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "deploy" / "prometheus"
RULES = PROM / "rules" / "polybot.rules.yml"
RULE_TESTS = sorted((PROM / "tests").glob("*.yml"))
# The alerts (issue 16): each must exist under one of these names.
REQUIRED_ALERTS = {"IngestionStale", "ResyncStorm", "InvalidMessagesRising", "WebsocketDisconnected",
                   "NoPlanForSelectedMarket", "ExecutorRejectRate", "PlanLatencyHigh", "HeartbeatFailing",
                   "KillSwitchEngaged", "PositionNearCap", "DailyLossNearLimit"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:  # never a skip: the bootstrap installs it
        pytest.fail("promtool is not installed: run `make system-tools` (Debian package prometheus)")
    return path


def _run(*args: str) -> str:
    res = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60, cwd=PROM, check=False)
    assert res.returncode == 0, f"promtool {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}"
    return res.stdout + res.stderr


def _alerts() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}


def test_promtool_checks_the_scrape_config_and_its_rule_files() -> None:
    out = _run("check", "config", "prometheus.yml")
    assert "1 rule files found" in out, out


def test_promtool_checks_the_rules() -> None:
    out = _run("check", "rules", str(RULES.relative_to(PROM)))
    assert f"{len(_alerts())} rules found" in out, out


def test_every_rule_unit_test_passes() -> None:
    assert RULE_TESTS, "no promtool rule tests under deploy/prometheus/tests"
    _run("test", "rules", *(str(t.relative_to(PROM)) for t in RULE_TESTS))


def test_every_required_alert_exists_and_has_a_firing_and_a_quiet_case() -> None:
    alerts = _alerts()
    assert set(alerts) >= REQUIRED_ALERTS, REQUIRED_ALERTS - set(alerts)
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert set(alerts) <= fires, f"alerts never seen firing in a test: {set(alerts) - fires}"
    assert set(alerts) <= quiet, f"alerts never checked quiet in a test: {set(alerts) - quiet}"
    for name, rule in alerts.items():
        assert rule.get("labels", {}).get("severity") in {"warning", "critical"}, name
        assert {"summary", "description"} <= set(rule.get("annotations", {})), name


def test_the_scrape_config_scrapes_every_service_by_its_compose_name_and_ops_port() -> None:
    config = yaml.safe_load((PROM / "prometheus.yml").read_text(encoding="utf-8"))
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    ports = OpsPorts()
    expected = {"gamma-sync": ports.gamma_sync, "ingestor": ports.ingestor, "quoter": ports.quoter,
                "executor": ports.executor}
    scraped: dict[str, list[str]] = {}
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            assert static["labels"]["service"] == job["job_name"]
            scraped.setdefault(job["job_name"], []).extend(static["targets"])
    assert scraped == {name: [f"{name}:{port}"] for name, port in expected.items()}
    assert set(expected) <= set(compose["services"]), "a scraped service is missing from docker-compose.yml"
    assert config["rule_files"] == ["rules/*.yml"]
