"""The ingestor's read of gamma-sync's tables: the tokens of the markets selected for making.

gamma-sync owns ``markets`` and ``outcomes``; the ingestor may start before they exist (or before their
migration ran), so a missing table or column yields an empty set instead of an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

log = logging.getLogger(__name__)

_SELECTED = """
SELECT o.token_id, o.condition_id, o.outcome_index, m.tick_size, m.min_order_size, m.neg_risk
FROM outcomes o JOIN markets m ON m.condition_id = o.condition_id
WHERE m.selected_for_making AND NOT m.closed {extra}
ORDER BY o.condition_id, o.outcome_index
"""


@dataclass(frozen=True, slots=True)
class SelectedToken:
    """A token to ingest, with the market's order parameters when gamma-sync knows them."""

    token_id: str
    condition_id: str
    tick_size: Decimal | None
    min_order_size: Decimal | None
    neg_risk: bool | None


async def selected_tokens(pool: asyncpg.Pool) -> list[SelectedToken]:
    """Tokens of open markets with ``selected_for_making``; ``[]`` when the gamma tables are not there."""
    async with pool.acquire() as conn:
        present = await conn.fetchval(
            "SELECT to_regclass('markets') IS NOT NULL AND to_regclass('outcomes') IS NOT NULL")
        if not present:
            log.info("gamma tables not found; using configured assets only")
            return []
        has_missing = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'markets' "
            "AND column_name = 'missing_since' AND table_schema = current_schema())")
        query = _SELECTED.format(extra="AND m.missing_since IS NULL" if has_missing else "")
        try:
            rows = await conn.fetch(query)
        except (asyncpg.UndefinedColumnError, asyncpg.UndefinedTableError) as exc:
            log.warning("gamma tables do not have the expected columns; using configured assets only",
                        extra={"error": str(exc)})
            return []
    return [SelectedToken(r["token_id"], r["condition_id"], r["tick_size"], r["min_order_size"], r["neg_risk"])
            for r in rows]
