"""Reads and idempotent writes of the executor's tables: ``orders``, ``fills``, ``positions``, ``exec_audit``.

The executor is the one writer of all four. Every write is keyed by the venue's ids (order id, trade id)
or the plan id, so a redelivered plan, ack or fill writes nothing new: ``exec_audit`` has one row per
plan (``ON CONFLICT (plan_id) DO NOTHING``), a fill's status only moves forward (MATCHED → MINED →
CONFIRMED, or → FAILED). Functions take a connection; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson

if TYPE_CHECKING:
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]

# A trade's statuses in the order they happen; a later status never goes back to an earlier one.
FILL_STATUS_RANK = {"MATCHED": 0, "MINED": 1, "RETRYING": 1, "CONFIRMED": 2, "FAILED": 2}


@dataclass(frozen=True, slots=True)
class OrderRow:
    order_id: str
    market: str
    asset_id: str
    side: str
    price: Decimal
    size: Decimal
    size_matched: Decimal
    status: str  # live, unknown, canceled, matched, rejected, absent
    backend: str
    plan_id: str | None = None
    client_id: str | None = None
    end_reason: str | None = None
    error: str | None = None
    post_only: bool = True
    order_type: str = "GTC"


@dataclass(frozen=True, slots=True)
class FillRow:
    fill_id: str
    order_id: str
    market: str
    asset_id: str
    side: str
    price: Decimal
    size: Decimal
    status: str
    ts_ms: int
    fee_usdc: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class AuditRow:
    plan_id: str
    market: str
    plan: dict[str, Any]
    intents: dict[str, Any] | list[Any]
    acks: list[dict[str, Any]]
    errors: list[str]
    outcome: str
    duration_ms: float


async def upsert_orders(conn: Conn, rows: Sequence[OrderRow]) -> None:
    if not rows:
        return
    await conn.executemany(
        """INSERT INTO orders (order_id, client_id, plan_id, market, asset_id, side, price, size, size_matched,
                               status, backend, end_reason, error, post_only, order_type)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (order_id) DO UPDATE SET
               size_matched = GREATEST(orders.size_matched, EXCLUDED.size_matched),
               status = EXCLUDED.status,
               end_reason = COALESCE(EXCLUDED.end_reason, orders.end_reason),
               error = COALESCE(EXCLUDED.error, orders.error),
               plan_id = COALESCE(orders.plan_id, EXCLUDED.plan_id),
               client_id = COALESCE(orders.client_id, EXCLUDED.client_id),
               updated_at = now()""",
        [(r.order_id, r.client_id, r.plan_id, r.market, r.asset_id, r.side, r.price, r.size, r.size_matched,
          r.status, r.backend, r.end_reason, r.error, r.post_only, r.order_type) for r in rows])


async def record_fills(conn: Conn, rows: Sequence[FillRow]) -> list[FillRow]:
    """Insert new fills and move known ones' status forward; returns the rows that were new."""
    new: list[FillRow] = []
    for r in rows:
        inserted = await conn.fetchval(
            """INSERT INTO fills (fill_id, order_id, market, asset_id, side, price, size, status, ts_ms, fee_usdc)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (fill_id, order_id) DO NOTHING RETURNING 1""",
            r.fill_id, r.order_id, r.market, r.asset_id, r.side, r.price, r.size, r.status, r.ts_ms, r.fee_usdc)
        if inserted:
            new.append(r)
            continue
        lower = [s for s, rank in FILL_STATUS_RANK.items() if rank < FILL_STATUS_RANK.get(r.status, 0)]
        if lower:
            await conn.execute("UPDATE fills SET status = $3, updated_at = now() "
                               "WHERE fill_id = $1 AND order_id = $2 AND status = ANY($4::text[])",
                               r.fill_id, r.order_id, r.status, lower)
    return new


async def upsert_positions(conn: Conn, rows: Iterable[tuple[str, str, Decimal, Decimal, Decimal, Decimal]]) -> None:
    """(asset_id, market, size, cost_usdc, realized_usdc, fees_usdc) per token."""
    await conn.executemany(
        """INSERT INTO positions (asset_id, market, size, avg_price, cost_usdc, realized_usdc, fees_usdc)
           VALUES ($1, $2, $3::numeric, CASE WHEN $3::numeric > 0 THEN $4::numeric / $3::numeric END, $4, $5, $6)
           ON CONFLICT (asset_id) DO UPDATE SET size = EXCLUDED.size, avg_price = EXCLUDED.avg_price,
               cost_usdc = EXCLUDED.cost_usdc, realized_usdc = EXCLUDED.realized_usdc,
               fees_usdc = EXCLUDED.fees_usdc, updated_at = now()""",
        [(a, m, size, cost, realized, fees) for a, m, size, cost, realized, fees in rows])


async def insert_audit(conn: Conn, row: AuditRow) -> bool:
    """One row per plan; False when the plan was audited before (a redelivery)."""
    done = await conn.fetchval(
        """INSERT INTO exec_audit (plan_id, market, plan, intents, acks, errors, outcome, duration_ms)
           VALUES ($1, $2, $3::text::jsonb, $4::text::jsonb, $5::text::jsonb, $6::text::jsonb, $7, $8)
           ON CONFLICT (plan_id) DO NOTHING RETURNING 1""",
        row.plan_id, row.market, orjson.dumps(row.plan).decode(), orjson.dumps(row.intents).decode(),
        orjson.dumps(row.acks).decode(), orjson.dumps(row.errors).decode(), row.outcome, row.duration_ms)
    return bool(done)


async def audited(conn: Conn, plan_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM exec_audit WHERE plan_id = $1", plan_id))


async def open_orders(conn: Conn, backend: str) -> list[OrderRow]:
    rows = await conn.fetch(
        """SELECT order_id, market, asset_id, side, price, size, size_matched, status, backend, plan_id,
                  client_id, end_reason, error, post_only, order_type
           FROM orders WHERE backend = $1 AND status IN ('live', 'unknown')""", backend)
    return [OrderRow(**dict(r)) for r in rows]


async def fills_of(conn: Conn, markets: Sequence[str] | None = None) -> list[FillRow]:
    rows = await conn.fetch(
        """SELECT fill_id, order_id, market, asset_id, side, price, size, status, ts_ms, fee_usdc FROM fills
           WHERE status <> 'FAILED' AND ($1::text[] IS NULL OR market = ANY($1::text[])) ORDER BY ts_ms, fill_id""",
        list(markets) if markets is not None else None)
    return [FillRow(**dict(r)) for r in rows]
