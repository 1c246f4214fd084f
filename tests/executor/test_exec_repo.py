"""The executor's tables on a real PostgreSQL: idempotent by venue ids and plan id, statuses only forward."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from polybot.store import exec_repo
from polybot.store.exec_repo import AuditRow, FillRow, OrderRow
from polybot.store.migrate import apply_migrations

D = Decimal


async def test_audit_orders_fills_and_positions_are_idempotent(pool: asyncpg.Pool) -> None:
    await apply_migrations(pool, ("audit", "exec"))
    row = AuditRow("p1", "m", {"plan_id": "p1"}, {"places": []}, [{"status": "accepted"}], [], "executed", 1.5)
    async with pool.acquire() as conn:
        assert await exec_repo.insert_audit(conn, row) is True
        assert await exec_repo.insert_audit(conn, row) is False  # a redelivered plan: still one row
        assert await conn.fetchval("SELECT count(*) FROM exec_audit WHERE plan_id = 'p1'") == 1
        # stored as JSON objects, not as JSON text inside a jsonb string: SQL reads into them
        got = await conn.fetchrow("SELECT plan->>'plan_id' AS pid, jsonb_typeof(intents) AS kind, "
                                  "acks->0->>'status' AS ack FROM exec_audit WHERE plan_id = 'p1'")
        assert dict(got) == {"pid": "p1", "kind": "object", "ack": "accepted"}
        assert await exec_repo.audited(conn, "p1") and not await exec_repo.audited(conn, "p2")

        order = OrderRow("0xo", "m", "yes", "BUY", D("0.45"), D(10), D(0), "live", "sim", plan_id="p1")
        await exec_repo.upsert_orders(conn, [order])
        await exec_repo.upsert_orders(conn, [OrderRow("0xo", "m", "yes", "BUY", D("0.45"), D(10), D(4), "live",
                                                      "sim", plan_id=None)])
        assert [r.size_matched for r in await exec_repo.open_orders(conn, "sim")] == [D(4)]
        await exec_repo.upsert_orders(conn, [OrderRow("0xo", "m", "yes", "BUY", D("0.45"), D(10), D(0), "canceled",
                                                      "sim", end_reason="replaced")])
        got = await conn.fetchrow("SELECT size_matched, status, end_reason, plan_id FROM orders WHERE order_id='0xo'")
        assert dict(got) == {"size_matched": D(4), "status": "canceled", "end_reason": "replaced", "plan_id": "p1"}
        assert await exec_repo.open_orders(conn, "sim") == []

        fill = FillRow("t1", "0xo", "m", "yes", "BUY", D("0.45"), D(4), "MATCHED", 10)
        assert await exec_repo.record_fills(conn, [fill]) == [fill]
        confirmed = FillRow("t1", "0xo", "m", "yes", "BUY", D("0.45"), D(4), "CONFIRMED", 10)
        assert await exec_repo.record_fills(conn, [confirmed]) == []
        assert await exec_repo.record_fills(conn, [fill]) == []  # an old status never comes back
        assert await conn.fetchval("SELECT status FROM fills WHERE fill_id = 't1'") == "CONFIRMED"
        assert [f.status for f in await exec_repo.fills_of(conn, ["m"])] == ["CONFIRMED"]

        await exec_repo.upsert_positions(conn, [("yes", "m", D(4), D("1.80"), D(0), D(0))])
        pos = await conn.fetchrow("SELECT size, avg_price, cost_usdc FROM positions WHERE asset_id = 'yes'")
        assert (pos["size"], pos["avg_price"], pos["cost_usdc"]) == (D(4), D("0.45"), D("1.80"))
