"""The CLI speaks to people: each hostile-but-fair case prints one line on stderr naming the problem,
exits 2 (bad input, bad config, cannot connect) or 1 (ran, but found nothing to replay), and never a
traceback. These cases need no server; all run at once, as separate processes (see conftest)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIX = os.environ["POLYBOT_FIXTURES"]
REC = f"{FIX}/ws_market/book_2024-11_polypy.json"
REC_MARKET = "0xd7399bd24c16cdef567d71ef2352776c8861017146c4e99d727605f4d84ba94d"
A = "0x" + "a" * 64

CASES: dict[str, tuple[list[str], dict[str, str], int, list[str]]] = {
    # --- top level
    "no-command": ([], {}, 2, ["required: COMMAND", "polybot --help"]),
    "unknown-command": (["fly"], {}, 2, ["invalid choice: 'fly'"]),
    "unknown-flag": (["status", "--bogus"], {}, 2, ["unrecognized arguments: --bogus"]),
    # --- status: URLs
    "status-mysql": (["status", "--db-url", "mysql://x"], {}, 2, ["database URL", "mysql://x"]),
    "status-not-a-url": (["status", "--db-url", "not a url"], {}, 2, ["database URL", "not a url"]),
    "status-empty-url": (["status", "--db-url", ""], {}, 2, ["--db-url is empty"]),
    "status-bad-port": (["status", "--db-url", "postgresql://h:99999/db"], {}, 2, ["Port out of range"]),
    "status-refused": (["status", "--db-url", "postgresql://u:hunter2@127.0.0.1:{free}/db"], {}, 2,
                       ["127.0.0.1:{free}", "connection refused", "u:***@"]),
    "status-refused-json": (["status", "--json", "--db-url", "postgresql://u@127.0.0.1:{free}/db"], {}, 2,
                            ["127.0.0.1:{free}", "connection refused"]),
    "status-env-url": (["status"], {"POLYBOT_DATABASE_URL": "mysql://x"}, 2, ["database URL", "POLYBOT_DATABASE_URL"]),
    "status-timed-out": (["status", "--timeout", "0.3", "--db-url", "postgresql://u@127.0.0.1:{silent}/db"], {}, 2,
                         ["127.0.0.1:{silent}", "timed out after 0.3s"]),
    # --- status: config files and settings
    "config-missing": (["status", "--config", "{d}/missing.toml"], {}, 2, ["no such file", "missing.toml"]),
    "config-missing-dir": (["status", "--config", "{d}/nope/x.toml"], {}, 2, ["there is no directory"]),
    "config-under-a-file": (["status", "--config", "{d}/plain.txt/x.toml"], {}, 2, ["no such file", "not a directory"]),
    "config-empty-path": (["status", "--config", ""], {}, 2, ["config file path is empty"]),
    "config-directory": (["status", "--config", "{d}"], {}, 2, ["is a directory"]),
    "config-dev-null": (["status", "--config", "/dev/null"], {}, 2, ["/dev/null", "character device",
                                                                     "not a regular file"]),
    "config-not-toml": (["status", "--config", "{d}/bad.toml"], {}, 2, ["not valid TOML", "Invalid value", "bad.toml"]),
    "config-not-utf8": (["status", "--config", "{d}/binary.toml"], {}, 2, ["not valid TOML", "not UTF-8"]),
    "config-unknown-key": (["status", "--config", "{d}/unknown.toml"], {}, 2, ["unknown setting 'bogus_key'",
                                                                               "unknown.toml"]),
    "config-unknown-nested": (["status", "--config", "{d}/nested_unknown.toml"], {}, 2,
                              ["unknown setting 'ops.foo'"]),
    "config-wrong-type": (["status", "--config", "{d}/wrong_type.toml"], {}, 2,
                          ["ops.ingestor = 'abc'", "wrong_type.toml", "valid integer"]),
    "config-section-type": (["status", "--config", "{d}/section_type.toml"], {}, 2, ["invalid setting ops = 5"]),
    "config-from-env-var": (["status"], {"POLYBOT_CONFIG": "{d}/bad.toml"}, 2, ["not valid TOML", "bad.toml"]),
    "config-env-missing": (["status"], {"POLYBOT_CONFIG": "{d}/missing.toml"}, 2,
                           ["POLYBOT_CONFIG", "missing.toml", "no such file"]),
    "config-env-directory": (["status"], {"POLYBOT_CONFIG": "{d}"}, 2, ["POLYBOT_CONFIG", "is a directory"]),
    "config-named-with-db-url": (["status", "--db-url", "postgresql://x@127.0.0.1:{free}/d", "--config",
                                  "{d}/bad.toml"], {}, 2, ["not valid TOML"]),
    "env-bad-int": (["status"], {"POLYBOT_OPS__INGESTOR": "abc"}, 2, ["ops.ingestor", "POLYBOT_OPS__INGESTOR"]),
    "env-lowercase-name": (["status"], {"polybot_ops__ingestor": "abc"}, 2, ["ops.ingestor",
                                                                            "polybot_ops__ingestor"]),
    "env-not-json": (["status"], {"POLYBOT_OPS": "zzz"}, 2, ["'ops'", "POLYBOT_OPS", "JSON"]),
    "env-unknown-key": (["status"], {"POLYBOT_OPS__BOGUS": "1"}, 2, ["unknown setting 'ops.bogus'",
                                                                     "POLYBOT_OPS__BOGUS"]),
    "env-bad-literal": (["status"], {"POLYBOT_GAMMA__VERSIONS": '["v3"]'}, 2, ["gamma.versions.0"]),
    "env-live-without-key": (["status"], {"POLYBOT_MODE": "live"}, 2, ["POLYBOT_PRIVATE_KEY"]),
    "env-unicode": (["status"], {"POLYBOT_CHAIN_ID": "١٣٧x"}, 2, ["chain_id", "POLYBOT_CHAIN_ID"]),
    "status-no-database": (["status"], {"POLYBOT_STATE_DIR": "{d}/nostate"}, 2, ["no database", "--db-url"]),
    # --- status: flags
    "status-timeout-negative": (["status", "--timeout", "-1"], {}, 2, ["--timeout", "'-1'"]),
    "status-timeout-nan": (["status", "--timeout", "nan"], {}, 2, ["--timeout", "'nan'"]),
    "status-timeout-huge": (["status", "--timeout", "1e999"], {}, 2, ["--timeout"]),
    "status-market-empty": (["status", "--market", ""], {}, 2, ["--market"]),
    # --- gamma-refresh (URLs are checked before any server is started or dialled)
    "gamma-not-toml": (["gamma-refresh", "--config", "{d}/bad.toml"], {}, 2, ["not valid TOML"]),
    "gamma-url-ftp": (["gamma-refresh", "--gamma-url", "ftp://x"], {}, 2, ["--gamma-url", "ftp://x", "http"]),
    "gamma-url-empty": (["gamma-refresh", "--gamma-url", ""], {}, 2, ["--gamma-url is empty"]),
    "gamma-clob-url-bad": (["gamma-refresh", "--clob-url", "http://"], {}, 2, ["--clob-url"]),
    "gamma-timeout-zero": (["gamma-refresh", "--timeout", "0"], {}, 2, ["--timeout"]),
    "gamma-nats-not-a-url": (["gamma-refresh"], {"POLYBOT_NATS_URL": "not a url",
                                                 "POLYBOT_DATABASE_URL": "postgresql://u@127.0.0.1:{free}/x"},
                             2, ["not a NATS URL", "POLYBOT_NATS_URL"]),
    "gamma-nats-http": (["gamma-refresh"], {"POLYBOT_NATS_URL": "http://127.0.0.1:4222",
                                            "POLYBOT_DATABASE_URL": "postgresql://u@127.0.0.1:{free}/x"},
                        2, ["not a NATS URL"]),
    "gamma-db-refused": (["gamma-refresh"], {"POLYBOT_NATS_URL": "nats://127.0.0.1:{free2}",
                                             "POLYBOT_DATABASE_URL": "postgresql://u:pw9@127.0.0.1:{free}/x"},
                         2, ["cannot connect to PostgreSQL at postgresql://u:***@127.0.0.1:{free}/x"]),
    # --- replay: the file
    "replay-directory": (["replay", "{d}", "0x1"], {}, 2, ["is a directory"]),
    "replay-dev-null": (["replay", "/dev/null", "0x1"], {}, 2, ["character device", "not a regular file"]),
    "replay-fifo": (["replay", "{d}/fifo.jsonl", "0x1"], {}, 2, ["named pipe", "not a regular file"]),
    "replay-missing": (["replay", "{d}/nope.jsonl", "0x1"], {}, 2, ["no such file", "nope.jsonl"]),
    "replay-dangling-link": (["replay", "{d}/dangling.jsonl", "0x1"], {}, 2, ["broken symbolic link"]),
    "replay-empty-path": (["replay", "", "0x1"], {}, 2, ["recording path is empty"]),
    "replay-binary": (["replay", "{d}/binary.jsonl", "0x1"], {}, 2, ["not a text recording", "not UTF-8"]),
    "replay-gzip": (["replay", "{d}/rec.jsonl.gz", "0x1"], {}, 2, ["gunzip"]),
    # --- replay: ran, but nothing to replay (exit 1)
    "replay-junk-frames": (["replay", "{d}/junk.jsonl", "0x1"], {}, 1, ["no events", "3 frames", "3 invalid"]),
    "replay-empty": (["replay", "{d}/empty.jsonl", "0x1"], {}, 1, ["no events", "no frames"]),
    "replay-blank": (["replay", "{d}/blank.jsonl", "0x1"], {}, 1, ["no frames"]),
    "replay-not-json": (["replay", "{d}/not_json.jsonl", "0x1"], {}, 1, ["no valid message"]),
    "replay-nan-price": (["replay", "{d}/nan.jsonl", A], {}, 1, ["no events", "no valid message"]),
    "replay-snan-size": (["replay", "{d}/snan.jsonl", A], {}, 1, ["no events"]),
    "replay-huge-numbers": (["replay", "{d}/huge_number.jsonl", A], {}, 1, ["no events"]),
    "replay-long-line": (["replay", "{d}/long_line.jsonl", A], {}, 1, ["no events"]),
    "replay-unicode": (["replay", "{d}/unicode.jsonl", "マーケット"], {}, 1, ["no events", "マーケット"]),
    "replay-unknown-market": (["replay", REC, "0x1"], {}, 1, ["no events of market 0x1", "other markets",
                                                              REC_MARKET]),
    "replay-unknown-market-json": (["replay", REC, A, "--json"], {}, 1, ["no events", REC_MARKET]),
    # --- replay: flags
    "replay-market-newline": (["replay", REC, "0x1\nrm -rf"], {}, 2, ["market_id", "\\n"]),
    "replay-market-empty": (["replay", REC, ""], {}, 2, ["market_id"]),
    "replay-tick-negative": (["replay", REC, "0x1", "--tick-size", "-0.01"], {}, 2, ["--tick-size", "positive"]),
    "replay-tick-tiny": (["replay", REC, "0x1", "--tick-size", "1e-99999"], {}, 2, ["--tick-size"]),
    "replay-tick-one": (["replay", REC, "0x1", "--tick-size", "1"], {}, 2, ["--tick-size", "below 1"]),
    "replay-size-huge": (["replay", REC, "0x1", "--min-order-size", "1e999999999"], {}, 2, ["--min-order-size"]),
    "replay-size-long": (["replay", REC, "0x1", "--min-order-size", "9" * 5000], {}, 2, ["--min-order-size", "…"]),
    "replay-size-inf": (["replay", REC, "0x1", "--min-order-size", "Infinity"], {}, 2, ["--min-order-size", "finite"]),
    "replay-neg-risk-empty": (["replay", REC, "0x1", "--neg-risk", ""], {}, 2, ["--neg-risk"]),
    # --- replay: --db-url
    "replay-db-mysql": (["replay", REC, "0x1", "--db-url", "mysql://h/db"], {}, 2, ["unsupported --db-url"]),
    "replay-db-no-dir": (["replay", REC, "0x1", "--db-url", "sqlite:///{d}/nodir/x.db"], {}, 2,
                         ["cannot write", "no directory"]),
    "replay-db-directory": (["replay", REC, "0x1", "--db-url", "sqlite:///{d}/subdir"], {}, 2,
                            ["cannot write", "is a directory"]),
    "replay-db-not-sqlite": (["replay", REC, REC_MARKET, "--db-url", "sqlite:///{d}/bad.toml"], {}, 2,
                             ["cannot write", "not a database"]),
    "replay-db-refused": (["replay", REC, "0x1", "--db-url", "postgresql://u:hunter2@127.0.0.1:{free}/x"], {}, 2,
                          ["cannot connect to PostgreSQL", "127.0.0.1:{free}", "connection refused"]),
    # --- sim (checked before polysim starts)
    "sim-port-negative": (["sim", "--port", "-1"], {}, 2, ["--port", "between 0 and 65535"]),
    "sim-port-huge": (["sim", "--port", "9" * 40], {}, 2, ["--port"]),
    "sim-port-text": (["sim", "--port", "eighty"], {}, 2, ["--port", "'eighty'"]),
    "sim-port-busy": (["sim", "--port", "{silent}"], {}, 2, ["port {silent}", "already in use"]),
    "sim-host-unknown": (["sim", "--host", "no-such-host.invalid", "--port", "0"], {}, 2, ["--host",
                                                                                           "not resolved"]),
    "sim-host-empty": (["sim", "--host", ""], {}, 2, ["--host"]),
    "sim-markets-zero": (["sim", "--markets", "0"], {}, 2, ["--markets"]),
    "sim-markets-huge": (["sim", "--markets", "1" + "0" * 30], {}, 2, ["--markets"]),
    "sim-speed-nan": (["sim", "--replay-speed", "nan"], {}, 2, ["--replay-speed"]),
    "sim-balance-negative": (["sim", "--starting-balance", "-1"], {}, 2, ["--starting-balance"]),
    "sim-shares-nan": (["sim", "--starting-shares", "NaN"], {}, 2, ["--starting-shares"]),
    "sim-tick-zero": (["sim", "--tick-ms", "0"], {}, 2, ["--tick-ms"]),
    "sim-log-level": (["sim", "--log-level", "loud"], {}, 2, ["--log-level", "warning"]),
    "sim-replay-directory": (["sim", "--replay", "{d}"], {}, 2, ["is a directory"]),
    "sim-replay-missing": (["sim", "--replay", "{d}/nope.jsonl"], {}, 2, ["no such file"]),
    "sim-catalog-dev-null": (["sim", "--catalog", "/dev/null"], {}, 2, ["not a regular file"]),
    # --- up (checked before anything is started)
    "up-ready-timeout-negative": (["up", "--ready-timeout", "-3"], {}, 2, ["--ready-timeout"]),
    "up-ready-timeout-nan": (["up", "--ready-timeout", "nan"], {}, 2, ["--ready-timeout"]),
    "up-not-toml": (["up", "--config", "{d}/bad.toml"], {}, 2, ["not valid TOML"]),
    "up-live-with-sim": (["up"], {"POLYBOT_MODE": "live", "POLYBOT_PRIVATE_KEY": "0xkey"}, 2,
                         ["mode is live", "--no-sim"]),
    "up-port-zero": (["up"], {"POLYBOT_OPS__QUOTER": "0"}, 2, ["quoter", "not a TCP port"]),
    "up-port-huge": (["up"], {"POLYBOT_SIM__PORT": "70000"}, 2, ["polysim", "70000"]),
    "up-port-shared": (["up"], {"POLYBOT_OPS__QUOTER": "8101"}, 2, ["ingestor and quoter", "8101"]),
    "up-state-dir-unusable": (["up"], {"POLYBOT_STATE_DIR": "{d}/plain.txt/state"}, 2,
                              ["cannot create the state directory"]),
    "up-already-running": (["up"], {"POLYBOT_STATE_DIR": "{d}/busy_state"}, 2, ["already running", "{pid}"]),
}
# Words that must appear nowhere in the output (passwords).
ABSENT: dict[str, list[str]] = {"status-refused": ["hunter2"], "replay-db-refused": ["hunter2"],
                                "gamma-db-refused": ["pw9"]}


@pytest.fixture(scope="module")
def results(cases_runner: Any, ports: dict[str, str], silent_port: int, hostile: Path) -> dict[str, Any]:
    run = hostile / "busy_state" / "run"
    run.mkdir(parents=True, exist_ok=True)
    (run / "quoter.pid").write_text(str(os.getpid()))  # this test process: certainly alive
    ctx = {**ports, "silent": str(silent_port), "pid": str(os.getpid())}
    return {"ctx": ctx, **cases_runner(CASES, ctx)}


@pytest.mark.parametrize("case", list(CASES))
def test_each_case_is_one_clear_line_with_the_right_exit_code(case: str, results: dict[str, Any],
                                                               check: Callable[..., str]) -> None:
    _, _, code, words = CASES[case]
    ctx = results["ctx"]
    check(results[case], code, [w.replace("{free}", ctx["free"]).replace("{silent}", ctx["silent"])
                                .replace("{pid}", ctx["pid"]) for w in words], ABSENT.get(case, ()))


def test_nothing_to_replay_still_prints_the_summary(results: dict[str, Any]) -> None:
    res = results["replay-unknown-market-json"]
    summary = json.loads(res.stdout)
    assert (summary["market_id"], summary["frames"], summary["events"]) == (A, 1, 0)
    junk = results["replay-junk-frames"]
    assert junk.stderr.count("invalid message at line") == 3 and "market_id" in junk.stdout


def test_invalid_messages_stay_one_line_each(results: dict[str, Any]) -> None:
    res = results["replay-long-line"]
    lines = res.stderr.splitlines()
    assert len(lines) == 2 and len(lines[0]) < 2_000  # the 2 MB line is cut, not echoed


def test_up_refused_before_starting_anything(results: dict[str, Any], hostile: Path) -> None:
    assert not (hostile / "busy_state" / "infra.json").exists()
    assert not (hostile / "nostate" / "infra.json").exists()
