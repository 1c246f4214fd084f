"""The daily-loss limit, end to end in paper mode on polysim's books (real ingestor, NATS, PostgreSQL): a
fill, then the market falls; the day's loss marked at the published midpoints passes the limit, and at once
every order is cancelled, ``risk_halted{scope="*"}`` reads 1, the breach is a ``risk_breaches`` row and a
``RiskState`` on ``pb.ctl.risk.paper``, and later plans are audited ``halted``. A restart keeps the halt; only
``polybot risk --clear`` lifts it, and the allowance starts again from the loss at that moment."""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from drill_kit import (
    D,
    Ops,
    Plans,
    crowd_market,
    free_port,
    metric,
    own_nats,
    paper_settings,
    running_executor,
    take,
    until,
    venue_book,
)
from ingest_kit import running_ingestor, settings_for
from pydantic import SecretStr

from polybot.app.execute.paper_gateway import PaperGateway
from polybot.bus import subjects
from polybot.bus.codec import decode
from polybot.bus.messages import RiskState
from polybot.bus.streams import CONTROL
from polybot.domain.inventory import Fill
from polybot.runtime.settings import RiskSettings
from polysim.harness import running_sim

LIMIT = D("1.00")  # USDC of loss in a day
TOKEN = "risk-token-for-tests"


