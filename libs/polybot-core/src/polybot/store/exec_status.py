"""Read-only queries for ``polybot status``: what the executor last did per market, and what it holds.

The executor writes these tables (``polybot.store.exec_repo``); this module only reads them: the newest
``exec_audit`` row of each market (its plan's creation time and outcome), the open orders (``live`` or
``unknown``) per market, the ``positions`` rows, and, to mark positions, the best bid and ask of the newest
``book_snapshots`` row of each held asset (the ingestor's table), and the risk breaches in force
(``risk_breaches`` rows not cleared). A table that does not exist (a database the
executor, or the ingestor, never ran against) reads as empty: ``status`` still shows what there is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncpg

# ``plan`` written through the pool's jsonb codec from an already-encoded text is a JSON *string* holding the
# object: both shapes are read.
_LAST_PLANS = """
SELECT DISTINCT ON (market) market, plan_id, outcome,
       ((CASE WHEN jsonb_typeof(plan) = 'string' THEN (plan #>> '{}')::jsonb ELSE plan END)
        ->> 'created_ts_ms')::bigint AS plan_ts_ms,
       (extract(epoch FROM created_at) * 1000)::bigint AS audited_ts_ms
FROM exec_audit ORDER BY market, created_at DESC, id DESC
"""
_OPEN_ORDERS = "SELECT market, count(*) AS n FROM orders WHERE status IN ('live', 'unknown') GROUP BY market"
_POSITIONS = "SELECT asset_id, market, size, cost_usdc, realized_usdc, fees_usdc FROM positions"
_TOPS = """
SELECT DISTINCT ON (asset_id) asset_id, bids->0->>0 AS bid, asks->0->>0 AS ask
FROM book_snapshots WHERE asset_id = ANY($1::text[]) ORDER BY asset_id, epoch DESC, seq DESC, ts_ms DESC
"""
_HALTS = """
SELECT backend, scope, limit_name, value, threshold, detail, tripped_ts_ms FROM risk_breaches
WHERE cleared_ts_ms IS NULL ORDER BY id
"""


@dataclass(frozen=True, slots=True)
class LastPlan:
    plan_id: str
    outcome: str
    ts_ms: int  # the plan's own creation time (``created_ts_ms``), else when it was audited


@dataclass(frozen=True, slots=True)
class PositionRow:
    asset_id: str
    market: str
    size: Decimal
    cost_usdc: Decimal
    realized_usdc: Decimal
    fees_usdc: Decimal


@dataclass(slots=True)
class ExecTables:
    last_plans: dict[str, LastPlan] = field(default_factory=dict)
    open_orders: dict[str, int] = field(default_factory=dict)
    positions: list[PositionRow] = field(default_factory=list)
    tops: dict[str, tuple[Decimal | None, Decimal | None]] = field(default_factory=dict)  # asset → (bid, ask)
    halts: list[dict[str, Any]] = field(default_factory=list)  # risk breaches in force (JSON-ready)


async def _rows(conn: asyncpg.Connection, sql: str, *params: Any, timeout_s: float) -> Sequence[Any]:
    import asyncpg

    try:
        return list(await conn.fetch(sql, *params, timeout=timeout_s))
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
        return []


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


async def read_exec_tables(conn: asyncpg.Connection, timeout_s: float = 5.0) -> ExecTables:
    out = ExecTables()
    for r in await _rows(conn, _LAST_PLANS, timeout_s=timeout_s):
        ts = r["plan_ts_ms"] if r["plan_ts_ms"] is not None else r["audited_ts_ms"]
        out.last_plans[r["market"]] = LastPlan(r["plan_id"], r["outcome"], int(ts))
    out.open_orders = {r["market"]: int(r["n"]) for r in await _rows(conn, _OPEN_ORDERS, timeout_s=timeout_s)}
    out.positions = [PositionRow(r["asset_id"], r["market"], r["size"], r["cost_usdc"], r["realized_usdc"],
                                 r["fees_usdc"]) for r in await _rows(conn, _POSITIONS, timeout_s=timeout_s)]
    out.halts = [{"backend": r["backend"], "scope": r["scope"], "limit": r["limit_name"], "value": str(r["value"]),
                  "threshold": str(r["threshold"]), "detail": r["detail"], "ts_ms": r["tripped_ts_ms"]}
                 for r in await _rows(conn, _HALTS, timeout_s=timeout_s)]
    held = [p.asset_id for p in out.positions if p.size]
    if held:
        for r in await _rows(conn, _TOPS, held, timeout_s=timeout_s):
            out.tops[r["asset_id"]] = (_dec(r["bid"]), _dec(r["ask"]))
    return out
