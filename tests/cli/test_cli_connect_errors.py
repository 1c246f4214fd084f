"""Connection errors against the real test servers: each names the host (never a password) and the cause,
a hung server says "timed out", and the NATS client's own reconnect noise never reaches the terminal."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from polybot.runtime.infra import Infra

REC = f"{os.environ['POLYBOT_FIXTURES']}/ws_market/book_2024-11_polypy.json"
REC_MARKET = "0xd7399bd24c16cdef567d71ef2352776c8861017146c4e99d727605f4d84ba94d"
NATS_FREE = {"POLYBOT_NATS_URL": "nats://127.0.0.1:{free}", "POLYBOT_DATABASE_URL": "{db}"}

CASES: dict[str, tuple[list[str], dict[str, str], int, list[str]]] = {
    "status-no-such-database": (["status", "--db-url", "{db_base}/no_such_db_x"], {}, 2,
                                ['database "no_such_db_x" does not exist', "{pg_hostport}", "create the database"]),
    "status-no-such-role": (["status", "--db-url", "postgresql://nobody_x@{pg_hostport}/postgres"], {}, 2,
                            ['role "nobody_x" does not exist', "user name and password"]),
    "status-nats-port-as-database": (["status", "--db-url", "postgresql://postgres@{nats_hostport}/x"], {}, 2,
                                     ["cannot connect to PostgreSQL at", "{nats_hostport}"]),
    "gamma-nats-refused": (["gamma-refresh"], NATS_FREE, 2,
                           ["cannot connect to NATS at nats://127.0.0.1:{free}", "connection refused"]),
    "gamma-nats-refused-json": (["gamma-refresh", "--json"], NATS_FREE, 2, ["127.0.0.1:{free}"]),
    "gamma-nats-silent": (["gamma-refresh", "--timeout", "0.5"],
                          {"POLYBOT_NATS_URL": "nats://127.0.0.1:{silent}", "POLYBOT_DATABASE_URL": "{db}"}, 2,
                          ["cannot connect to NATS at nats://127.0.0.1:{silent}", "timed out after 0.5s"]),
    "gamma-nats-password": (["gamma-refresh"],
                            {"POLYBOT_NATS_URL": "nats://u:hunter2@127.0.0.1:{free}", "POLYBOT_DATABASE_URL": "{db}"},
                            2, ["nats://u:***@127.0.0.1:{free}"]),
    "gamma-nats-unknown-host": (["gamma-refresh"], {"POLYBOT_NATS_URL": "nats://no-such-host.invalid:4222",
                                                    "POLYBOT_DATABASE_URL": "{db}"}, 2,
                                ["no-such-host.invalid", "not resolved"]),
    "gamma-unreachable": (["gamma-refresh"], {"POLYBOT_NATS_URL": "{nats}", "POLYBOT_DATABASE_URL": "{db}",
                                              "POLYBOT_GAMMA__GAMMA_URL": "http://127.0.0.1:{free}/gamma",
                                              "POLYBOT_GAMMA__BACKOFF_BASE_S": "0.01"}, 2,
                          ["cannot reach Gamma at http://127.0.0.1:{free}/gamma"]),
    "replay-no-such-database": (["replay", REC, REC_MARKET, "--db-url", "{db_base}/no_such_db_y"], {}, 2,
                                ['database "no_such_db_y" does not exist']),
}
ABSENT = {"gamma-nats-password": ["hunter2"]}


@pytest.fixture(scope="module")
def results(cases_runner: Any, ports: dict[str, str], silent_port: int, infra: Infra) -> dict[str, Any]:
    db = urlsplit(infra.database_url)
    nats = urlsplit(infra.nats_url)
    ctx = {**ports, "silent": str(silent_port), "db": infra.database_url, "nats": infra.nats_url,
           "db_base": infra.database_url.rpartition("/")[0], "pg_hostport": f"{db.hostname}:{db.port}",
           "nats_hostport": f"{nats.hostname}:{nats.port}"}
    return {"ctx": ctx, **cases_runner(CASES, ctx)}


def _fill(word: str, ctx: dict[str, str]) -> str:
    for key, value in ctx.items():
        word = word.replace("{" + key + "}", value)
    return word


@pytest.mark.parametrize("case", list(CASES))
def test_each_connection_error_is_one_line_naming_host_and_cause(case: str, results: dict[str, Any],
                                                                 check: Callable[..., str]) -> None:
    _, _, code, words = CASES[case]
    res = results[case]
    check(res, code, [_fill(w, results["ctx"]) for w in words], ABSENT.get(case, ()))
    assert "nats: encountered error" not in res.stderr and "Task exception" not in res.stderr


def test_unreachable_nats_fails_fast(results: dict[str, Any], cli: Callable[..., Any]) -> None:
    """Two quick attempts, not a reconnect loop until some outer timeout."""
    import time

    ctx = results["ctx"]
    t0 = time.monotonic()
    res = cli(["gamma-refresh"], {k: _fill(v, ctx) for k, v in NATS_FREE.items()})
    assert res.returncode == 2 and time.monotonic() - t0 < 5, res.stderr
