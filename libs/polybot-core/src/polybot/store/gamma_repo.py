"""Reads and idempotent writes of the gamma-owned tables: ``events``, ``markets``, ``outcomes``.

Every function takes a connection, so the caller decides the transaction (one per page). Writes are
upserts keyed by the venue's ids; nothing here deletes a row.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeAlias

import orjson

from polybot.domain.market_records import EventRecord, FeeSchedule, MarketRecord, OrderParams, OutcomeRecord

if TYPE_CHECKING:
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]


@dataclass(frozen=True, slots=True)
class EventWrite:
    record: EventRecord
    raw_json: str


@dataclass(frozen=True, slots=True)
class MarketWrite:
    """A market row to store: the record (order params already enriched) and its bookkeeping."""

    record: MarketRecord
    order_params_source: str  # "gamma" or "clob"
    content_hash: str
    info_hash: str
    selected_for_making: bool
    selection_reason: str
    raw_json: str


@dataclass(frozen=True, slots=True)
class StoredMarket:
    """What a refresh needs to know about a market already in the table."""

    condition_id: str
    content_hash: str
    info_hash: str
    published_hash: str | None
    selected_for_making: bool
    order: OrderParams
    order_params_source: str
    missing: bool


_UPSERT_EVENT = """
INSERT INTO events (event_id, slug, title, active, closed, end_date, neg_risk, tag_ids, raw, content_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb, $10)
ON CONFLICT (event_id) DO UPDATE SET
    slug = EXCLUDED.slug, title = EXCLUDED.title, active = EXCLUDED.active, closed = EXCLUDED.closed,
    end_date = EXCLUDED.end_date, neg_risk = EXCLUDED.neg_risk, tag_ids = EXCLUDED.tag_ids, raw = EXCLUDED.raw,
    content_hash = EXCLUDED.content_hash, updated_at = now()
WHERE events.content_hash IS DISTINCT FROM EXCLUDED.content_hash
"""

_MARKET_COLUMNS = (
    "condition_id, gamma_id, event_id, question, slug, end_date, active, closed, accepting_orders, "
    "enable_order_book, tick_size, min_order_size, neg_risk, order_params_source, maker_base_fee, taker_base_fee, "
    "fees_enabled, liquidity, volume, rewards_min_size, rewards_max_spread, rewards_daily_rate, tag_ids, raw, "
    "selected_for_making, selection_reason, content_hash, info_hash, version, fee_schedule"
)
_UPSERT_MARKET = f"""
INSERT INTO markets ({_MARKET_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
        $24::text::jsonb, $25, $26, $27, $28, $29, $30::text::jsonb)
ON CONFLICT (condition_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _MARKET_COLUMNS.split(", ")[1:])},
    updated_at = now(), missing_since = NULL
"""

_UPSERT_OUTCOME = """
INSERT INTO outcomes (token_id, condition_id, outcome, outcome_index) VALUES ($1, $2, $3, $4)
ON CONFLICT (token_id) DO UPDATE SET
    condition_id = EXCLUDED.condition_id, outcome = EXCLUDED.outcome, outcome_index = EXCLUDED.outcome_index
WHERE (outcomes.condition_id, outcomes.outcome, outcomes.outcome_index)
      IS DISTINCT FROM (EXCLUDED.condition_id, EXCLUDED.outcome, EXCLUDED.outcome_index)
