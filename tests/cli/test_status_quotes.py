"""``polybot status``'s quote and order columns from rows the executor's own writers put in PostgreSQL: last plan
age and outcome, open orders, position and PnL (realized, and unrealized at the newest snapshot's midpoint)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg

from polybot.domain.risk import ALL, Breach
from polybot.store import exec_repo, migrate, risk_repo
from polybot.store.exec_repo import AuditRow, OrderRow

D = Decimal


def _plan(plan_id: str, market: str, created_ts_ms: int) -> dict[str, Any]:
    return {"type": "quote.plan", "plan_id": plan_id, "market": market, "seq": 1, "created_ts_ms": created_ts_ms,
            "ttl_ms": 5_000, "orders": [], "tick_size": "0.01"}


def _order(order_id: str, market: str, asset: str, status: str) -> OrderRow:
    return OrderRow(order_id, market, asset, "BUY", D("0.45"), D("5"), D(0), status, "clob", plan_id="p2")


async def _seed(pool: asyncpg.Pool) -> int:
    await migrate.apply_migrations(pool, ("audit", "ingest", "exec"))
    now = int(time.time() * 1000)
    await pool.executemany(
        "INSERT INTO market_status (asset_id, market, last_seq, last_update_ts_ms, snapshots, deltas, state,"
        " resync_first_delta, resync_gap, resync_checksum, resync_tick_size) VALUES"
        " ($1, $2, $3, $4, $5, $6, $7, 0, 0, 0, 0)",
        [("111", "0xm1", 42, now - 1500, 3, 40, "live"), ("222", "0xm1", 9, now - 100, 1, 8, "live"),
         ("444", "0xm2", 0, None, 0, 0, "awaiting_snapshot")])
    async with pool.acquire() as conn:
        for plan_id, created, outcome in (("p1", now - 60_000, "superseded"), ("p2", now - 2_500, "executed")):
            await exec_repo.insert_audit(conn, AuditRow(plan_id, "0xm1", _plan(plan_id, "0xm1", created), {}, [], [],
                                                        outcome, 3.0))
        await exec_repo.upsert_orders(conn, [_order("o1", "0xm1", "111", "live"), _order("o2", "0xm1", "222", "live"),
                                             _order("o3", "0xm1", "111", "canceled"),
                                             _order("o4", "0xm3", "333", "unknown")])
        await exec_repo.upsert_positions(conn, [("111", "0xm1", D(10), D("4.5"), D("0.3"), D(0)),
                                                ("222", "0xm1", D(0), D(0), D("-0.05"), D("0.05")),
                                                ("333", "0xm3", D(5), D(2), D(0), D(0))])
    await pool.executemany(
        "INSERT INTO book_snapshots (asset_id, seq, ts_ms, market, bids, asks, tick_size, epoch)"
        " VALUES ($1, $2, $3, '0xm1', $4::jsonb, $5::jsonb, 0.01, $6)",
        [("111", 90, now - 9000, [["0.40", "5"]], [["0.42", "5"]], 0),  # older epoch, higher seq
         ("111", 3, now - 50, [["0.48", "5"], ["0.47", "9"]], [["0.50", "7"]], 1)])
    return now


async def test_status_json_has_quote_and_order_columns(pool: asyncpg.Pool, database_url: str,
                                                       cli: Callable[..., Any]) -> None:
    now = await _seed(pool)
    env = {"POLYBOT_STATE_DIR": "/nonexistent"}
    res, only = await asyncio.gather(asyncio.to_thread(cli, ["status", "--db-url", database_url, "--json"], env),
                                     asyncio.to_thread(cli, ["status", "--db-url", database_url, "--json",
                                                             "--market", "0xm3"], env))
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    a = report["markets"]["0xm1"]["111"]  # the ingestion keys are all still there
    assert {"state", "last_seq", "last_update_ts_ms", "freshness_ms", "snapshots", "deltas", "resyncs"} <= set(a)
    assert (a["last_seq"], a["snapshots"], a["deltas"], a["position"]) == (42, 3, 40, "10")
    assert report["markets"]["0xm2"]["444"]["position"] is None

    m1 = report["execution"]["0xm1"]
    assert (m1["last_plan_id"], m1["last_plan_outcome"], m1["last_plan_ts_ms"]) == ("p2", "executed", now - 2_500)
    assert 2_500 <= m1["last_plan_age_ms"] < 2_500 + 60_000
    assert m1["open_orders"] == 2  # o3 was canceled
    assert m1["positions"]["111"] == {"size": "10", "avg_price": "0.45", "mark": "0.49"}
    assert D(m1["pnl_realized_usdc"]) == D("0.25")  # 0.3 on 111, -0.05 (its fee) on 222
    assert D(m1["pnl_unrealized_usdc"]) == D("0.4")  # 10 × 0.49 − 4.5
    assert D(m1["pnl_usdc"]) == D("0.65")

    m3 = report["execution"]["0xm3"]  # known to the executor only: no snapshot to mark 333 with
    assert (m3["open_orders"], m3["last_plan_id"], m3["pnl_unrealized_usdc"], m3["pnl_usdc"]) == (1, None, None, None)
    assert "0xm2" not in report["execution"]  # nothing of it in the executor's tables
    assert only.returncode == 0 and list(json.loads(only.stdout)["execution"]) == ["0xm3"]


async def test_status_table_shows_them_next_to_the_ingestion_columns(pool: asyncpg.Pool, database_url: str,
                                                                     cli: Callable[..., Any]) -> None:
    await _seed(pool)
    res = await asyncio.to_thread(cli, ["status", "--db-url", database_url], {"POLYBOT_STATE_DIR": "/nonexistent"})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    head = lines[0].split()
    assert head[:4] == ["MARKET", "ASSET", "STATE", "LAST_SEQ"]
    assert head.index("PLAN_AGE_MS") > head.index("DELTAS") and {"OPEN", "POSITION", "PNL_USDC"} <= set(head)
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert set(rows) == {"111", "222", "444", "333"}
    assert rows["111"][-3:] == ["2", "10", "0.2500/0.4000"]  # open orders, position, realized/unrealized
    assert rows["333"][0] == "0xm3" and rows["333"][2] == "-" and rows["333"][-3:] == ["1", "5", "0.0000/-"]
    assert rows["444"][-4:] == ["-", "-", "-", "-"]  # nothing quoted on 0xm2


async def test_status_names_the_risk_halts_in_force_and_not_the_cleared_ones(pool: asyncpg.Pool, database_url: str,
                                                                            cli: Callable[..., Any]) -> None:
    now = await _seed(pool)
    async with pool.acquire() as conn:  # as the executor's risk desk writes them
        await risk_repo.insert_breach(conn, "paper", Breach(ALL, "daily_loss", D("1.5"), D("1.00"), now - 5_000))
        await risk_repo.insert_breach(conn, "paper", Breach("0xm1", "position", D(30), D(20), now - 4_000, "token 111"))
        await risk_repo.insert_breach(conn, "sim", Breach("0xm3", "position", D(9), D(5), now - 3_000))
        await risk_repo.clear_breaches(conn, "sim", ["0xm3"], now - 1_000, "operator: test", None)
    env = {"POLYBOT_STATE_DIR": "/nonexistent"}
    res, only, table = await asyncio.gather(*(asyncio.to_thread(cli, ["status", "--db-url", database_url, *more], env)
                                              for more in (["--json"], ["--json", "--market", "0xm2"], [])))
    assert res.returncode == only.returncode == table.returncode == 0, res.stderr
    halts = json.loads(res.stdout)["risk_halts"]
    assert [(h["backend"], h["scope"], h["limit"], h["value"], h["ts_ms"]) for h in halts] == [
        ("paper", "*", "daily_loss", "1.5", now - 5_000), ("paper", "0xm1", "position", "30", now - 4_000)]
    assert [h["scope"] for h in json.loads(only.stdout)["risk_halts"]] == ["*"]  # every market's includes 0xm2
    lines = table.stdout.splitlines()
    assert lines[0] == ("RISK HALT (paper): every market - daily_loss 1.5 past 1.00; clear with `polybot risk "
                        "--clear`")
    assert lines[1].startswith("RISK HALT (paper): market 0xm1 - position 30 past 20 (token 111)")
    assert lines[2].split()[:2] == ["MARKET", "ASSET"]