async def polybot_risk(nats_url: str, *args: str) -> tuple[int, dict[str, Any]]:
    """``polybot risk … --json`` as a child process (the executor answers it from this event loop)."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "polybot.cli", "risk", "--nats-url", nats_url,
                                                "--json", *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    assert out, err.decode()
    return proc.returncode, json.loads(out)


async def breach_rows(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch("SELECT * FROM risk_breaches ORDER BY id"))
    finally:
        await conn.close()


async def audit_outcome(database_url: str, plan_id: str) -> str | None:
    conn = await asyncpg.connect(database_url)
    try:
        got: str | None = await conn.fetchval("SELECT outcome FROM exec_audit WHERE plan_id = $1", plan_id)
        return got
    finally:
        await conn.close()


async def halted_scopes(ops: Ops) -> list[str]:
    return [h["scope"] for h in (await ops.status())["halted"]]


async def test_the_days_loss_past_the_limit_cancels_and_halts_across_a_restart_until_an_operator_clears_it(
        database_url: str, pool: asyncpg.Pool, tmp_path: Path) -> None:
    async with own_nats(tmp_path / "nats") as nats, running_sim(seed=41, n_markets=2) as sim:
        market, yes, no, tick = crowd_market(sim)
        port = free_port()
        settings = paper_settings(sim, nats.url, database_url, tmp_path, port, kill_token=SecretStr(TOKEN),
                                  risk=RiskSettings(max_daily_loss_usdc=LIMIT, check_interval_s=0.2))
        plans = Plans(nats.bus, market, tick)
        async with running_ingestor(settings_for(sim, assets=(yes, no)), bus=nats.bus, pool=pool):
            async with running_executor(settings, port) as ops:
                assert ops.service is not None and ops.service.executor is not None
                gw = ops.service.executor.gateway
                assert isinstance(gw, PaperGateway)

                async def seen(asset_id: str) -> bool:
                    got, want = gw.books.levels(asset_id), venue_book(sim, asset_id)
                    return got is not None and (tuple(got[0]), tuple(got[1])) == want

                await until(lambda: seen(yes), 10, "the paper feed to show polysim's YES book")
                await until(lambda: seen(no), 10, "the paper feed to show polysim's NO book")
                (bids_y, _), (bids_n, _) = venue_book(sim, yes), venue_book(sim, no)
                bid_y, ahead = bids_y[0]
                await plans.publish([(yes, "BUY", bid_y), (no, "BUY", bids_n[0][0] - 2 * tick)])
                await until(lambda: _open_is(ops, 2), 10, "two paper orders resting")

                # the crowd sells through our YES bid: we buy 10 at bid_y; a small loss, under the limit
                take(sim, yes, "SELL", bid_y, ahead + D(10))
                await until(lambda: _position_is(ops, yes, D(10)), 10, "the paper fill of 10 YES")
                await until(lambda: _marked(ops, yes), 5, "the YES holding marked")
                assert -LIMIT < D((await ops.status())["risk"]["day_pnl_usdc"]) <= 0
                assert await halted_scopes(ops) == []
                assert metric(await ops.metrics(), "risk_halted", scope="*") == 0.0

                # then it falls: sold down to 0.15 below our price, the mark follows and the loss passes 1 USDC
                floor = bid_y - D("0.15")
                assert floor > tick
                swept = sum(size for price, size in venue_book(sim, yes)[0] if price >= floor)
                take(sim, yes, "SELL", floor, swept + D(5))
                await until(lambda: _halted(ops), 5, "the daily-loss halt")
                status = await ops.status()
                (breach,) = status["risk"]["breaches"]
                assert (breach["scope"], breach["limit"]) == ("*", "daily_loss")
                assert D(breach["value"]) > LIMIT and D(status["risk"]["day_pnl_usdc"]) < -LIMIT
                await until(lambda: _open_is(ops, 0), 3, "every order cancelled on the breach")
                text = await ops.metrics()
                assert metric(text, "risk_halted", scope="*") == 1.0
                pnl_day = metric(text, "pnl_day_usdc")
                assert pnl_day is not None and pnl_day < -float(LIMIT)
                (row,) = await breach_rows(database_url)
                assert (row["limit_name"], row["backend"], row["cleared_ts_ms"]) == ("daily_loss", "paper", None)
                conn = await asyncpg.connect(database_url)
                try:
                    reason = await conn.fetchval("SELECT end_reason FROM orders WHERE asset_id = $1", no)
                finally:
                    await conn.close()
                assert reason == "risk:daily_loss"
                state = decode((await nats.bus.js.get_last_msg(CONTROL.name, subjects.ctl_risk("paper"))).data)
                assert isinstance(state, RiskState) and [b.limit for b in state.breaches] == ["daily_loss"]

                held = await plans.publish([(no, "BUY", bids_n[0][0] - 3 * tick)])
                await until(lambda: audit_outcome(database_url, held.plan_id), 5, "the plan audited")
                assert await audit_outcome(database_url, held.plan_id) == "halted"
                assert (await ops.status())["open_orders"] == 0

                code, answer = await polybot_risk(nats.url)  # only a report: nothing is cleared
                assert code == 0 and [b["limit"] for b in answer["executors"][0]["breaches"]] == ["daily_loss"]
                refused = await ops.http.post("/risk/clear", json={}, headers={"authorization": "Bearer x"})
                assert refused.status_code == 401
                tripped_ts = breach["ts_ms"]

            # a restart: the breach is still in force, the same one (not tripped anew)
            async with running_executor(settings, port) as ops:
                status = await ops.status()
                assert [(b["limit"], b["ts_ms"]) for b in status["risk"]["breaches"]] == [("daily_loss", tripped_ts)]
                assert metric(await ops.metrics(), "risk_halted", scope="*") == 1.0
                held = await plans.publish([(no, "BUY", bids_n[0][0] - 3 * tick)])
                await until(lambda: audit_outcome(database_url, held.plan_id), 5, "the plan audited")
                assert await audit_outcome(database_url, held.plan_id) == "halted"
                await until(lambda: _marked(ops, yes), 5, "the YES holding marked after the restart")
                assert D((await ops.status())["risk"]["day_pnl_usdc"]) < -LIMIT  # the loss is remembered

                # the operator clears it: trading again, the allowance counted from the loss now
                code, answer = await polybot_risk(nats.url, "--clear", "--reason", "reviewed the drop")
                (one,) = answer["executors"]
                assert code == 0 and [b["limit"] for b in one["cleared"]] == ["daily_loss"] and one["breaches"] == []
                assert metric(await ops.metrics(), "risk_halted", scope="*") == 0.0
                (row,) = await breach_rows(database_url)
                assert row["cleared_ts_ms"] is not None and row["cleared_reason"] == "operator: reviewed the drop"
                assert row["cleared_pnl_usdc"] < -LIMIT
                again = await plans.publish([(no, "BUY", bids_n[0][0] - 3 * tick)])
                await until(lambda: _open_is(ops, 1), 10, "an order resting after the clear")
                assert await audit_outcome(database_url, again.plan_id) == "executed"
                await asyncio.sleep(1.0)  # five checks: the old loss does not trip the limit again
                assert await halted_scopes(ops) == [] and len(await breach_rows(database_url)) == 1
                assert abs(D((await ops.status())["risk"]["since_clear_usdc"])) < LIMIT

                # a holding no published book marks: left out of the day's PnL, counted and named
                assert metric(await ops.metrics(), "risk_unmarked_tokens") == 0.0
                assert ops.service is not None and ops.service.executor is not None
                ops.service.executor.risk.apply_fill(Fill("ghost-1", "ghost", "BUY", D("0.5"), D(4), D(0), 0))

                async def counted() -> bool:
                    return metric(await ops.metrics(), "risk_unmarked_tokens") == 1.0

                await until(counted, 2, "the unmarked holding counted")
                assert (await ops.status())["risk"]["unmarked"] == ["ghost"]


async def _open_is(ops: Ops, n: int) -> bool:
    return bool((await ops.status())["open_orders"] == n)


async def _position_is(ops: Ops, asset_id: str, size: Decimal) -> bool:
    return D((await ops.status())["positions"].get(asset_id, "0")) == size


async def _marked(ops: Ops, asset_id: str) -> bool:
    """The day's PnL read with a mark of ``asset_id`` (marks are asked only of what is held)."""
    risk = (await ops.status())["risk"]
    return asset_id in risk["marks"] and risk["day_pnl_usdc"] is not None and not risk["unmarked"]


async def _halted(ops: Ops) -> bool:
    return bool((await ops.status())["halted"])