"""


def _market_args(w: MarketWrite) -> tuple[object, ...]:
    m = w.record
    return (
        m.condition_id, m.gamma_id, m.event_id, m.question, m.slug, m.end_date, m.active, m.closed,
        m.accepting_orders, m.enable_order_book, m.order.tick_size, m.order.min_order_size, m.order.neg_risk,
        w.order_params_source, m.maker_base_fee, m.taker_base_fee, m.fees_enabled, m.liquidity, m.volume,
        m.rewards_min_size, m.rewards_max_spread, m.rewards_daily_rate, list(m.tag_ids), w.raw_json,
        w.selected_for_making, w.selection_reason, w.content_hash, w.info_hash, m.version,
        _fee_schedule_json(m.fee_schedule),
    )


def _fee_schedule_json(fees: FeeSchedule | None) -> str | None:
    if fees is None:
        return None
    return orjson.dumps({"exponent": str(fees.exponent), "rate": str(fees.rate), "takerOnly": fees.taker_only,
                         "rebateRate": str(fees.rebate_rate)}).decode()


def _fee_schedule(d: dict[str, str] | None) -> FeeSchedule | None:
    """The stored fee schedule (the pool's codec has already decoded the jsonb)."""
    if d is None:
        return None
    return FeeSchedule(Decimal(d["exponent"]), Decimal(d["rate"]), bool(d["takerOnly"]), Decimal(d["rebateRate"]))


async def upsert_events(conn: Conn, events: Sequence[EventWrite]) -> None:
    """Insert new events and update changed ones (an unchanged event is not rewritten)."""
    if events:
        await conn.executemany(_UPSERT_EVENT, [
            (e.record.event_id, e.record.slug, e.record.title, e.record.active, e.record.closed, e.record.end_date,
             e.record.neg_risk, list(e.record.tag_ids), e.raw_json, e.record.content_hash())
            for e in events
        ])


async def upsert_markets(conn: Conn, markets: Sequence[MarketWrite]) -> None:
    """Insert or overwrite ``markets`` and their outcome tokens; clears ``missing_since``."""
    if not markets:
        return
    await conn.executemany(_UPSERT_MARKET, [_market_args(w) for w in markets])
    outcomes = [(o.token_id, w.record.condition_id, o.outcome, o.outcome_index)
                for w in markets for o in w.record.outcomes]
    if outcomes:
        await conn.executemany(_UPSERT_OUTCOME, outcomes)


async def load_state(conn: Conn, condition_ids: Collection[str]) -> dict[str, StoredMarket]:
    """The stored bookkeeping of those of ``condition_ids`` that are already known."""
    rows = await conn.fetch(
        """SELECT condition_id, content_hash, info_hash, published_hash, selected_for_making, tick_size,
                  min_order_size, neg_risk, order_params_source, missing_since IS NOT NULL AS missing
           FROM markets WHERE condition_id = ANY($1::text[])""",
        list(condition_ids),
    )
    return {
        r["condition_id"]: StoredMarket(
            r["condition_id"], r["content_hash"], r["info_hash"], r["published_hash"], r["selected_for_making"],
            OrderParams(r["tick_size"], r["min_order_size"], r["neg_risk"]), r["order_params_source"], r["missing"],
        )
        for r in rows
    }


async def load_records(conn: Conn, condition_ids: Collection[str]) -> dict[str, MarketRecord]:
    """Rebuild stored markets as records (for publishing markets that were not in the latest listing)."""
    rows = await conn.fetch("SELECT * FROM markets WHERE condition_id = ANY($1::text[])", list(condition_ids))
    outs = await conn.fetch(
        "SELECT * FROM outcomes WHERE condition_id = ANY($1::text[]) ORDER BY condition_id, outcome_index",
        list(condition_ids),
    )
    by_market: dict[str, list[OutcomeRecord]] = {}
    for o in outs:
        by_market.setdefault(o["condition_id"], []).append(
            OutcomeRecord(o["token_id"], o["outcome"], o["outcome_index"]))
    return {
        r["condition_id"]: MarketRecord(
            condition_id=r["condition_id"], gamma_id=r["gamma_id"], event_id=r["event_id"], question=r["question"],
            slug=r["slug"], end_date=r["end_date"], active=r["active"], closed=r["closed"],
            accepting_orders=r["accepting_orders"], enable_order_book=r["enable_order_book"],
            order=OrderParams(r["tick_size"], r["min_order_size"], r["neg_risk"]),
            maker_base_fee=r["maker_base_fee"], taker_base_fee=r["taker_base_fee"], fees_enabled=r["fees_enabled"],
            liquidity=r["liquidity"], volume=r["volume"], rewards_min_size=r["rewards_min_size"],
            rewards_max_spread=r["rewards_max_spread"], rewards_daily_rate=r["rewards_daily_rate"],
            outcomes=tuple(by_market.get(r["condition_id"], ())), tag_ids=tuple(r["tag_ids"]),
            version=r["version"], fee_schedule=_fee_schedule(r["fee_schedule"]),
        )
        for r in rows
    }


async def mark_published(conn: Conn, published: Sequence[tuple[str, str]]) -> None:
    """Record ``(condition_id, info_hash)`` pairs as acknowledged by JetStream."""
    if published:
        await conn.executemany("UPDATE markets SET published_hash = $2 WHERE condition_id = $1", list(published))


async def mark_missing(conn: Conn, missing: Sequence[tuple[str, str]], at: datetime) -> None:
    """Flag ``(condition_id, info_hash)`` markets as no longer listed by Gamma (the row stays)."""
    if missing:
        await conn.executemany(
            "UPDATE markets SET missing_since = $3, info_hash = $2, selected_for_making = false, "
            "selection_reason = 'no longer listed by Gamma', updated_at = now() "
            "WHERE condition_id = $1 AND missing_since IS NULL",
            [(cid, h, at) for cid, h in missing],
        )


async def open_condition_ids(conn: Conn) -> set[str]:
    """Markets believed listed and open: the ones a full refresh must see again or explain."""
    rows = await conn.fetch("SELECT condition_id FROM markets WHERE NOT closed AND missing_since IS NULL")
    return {r["condition_id"] for r in rows}


async def unpublished_condition_ids(conn: Conn) -> list[str]:
    """Markets whose latest info was never acknowledged by the bus (e.g. after a crash)."""
    rows = await conn.fetch("SELECT condition_id FROM markets WHERE published_hash IS DISTINCT FROM info_hash")
    return [r["condition_id"] for r in rows]


async def known_event_ids(conn: Conn, event_ids: Collection[str]) -> set[str]:
    rows = await conn.fetch("SELECT event_id FROM events WHERE event_id = ANY($1::text[])", list(event_ids))
    return {r["event_id"] for r in rows}


async def event_tag_ids(conn: Conn, event_ids: Collection[str]) -> dict[str, tuple[str, ...]]:
    rows = await conn.fetch("SELECT event_id, tag_ids FROM events WHERE event_id = ANY($1::text[])", list(event_ids))
    return {r["event_id"]: tuple(r["tag_ids"]) for r in rows}


async def selected_condition_ids(conn: Conn) -> list[str]:
    rows = await conn.fetch("SELECT condition_id FROM markets WHERE selected_for_making ORDER BY condition_id")
    return [r["condition_id"] for r in rows]


async def state_counts(conn: Conn) -> dict[str, int]:
    """How many markets are in each state, for the ``gamma_markets`` gauge and ``/status``."""
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE NOT closed AND missing_since IS NULL AND active) AS open,
                  count(*) FILTER (WHERE NOT closed AND missing_since IS NULL AND NOT active) AS inactive,
                  count(*) FILTER (WHERE closed) AS closed,
                  count(*) FILTER (WHERE missing_since IS NOT NULL) AS missing,
                  count(*) FILTER (WHERE selected_for_making) AS selected,
                  count(*) AS total
           FROM markets"""
    )
    return {k: int(v) for k, v in row.items()} if row is not None else {}
