"""The quote and order side of ``polybot status``: last plan, open orders, positions and PnL per market.

Built from the executor's tables (``polybot.store.exec_status``). Money stays ``Decimal`` and is shown as a
decimal string; unrealized PnL marks each held token at the midpoint of its newest book snapshot, and is
None for a market where a held token has no two-sided book to mark it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from polybot.domain.inventory import Holding
from polybot.store.exec_status import ExecTables

_TWO = Decimal(2)
_CENTS = Decimal("0.0001")


def _mid(top: tuple[Decimal | None, Decimal | None] | None) -> Decimal | None:
    if top is None or top[0] is None or top[1] is None:
        return None
    return (top[0] + top[1]) / _TWO


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def build_execution(tables: ExecTables, now_ms: int, market: str | None = None) -> dict[str, dict[str, Any]]:
    """Per market: ``last_plan_*`` (id, outcome, ts_ms, age_ms), ``open_orders``, ``positions`` (per asset:
    size, avg_price, mark), ``pnl_realized_usdc``, ``pnl_unrealized_usdc`` and ``pnl_usdc`` (their sum)."""
    names = set(tables.last_plans) | set(tables.open_orders) | {p.market for p in tables.positions}
    out: dict[str, dict[str, Any]] = {}
    for cid in sorted(n for n in names if market is None or n == market):
        plan = tables.last_plans.get(cid)
        held = [p for p in tables.positions if p.market == cid]
        realized = sum((p.realized_usdc for p in held), Decimal(0))
        unrealized: Decimal | None = Decimal(0)
        positions: dict[str, dict[str, str | None]] = {}
        for p in held:
            mark = _mid(tables.tops.get(p.asset_id))
            h = Holding(p.asset_id, p.size, p.cost_usdc, p.realized_usdc, p.fees_usdc)
            positions[p.asset_id] = {"size": str(p.size), "avg_price": _text(h.avg_price if p.size else None),
                                     "mark": _text(mark)}
            if p.size and mark is None:
                unrealized = None
            elif unrealized is not None:
                unrealized += h.unrealized_usdc(mark)
        out[cid] = {
            "last_plan_id": plan.plan_id if plan else None,
            "last_plan_outcome": plan.outcome if plan else None,
            "last_plan_ts_ms": plan.ts_ms if plan else None,
            "last_plan_age_ms": max(0, now_ms - plan.ts_ms) if plan else None,
            "open_orders": tables.open_orders.get(cid, 0),
            "positions": positions,
            "pnl_realized_usdc": str(realized),
            "pnl_unrealized_usdc": _text(unrealized),
            "pnl_usdc": _text(None if unrealized is None else realized + unrealized),
        }
    return out


EXEC_HEAD = f"{'PLAN_AGE_MS':>11} {'OPEN':>4} {'POSITION':>10} {'PNL_USDC r/u':>19}"


def _money(value: str | None) -> str:
    return "-" if value is None else str(Decimal(value).quantize(_CENTS))


def exec_columns(execution: dict[str, Any] | None, asset: str) -> str:
    """The quote and order columns of one asset's row (the market's plan, orders and PnL; the asset's position)."""
    if execution is None:
        return f"{'-':>11} {'-':>4} {'-':>10} {'-':>19}"
    age = execution["last_plan_age_ms"]
    pos = execution["positions"].get(asset)
    pnl = f"{_money(execution['pnl_realized_usdc'])}/{_money(execution['pnl_unrealized_usdc'])}"
    return (f"{'-' if age is None else age:>11} {execution['open_orders']:>4} "
            f"{'-' if pos is None else pos['size']:>10} {pnl:>19}")
