"""What a hostile sweep over every command found, kept found: each case is a real process that must end
with one clear line on stderr (exit 2: bad input; 1: ran, but found a problem), no traceback, and a line a
person can read (a 100 000-character argument is cut in its middle). ``polybot sim`` replaces itself with
polysim, so polysim's start follows the same rule; so do the services' starts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

WS = Path(os.environ["POLYBOT_FIXTURES"]) / "ws_market"
CHAIN = str(WS / "hash_chain_2025-10_ws_book_price_changes_rest_book.jsonl")
CHAIN_MARKET = "0x2f1ab0ffaf465c4acd76b9a4a1f8980db26bfae7d248a6bb289350586028307e"
A = "0x" + "a" * 64
REFUSED_DB = "postgresql://u@127.0.0.1:{free}/x"
LINE_MAX = 1_000  # no error line longer than this, whatever was typed

CASES: dict[str, tuple[list[str], dict[str, str], int, list[str]]] = {
    # argparse hands ``--seed=--`` an empty list, past the option's type check
    "sim-value-is-dashdash": (["sim", "--seed=--"], {}, 2, ["--seed", "expected a value, got '--'"]),
    # polysim loading what it was given (it used to print its traceback)
    "sim-replay-not-json": (["sim", "--port", "0", "--replay", "{d}/bad.toml"], {}, 2,
                            ["cannot load --replay", "bad.toml", "line 1 is not JSON", "market-channel JSONL"]),
    "sim-catalog-binary": (["sim", "--port", "0", "--catalog", "{d}/binary.jsonl"], {}, 2,
                           ["cannot load --catalog", "UnicodeDecodeError", "Gamma"]),
    "sim-host-too-long": (["sim", "--host", "h" * 300, "--port", "0"], {}, 2, ["--host", "not a valid host name"]),
    # $POLYBOT_CONFIG: what the file is, and that the variable named it
    "config-env-fifo": (["status"], {"POLYBOT_CONFIG": "{d}/fifo.jsonl"}, 2, ["named pipe", "POLYBOT_CONFIG"]),
    "config-env-with-db-url": (["status", "--db-url", REFUSED_DB], {"POLYBOT_CONFIG": "{d}/missing.toml"}, 2,
                               ["no such file", "missing.toml", "POLYBOT_CONFIG"]),
    # values the TOML reader or the environment's JSON cannot take (they reached the last net)
    "config-5000-digits": (["status", "--config", "{s}/digits.toml"], {}, 2, ["digits.toml", "4300 digits"]),
    "env-json-nested-deep": (["status"], {"POLYBOT_INGESTOR__ASSETS": "[" * 3000}, 2,
                             ["POLYBOT_INGESTOR__ASSETS", "recursion"]),
    # a log level the services would die of, one after the other, once ``up`` had started everything
    "env-log-level": (["status"], {"POLYBOT_LOG_LEVEL": "LOUD"}, 2,
                      ["log_level = 'LOUD'", "POLYBOT_LOG_LEVEL", "INFO"]),
    "config-log-level": (["up", "--config", "{s}/loud.toml"], {}, 2, ["log_level = 'loud'", "loud.toml"]),
    "env-empty-key": (["status"], {"POLYBOT_OPS____INGESTOR": "1"}, 2, ["POLYBOT_OPS____INGESTOR"]),
    # a huge argument is cut, not echoed whole
    "long-argument": (["status", "-" + "x" * 100_000], {}, 2, ["unrecognized arguments", "characters left out"]),
    # replay: a big file that is not a recording is given up on, not parsed to its end (twice)
    "replay-not-a-recording": (["replay", "{s}/junk.jsonl", A], {}, 1,
                               ["stopped after its first 10000 frames", "market-channel recording"]),
    # replay: books whose hashes disagree with the venue's are a finding (exit 1), the summary still printed
    "replay-hash-mismatch": (["replay", CHAIN, CHAIN_MARKET, "--min-order-size", "10", "--json"], {}, 1,
                             ["did not match the venue's", "--min-order-size"]),
}
ABSENT = {"config-5000-digits": ["set_int_max_str_digits"]}


@pytest.fixture(scope="module")
def own_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sweep")
    (d / "digits.toml").write_text("chain_id = " + "9" * 5000 + "\n")
    (d / "loud.toml").write_text('log_level = "loud"\n')
    (d / "junk.jsonl").write_text("# not a frame\n" * 12_000)
    return d


@pytest.fixture(scope="module")
def results(cases_runner: Any, ports: dict[str, str], own_files: Path) -> dict[str, Any]:
    ctx = {**ports, "s": str(own_files)}
    return {"ctx": ctx, **cases_runner(CASES, ctx)}


@pytest.mark.parametrize("case", list(CASES))
def test_each_sweep_finding_is_one_short_clear_line(case: str, results: dict[str, Any],
                                                    check: Callable[..., str]) -> None:
    _, _, code, words = CASES[case]
    line = check(results[case], code, words, ABSENT.get(case, ()))
    assert len(line) < LINE_MAX, (case, len(line))


def test_a_hash_mismatch_still_prints_the_whole_summary(results: dict[str, Any]) -> None:
    summary = json.loads(results["replay-hash-mismatch"].stdout)
    assert summary["hash_mismatch"] >= 1 and summary["market_id"] == CHAIN_MARKET
    assert set(summary) == {"market_id", "frames", "events", "applied", "invalid", "hash_checked", "hash_ok",
                            "hash_mismatch", "resyncs", "books"}


def test_a_file_that_is_not_a_recording_is_given_up_on(results: dict[str, Any]) -> None:
    summary_lines = results["replay-not-a-recording"].stdout
    assert "frames         10000" in summary_lines  # not the 12 000 lines of the file


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("POLYBOT_")}
    return {**env, **extra}


@pytest.fixture()
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield int(s.getsockname()[1])


def test_polysim_on_a_port_in_use_is_one_line(busy_port: int) -> None:
    """``polybot sim`` checks the port before it becomes polysim; another process can take it meanwhile."""
    res = subprocess.run([sys.executable, "-m", "polysim", "--port", str(busy_port)], capture_output=True, text=True,
                         timeout=60, env=_clean_env({}), check=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-1500:]
    assert res.stderr.splitlines() == [res.stderr.strip()]
    assert res.stderr.startswith(f"error: cannot listen on 127.0.0.1 port {busy_port}: ") and "--port" in res.stderr


@pytest.mark.parametrize(("env", "words"), [
    ({"POLYBOT_LOG_LEVEL": "LOUD"}, ["log_level = 'LOUD'", "not a logging level"]),
    ({"POLYBOT_CONFIG": "{s}/digits.toml"}, ["cannot be read", "4300 digits"]),
], ids=["log-level", "5000-digits"])
def test_a_service_with_settings_it_cannot_use_stops_in_one_line(env: dict[str, str], words: list[str],
                                                                 own_files: Path) -> None:
    filled = {k: v.replace("{s}", str(own_files)) for k, v in env.items()}
    res = subprocess.run([sys.executable, "-m", "polybot_ingestor"], capture_output=True, text=True, timeout=60,
                         env=_clean_env(filled), cwd=own_files, check=False)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, res.stderr[-1500:]
    assert lines[0].startswith("ingestor: cannot start: ") and all(w in lines[0] for w in words), lines[0]
