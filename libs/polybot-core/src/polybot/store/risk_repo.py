"""The executor's risk state in PostgreSQL: ``risk_breaches`` and ``risk_day_marks`` (the executor writes both).

A breach row is written when a limit trips and closed (``cleared_ts_ms``) when an operator clears it; the
rows still open are the halts a restarted executor starts with. Rows are per ``backend`` (paper, sim, live):
a paper run's breach does not halt live trading on the same database. Functions take a connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from polybot.domain.risk import Breach

if TYPE_CHECKING:
    from polybot.store.exec_repo import Conn


async def insert_breach(conn: Conn, backend: str, b: Breach) -> None:
    """Record a breach in force (a second open row for the same scope is not written: it is one halt)."""
    await conn.execute(
        "INSERT INTO risk_breaches (backend, scope, limit_name, value, threshold, detail, tripped_ts_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (backend, scope) WHERE cleared_ts_ms IS NULL DO NOTHING",
        backend, b.scope, b.limit, b.value, b.threshold, b.detail, b.ts_ms)


async def clear_breaches(conn: Conn, backend: str, scopes: Iterable[str], ts_ms: int, reason: str,
                         day_pnl_usdc: Decimal | None) -> None:
    """Close the open rows of ``scopes``; a daily-loss row keeps the PnL its allowance starts again from."""
    await conn.execute(
        "UPDATE risk_breaches SET cleared_ts_ms = $3, cleared_reason = $4, "
        "cleared_pnl_usdc = CASE WHEN limit_name = 'daily_loss' THEN $5::numeric END "
        "WHERE backend = $1 AND scope = ANY($2::text[]) AND cleared_ts_ms IS NULL",
        backend, list(scopes), ts_ms, reason, day_pnl_usdc)


async def breaches_in_force(conn: Conn, backend: str) -> list[Breach]:
    rows = await conn.fetch(
        "SELECT scope, limit_name, value, threshold, detail, tripped_ts_ms FROM risk_breaches "
        "WHERE backend = $1 AND cleared_ts_ms IS NULL ORDER BY id", backend)
    return [Breach(r["scope"], r["limit_name"], r["value"], r["threshold"], r["tripped_ts_ms"], r["detail"])
            for r in rows]


async def day_rebase(conn: Conn, backend: str, day_start_ms: int) -> Decimal:
    """The day's PnL at the last clear of a daily-loss breach since ``day_start_ms`` (0: none today)."""
    got = await conn.fetchval(
        "SELECT cleared_pnl_usdc FROM risk_breaches WHERE backend = $1 AND limit_name = 'daily_loss' "
        "AND cleared_ts_ms >= $2 AND cleared_pnl_usdc IS NOT NULL ORDER BY cleared_ts_ms DESC, id DESC LIMIT 1",
        backend, day_start_ms)
    return Decimal(got) if got is not None else Decimal(0)


async def day_marks(conn: Conn, backend: str, day: int) -> dict[str, Decimal]:
    rows = await conn.fetch("SELECT asset_id, mark FROM risk_day_marks WHERE backend = $1 AND day = $2",
                            backend, day)
    return {r["asset_id"]: r["mark"] for r in rows}


async def keep_day_marks(conn: Conn, backend: str, day: int, marks: Mapping[str, Decimal], ts_ms: int) -> None:
    """Keep the start marks of ``day`` (the first one of a token stays)."""
    await conn.executemany(
        "INSERT INTO risk_day_marks (backend, day, asset_id, mark, ts_ms) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT DO NOTHING", [(backend, day, a, m, ts_ms) for a, m in marks.items()])
