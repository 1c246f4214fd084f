"""Telling the bus about markets: one ``MarketInfo`` per new or changed market, de-duplicated by content.

The publish id names the transition ``<condition_id>:<published_hash>><info_hash>``, so publishing the
same change twice (a re-run, or a restart after a crash between the database commit and the publish) is
stored once by JetStream, while a market that changes A → B → A within the duplicate window still gets its
second A. After the acks arrive, ``published_hash`` records what the bus has; a market whose ``info_hash``
differs from it is published again by the next refresh, which is what makes a crash at any point lose
nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg

from polybot.bus import subjects
from polybot.bus.acks import BatchAck
from polybot.bus.client import Outgoing
from polybot.bus.messages import FeeScheduleInfo, MarketInfo, OutcomeToken
from polybot.domain.market_records import MarketRecord
from polybot.store import gamma_repo

log = logging.getLogger(__name__)

_BATCH = 500


@dataclass(frozen=True, slots=True)
class PendingInfo:
    """A market whose current info the bus has not acknowledged yet."""

    record: MarketRecord
    selected_for_making: bool
    missing: bool
    info_hash: str
    previous_hash: str | None  # what the bus had before (``published_hash``)


def market_info(p: PendingInfo, ts_ms: int) -> MarketInfo:
    """The bus message for one market."""
    m = p.record
    fees = m.fee_schedule
    return MarketInfo(
        condition_id=m.condition_id,
        question=m.question,
        slug=m.slug,
        event_id=m.event_id,
        tokens=tuple(OutcomeToken(token_id=o.token_id, outcome=o.outcome, index=o.outcome_index)
                     for o in m.outcomes),
        tick_size=m.order.tick_size,
        min_order_size=m.order.min_order_size,
        neg_risk=m.order.neg_risk,
        active=m.active,
        closed=m.closed,
        accepting_orders=m.accepting_orders,
        enable_order_book=m.enable_order_book,
        end_date=m.end_date.isoformat() if m.end_date is not None else None,
        selected_for_making=p.selected_for_making,
        ts_ms=ts_ms,
        missing=p.missing,
        info_hash=p.info_hash,
        version=m.version,
        fees_enabled=m.fees_enabled,
        fee_schedule=None if fees is None else FeeScheduleInfo(exponent=fees.exponent, rate=fees.rate,
                                                               taker_only=fees.taker_only,
                                                               rebate_rate=fees.rebate_rate),
        rewards_max_spread=m.rewards_max_spread,
        rewards_min_size=m.rewards_min_size,
        rewards_daily_rate=m.rewards_daily_rate,
    )


def msg_id(condition_id: str, previous_hash: str | None, info_hash: str) -> str:
    """The JetStream de-duplication id of one change of a market's info."""
    return f"gamma.market:{condition_id}:{previous_hash or '-'}>{info_hash}"


class InfoPublisher(Protocol):
    """Where the ``MarketInfo`` batches go: ``Bus``, or ``MemoryPublisher`` beside it."""

    async def publish_batch(self, batch: Sequence[Outgoing], timeout_s: float = 5.0) -> list[BatchAck]: ...


@dataclass
class MemoryPublisher:
    """An ``InfoPublisher`` in memory: keeps what it is given; with ``acked`` off, a bus whose acks never come
    back (a crash between the database commit and the publish)."""

    acked: bool = True
    sent: list[Outgoing] = field(default_factory=list)

    async def publish_batch(self, batch: Sequence[Outgoing], timeout_s: float = 5.0) -> list[BatchAck]:
        first = len(self.sent) + 1
        self.sent.extend(batch)
        return [BatchAck("memory", first + i, False) for i in range(len(batch))] if self.acked else []


async def publish_infos(bus: InfoPublisher, pool: asyncpg.Pool, pending: Sequence[PendingInfo], ts_ms: int) -> int:
    """Publish ``pending`` and record each ack; return how many JetStream stored (duplicates excluded).

    A batch whose acks did not all come back is not recorded: ``published_hash`` stays behind, so a later run
    publishes it again (JetStream stores a repeat once).
    """
    if not pending:
        return 0
    stored = 0
    for start in range(0, len(pending), _BATCH):
        chunk = pending[start:start + _BATCH]
        batch = [Outgoing(subjects.gamma_market(p.record.condition_id), market_info(p, ts_ms),
                          msg_id(p.record.condition_id, p.previous_hash, p.info_hash)) for p in chunk]
        acks = await bus.publish_batch(batch, timeout_s=max(5.0, len(batch) / 100))
        if len(acks) != len(batch):
            continue
        stored += sum(1 for a in acks if not a.duplicate)
        async with pool.acquire() as conn:
            await gamma_repo.mark_published(conn, [(p.record.condition_id, p.info_hash) for p in chunk])
    return stored


async def republish_unacknowledged(bus: InfoPublisher, pool: asyncpg.Pool, ts_ms: int) -> int:
    """Publish every stored market whose latest info the bus never acknowledged (e.g. after a crash)."""
    async with pool.acquire() as conn:
        ids = await gamma_repo.unpublished_condition_ids(conn)
        if not ids:
            return 0
        records = await gamma_repo.load_records(conn, ids)
        states = await gamma_repo.load_state(conn, ids)
    pending = [PendingInfo(records[c], states[c].selected_for_making, states[c].missing, states[c].info_hash,
                           states[c].published_hash)
               for c in ids if c in records and c in states]
    if pending:
        log.info("publishing markets the bus never acknowledged", extra={"markets": len(pending)})
    return await publish_infos(bus, pool, pending, ts_ms)
