"""The market set as Polybot keeps it: events, markets and their outcome tokens, with content digests.

Two digests decide what a refresh does with a market:

- ``MarketRecord.content_hash()`` covers every field taken from Gamma that we store. When it is unchanged
  the row is left alone (no write, no CLOB look-up), so a refresh of an unchanged market set writes nothing.
  Fast-moving prices (``outcomePrices``, best bid/ask) are deliberately not part of the record.
- ``market_info_digest()`` covers exactly what is published to the bus. A market is published when this
  digest differs from the one last published, and the digest is part of the publish de-duplication id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal


def _dec(value: Decimal | None) -> str | None:
    """A canonical text for a Decimal, so that 0.010 and 0.01 digest alike."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _digest(parts: Sequence[object]) -> str:
    blob = json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """One outcome token of a market (``outcome_index`` is its position in Gamma's ``outcomes``)."""

    token_id: str
    outcome: str
    outcome_index: int


@dataclass(frozen=True, slots=True)
class OrderParams:
    """What an order on this market must respect; the CLOB is authoritative, Gamma a fallback."""

    tick_size: Decimal | None
    min_order_size: Decimal | None
    neg_risk: bool

    def same_as(self, other: OrderParams) -> bool:
        """Equal as numbers (``Decimal("0.010") == Decimal("0.01")``)."""
        return (self.tick_size, self.min_order_size, self.neg_risk) == (
            other.tick_size,
            other.min_order_size,
            other.neg_risk,
        )


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Gamma's ``feeSchedule``, the fee source since 2026-03-31: rate × (p(1−p))^exponent per share."""

    exponent: Decimal
    rate: Decimal
    taker_only: bool
    rebate_rate: Decimal

    def digest_parts(self) -> list[object]:
        return [_dec(self.exponent), _dec(self.rate), self.taker_only, _dec(self.rebate_rate)]


V1 = "v1"  # CTF markets; "v2" are Protocol V2 markets (position ids, signed for another exchange)


@dataclass(frozen=True, slots=True)
class EventRecord:
    event_id: str
    slug: str | None
    title: str | None
    active: bool
    closed: bool
    end_date: datetime | None
    neg_risk: bool
    tag_ids: tuple[str, ...]

    def content_hash(self) -> str:
        return _digest(
            [self.event_id, self.slug, self.title, self.active, self.closed, _iso(self.end_date), self.neg_risk,
             sorted(self.tag_ids)]
        )


@dataclass(frozen=True, slots=True)
class MarketRecord:
    """One binary (or multi-outcome) market, as parsed from Gamma, order params possibly from the CLOB."""

    condition_id: str
    gamma_id: str | None
    event_id: str | None
    question: str
    slug: str | None
    end_date: datetime | None
    active: bool
    closed: bool
    accepting_orders: bool
    enable_order_book: bool
    order: OrderParams
    maker_base_fee: Decimal | None
    taker_base_fee: Decimal | None
    fees_enabled: bool | None
    liquidity: Decimal | None
    volume: Decimal | None
    rewards_min_size: Decimal | None
    rewards_max_spread: Decimal | None
    rewards_daily_rate: Decimal | None
    outcomes: tuple[OutcomeRecord, ...]
    tag_ids: tuple[str, ...] = ()
    version: str = V1  # Gamma's ``version``; absent on a market means the venue's default, v1
    fee_schedule: FeeSchedule | None = None

    @property
    def rewards_eligible(self) -> bool:
        """The market pays liquidity rewards: a positive daily rate, size floor and spread ceiling."""
        return all(v is not None and v > 0 for v in (self.rewards_daily_rate, self.rewards_min_size,
                                                      self.rewards_max_spread))

    def with_order(self, order: OrderParams) -> MarketRecord:
        return replace(self, order=order)

    def content_hash(self) -> str:
        """Digest of every stored field (order params as Gamma gave them, before any CLOB enrichment)."""
        return _digest(
            [
                self.condition_id, self.gamma_id, self.event_id, self.question, self.slug, _iso(self.end_date),
                self.active, self.closed, self.accepting_orders, self.enable_order_book,
                _dec(self.order.tick_size), _dec(self.order.min_order_size), self.order.neg_risk,
                _dec(self.maker_base_fee), _dec(self.taker_base_fee), self.fees_enabled,
                _dec(self.liquidity), _dec(self.volume),
                _dec(self.rewards_min_size), _dec(self.rewards_max_spread), _dec(self.rewards_daily_rate),
                [[o.token_id, o.outcome, o.outcome_index] for o in self.outcomes],
                sorted(self.tag_ids), self.version,
                self.fee_schedule.digest_parts() if self.fee_schedule is not None else None,
            ]
        )


def market_info_digest(market: MarketRecord, *, selected_for_making: bool, missing: bool) -> str:
    """Digest of what consumers are told about a market; a new value means "publish again"."""
    return _digest(
        [
            market.condition_id, market.question, market.slug, market.event_id,
            [[o.token_id, o.outcome, o.outcome_index] for o in market.outcomes],
            _dec(market.order.tick_size), _dec(market.order.min_order_size), market.order.neg_risk,
            market.active, market.closed, market.accepting_orders, market.enable_order_book,
            _iso(market.end_date), selected_for_making, missing, market.version, market.fees_enabled,
            market.fee_schedule.digest_parts() if market.fee_schedule is not None else None,
            _dec(market.rewards_max_spread), _dec(market.rewards_min_size), _dec(market.rewards_daily_rate),
        ]
    )
