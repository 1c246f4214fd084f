"""Every PromQL expression of the Grafana dashboards and the alert rules, evaluated by a real Prometheus that
scrapes a real `polybot up` (config/demo.toml: polysim, gamma-sync, ingestor, quoter, executor trading on the
simulator): each parses and returns at least one series, but for the few named below with the reason."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from polybot.runtime.embedded import free_port

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "deploy" / "prometheus"
DASHBOARDS = sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json"))
TEMPLATE_VALUES = {"service": ".*", "market": ".*"}  # the dashboards' "All"
READY_LINE = "Ctrl-C stops everything"
SERIES_DEADLINE_S = 60.0

# Dashboard expressions that may return no series on a fresh demo stack, and why: their metric is labelled and
# has no series until the event it counts happens (or it did not happen in this short run). They must still
# parse (Prometheus answers them with success).
NO_SERIES_YET: dict[str, str] = {
    'sum by (service, task) (increase(task_failures{service=~"$service"}[1h]))':
        "task_failures{task}: no series until a supervised task dies",
    "sum by (reason) (increase(ingestion_ws_disconnects[1h]))":
        "ingestion_ws_disconnects{reason}: no series until the websocket drops",
    "sum by (reason) (rate(ingestion_discarded[5m]))":
        "ingestion_discarded{reason}: only inputs deliberately not applied, which a clean run may have none of",
    "sum by (reason) (rate(order_rejects[5m])) * 60":
        "order_rejects{reason}: no series until the venue or a risk limit refuses an order",
    "sum by (reason) (rate(orders_canceled[5m])) * 60":
        "orders_canceled{reason}: no series until a replace or a cancel, which a short run may not reach",
    "max by (scope) (risk_halted)": "risk_halted{scope}: no series until a risk breach halts a scope",
    "sum by (kind) (increase(gamma_refresh_errors_total[1h]))":
        "gamma_refresh_errors_total{kind}: no series until a Gamma refresh fails",
    "sum by (endpoint, header) (increase(gamma_deprecation_notices_total[1d]))":
        "gamma_deprecation_notices_total: no series until Gamma announces a deprecation",
}

# Alerts are quiet on a healthy stack by design (their condition is false, so the expression returns nothing).
# Each is still evaluated whole (it must parse), and each of its inner expressions listed here (a part of the
# rule's expression, verbatim) must return a series: the metrics the condition compares are really exported.
ALERT_INNER: dict[str, list[str]] = {
    "ServiceDown": ["up"],
    "IngestionStale": ["time() - ingestion_last_update_timestamp_seconds"],
    "ResyncStorm": ["rate(ingestion_resync_first_delta[5m]) + rate(ingestion_resync_gap[5m]) "
                    "+ rate(ingestion_resync_checksum[5m]) + rate(ingestion_resync_tick_size[5m])"],
    "InvalidMessagesRising": ["sum without (reason) (rate(ingestion_msg_invalid[5m]))",
                              "0.01 * rate(ingestion_frames[5m])"],
    "WebsocketDisconnected": ["ingestion_ws_connected"],
    "NoPlanForSelectedMarket": ["time() - quote_last_plan_timestamp_seconds"],
    # order_rejects has no series before the first reject (see NO_SERIES_YET): its denominator's other part.
    "ExecutorRejectRate": ["sum by (job, instance, service) (rate(orders_placed[5m]))"],
    "PlanLatencyHigh": ["histogram_quantile(0.99, sum by (job, instance, service, le) "
                        "(rate(engine_execute_plan_ms_bucket[5m])))"],
    "HeartbeatFailing": ["increase(heartbeat_failures[1m])"],
    "KillSwitchEngaged": ["kill_switch_engaged"],
    "PositionNearCap": ["position_shares / on (job, instance) group_left () risk_max_position_shares"],
    "DailyLossNearLimit": ["-pnl_day_usdc", "0.8 * risk_max_daily_loss_usdc"],
    "RiskHalted": ["risk_halted"],
    "DailyLossUnmarked": ["risk_unmarked_tokens"],
}


def _squash(expr: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", expr))).strip()


def _fill(expr: str) -> str:
    for name, value in TEMPLATE_VALUES.items():
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    return expr


def dashboard_exprs() -> dict[str, str]:
    """``{expr: where}`` for every panel target and every template variable of every dashboard."""
    out: dict[str, str] = {}
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            for target in panel["targets"]:
                out[target["expr"]] = f"{path.name}: {panel['title']}"
        for var in board["templating"]["list"]:
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", var["query"]["query"])
            assert m, f"{path.name}: variable {var['name']} is not label_values(metric, label)"
            out[m.group(1)] = f"{path.name}: variable {var['name']} ({m.group(2)})"
    return out


def alert_rules() -> dict[str, str]:
    doc = yaml.safe_load((PROM / "rules" / "polybot.rules.yml").read_text(encoding="utf-8"))
    return {r["alert"]: r["expr"] for g in doc["groups"] for r in g["rules"] if "alert" in r}


def test_the_lists_of_exceptions_name_real_expressions() -> None:
    exprs = dashboard_exprs()
    assert len(DASHBOARDS) == 4 and len(exprs) > 40
    assert set(NO_SERIES_YET) <= set(exprs), set(NO_SERIES_YET) - set(exprs)
    rules = alert_rules()
    assert set(ALERT_INNER) == set(rules), set(ALERT_INNER) ^ set(rules)
    for name, inner in ALERT_INNER.items():
        for part in inner:
            assert _squash(part) in _squash(rules[name]), f"{name}: {part!r} is not part of its expression"


def test_the_dashboards_use_the_provisioned_datasource_and_define_what_they_filter_on() -> None:
    provisioning = REPO / "deploy" / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "polybot.yml").read_text())["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"  # docker-compose.yml mounts them there
    boards = [json.loads(p.read_text(encoding="utf-8")) for p in DASHBOARDS]
    assert {b["title"].split(" · ")[-1] for b in boards} == {"Ingestion", "Quoting", "Execution", "Markets"}
    assert len({b["uid"] for b in boards}) == len(boards)
    for board in boards:
        names = {v["name"] for v in board["templating"]["list"]}
        assert names == set(TEMPLATE_VALUES), board["title"]
        for panel in board["panels"]:
            for ds in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
                assert ds == {"type": "prometheus", "uid": source["uid"]}, (board["title"], panel["title"])
            for target in panel["targets"]:
                assert set(re.findall(r"\$\{?(\w+)", target["expr"])) <= names, target["expr"]


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _prometheus_config(tmp: Path, ports: dict[str, int]) -> Path:
    """The repo's scrape config with every target on this machine's port and the repo's rule files."""
    config = yaml.safe_load((PROM / "prometheus.yml").read_text(encoding="utf-8"))
    config["rule_files"] = [str(PROM / f) for f in config["rule_files"]]
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            static["targets"] = [f"127.0.0.1:{ports[job['job_name']]}"]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _stop(proc: subprocess.Popen[Any], sig: int, wait_s: float) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`polybot up --config config/demo.toml` on free ports and embedded servers in ``tmp_path``, and a real
    Prometheus scraping it; yields Prometheus' URL. Everything is stopped afterwards, and checked gone."""
    prometheus = shutil.which("prometheus")
    if prometheus is None:  # never a skip: the bootstrap installs it
        pytest.fail("prometheus is not installed: run `make system-tools` (Debian package prometheus)")
    ports = {"ingestor": free_port(), "quoter": free_port(), "executor": free_port(), "gamma-sync": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}  # embedded NATS and PostgreSQL
    env.update({"POLYBOT_STATE_DIR": str(tmp_path / "state"), "POLYBOT_SIM__PORT": str(free_port()),
                "POLYBOT_OPS__INGESTOR": str(ports["ingestor"]), "POLYBOT_OPS__QUOTER": str(ports["quoter"]),
                "POLYBOT_OPS__EXECUTOR": str(ports["executor"]), "POLYBOT_OPS__GAMMA_SYNC": str(ports["gamma-sync"]),
                "PYTHONIOENCODING": "utf-8"})
    up_log = tmp_path / "up.log"
    prom_port = free_port()
    with up_log.open("w", encoding="utf-8") as out:  # a file, not a pipe: the services log for a minute
        up = subprocess.Popen([sys.executable, "-m", "polybot.cli", "up", "--config", "config/demo.toml",
                               "--ready-timeout", "60"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    prom_log = (tmp_path / "prometheus.log").open("w", encoding="utf-8")
    prom = subprocess.Popen([prometheus, f"--config.file={_prometheus_config(tmp_path, ports)}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}",
                             "--storage.tsdb.retention.time=1h"], stdout=prom_log, stderr=subprocess.STDOUT)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 75
        while READY_LINE not in up_log.read_text(encoding="utf-8", errors="replace"):
            assert up.poll() is None and time.monotonic() < deadline, up_log.read_text(errors="replace")[-4000:]
            time.sleep(0.3)
        assert prom.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
        children = psutil.Process(up.pid).children(recursive=True)
        yield f"http://127.0.0.1:{prom_port}", tmp_path
    finally:
        _stop(prom, signal.SIGTERM, 20)
        prom_log.close()
        _stop(up, signal.SIGINT, 60)
    assert up.returncode == 0, up_log.read_text(errors="replace")[-3000:]
    assert not [c.pid for c in children if _alive(c.pid)]
    leftovers = [p.info for p in psutil.process_iter(["pid", "cmdline"])
                 if str(tmp_path) in " ".join(p.info["cmdline"] or []) and _alive(p.info["pid"])]
    assert leftovers == []


def _query(client: httpx.Client, expr: str) -> list[dict[str, Any]]:
    """The series ``expr`` returns now; fails on anything Prometheus refuses (a parse error)."""
    res = client.get("/api/v1/query", params={"query": expr})
    body = res.json()
    assert res.status_code == 200 and body["status"] == "success", f"{expr!r}: {body}"
    data = body["data"]
    assert data["resultType"] in {"vector", "matrix", "scalar"}, data
    if data["resultType"] == "scalar":
        return [{"value": data["result"]}]
    return list(data["result"])


def _wait_for_two_scrapes(client: httpx.Client, jobs: set[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        seen = {s["metric"]["job"] for s in _query(client, "count_over_time(up[5m]) >= 2")}
        down = {s["metric"]["job"] for s in _query(client, "up == 0")}
        if jobs <= seen and not down & jobs:
            return
        assert time.monotonic() < deadline, f"scraped twice: {seen}, down: {down}"
        time.sleep(1)


def test_every_dashboard_and_alert_expression_returns_series(stack: tuple[str, Path]) -> None:
    url, _ = stack
    panels = dashboard_exprs()
    rules = alert_rules()
    with httpx.Client(base_url=url, timeout=10) as client:
        _wait_for_two_scrapes(client, {"gamma-sync", "ingestor", "quoter", "executor"})
        loaded = client.get("/api/v1/rules").json()["data"]["groups"]
        assert {r["name"] for g in loaded for r in g["rules"]} == set(rules), "Prometheus did not load the rules"

        required = {e: where for e, where in panels.items() if e not in NO_SERIES_YET}
        required |= {part: f"alert {name}" for name, parts in ALERT_INNER.items() for part in parts}
        # The demo needs a few seconds more to quote and trade: ask until every expression has a series.
        deadline = time.monotonic() + SERIES_DEADLINE_S
        while True:
            missing = {e: where for e, where in required.items() if not _query(client, _fill(e))}
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert not missing, "no series for:\n" + "\n".join(f"  {w}: {e}" for e, w in sorted(missing.items()))
        for expr in [*NO_SERIES_YET, *rules.values()]:  # these must parse, series or not
            _query(client, _fill(expr))
