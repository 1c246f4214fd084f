"""Gamma and CLOB market payloads as the venue sends them, and their mapping to domain records.

Gamma (camelCase) sends ``outcomes``, ``outcomePrices`` and ``clobTokenIds`` as JSON *strings* holding a
list; they are decoded a second time here. Numbers may come as JSON numbers or decimal strings; both are
read into ``Decimal`` through their text, never through arithmetic on a float. The CLOB's own market object
(``GET /markets/{condition_id}``, snake_case) is the authority for order parameters.

Parsing is per item: ``parse_market`` raises ``InvalidItem`` with a reason, and the caller skips that one
item and carries on with the rest of the page.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from polybot.domain.market_records import V1, EventRecord, FeeSchedule, MarketRecord, OrderParams, OutcomeRecord

CONDITION_ID = re.compile(r"0x[0-9a-fA-F]{64}")
TOKEN_ID = re.compile(r"[0-9]{1,80}")
VERSION = re.compile(r"v[0-9]{1,3}")


class InvalidItem(ValueError):
    """One payload item cannot be used; ``reason`` says why (logged and counted, never fatal to a page)."""

    def __init__(self, reason: str, item_id: str | None = None) -> None:
        super().__init__(f"{reason} (item {item_id})" if item_id else reason)
        self.reason = reason
        self.item_id = item_id


def _json_list(value: Any) -> Any:
    """Gamma's list-in-a-string fields: ``"[\\"Yes\\", \\"No\\"]"`` → ``["Yes", "No"]``; empty → ``[]``."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return json.loads(value)
    return value


def _blank_none(value: Any) -> Any:
    return None if value == "" else value


def _id_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


JsonStrList = Annotated[list[str], BeforeValidator(_json_list)]
OptDecimal = Annotated[Decimal | None, BeforeValidator(_blank_none)]
OptDatetime = Annotated[datetime | None, BeforeValidator(_blank_none)]
IdText = Annotated[str, BeforeValidator(_id_text)]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class GammaTag(_Wire):
    id: IdText
    label: str | None = None
    slug: str | None = None


class GammaClobReward(_Wire):
    rewards_daily_rate: OptDecimal = Field(None, alias="rewardsDailyRate")


class GammaFeeSchedule(_Wire):
    exponent: Decimal
    rate: Decimal
    taker_only: bool = Field(alias="takerOnly")
    rebate_rate: Decimal = Field(Decimal(0), alias="rebateRate")


class GammaEventRef(_Wire):
    """The short event object nested in a ``/markets`` item."""

    id: IdText
    slug: str | None = None
    tags: list[GammaTag] | None = None


class GammaMarket(_Wire):
    id: IdText
    condition_id: str = Field(alias="conditionId")
    question: str | None = None
    slug: str | None = None
    end_date: OptDatetime = Field(None, alias="endDate")
    active: bool | None = None
    closed: bool | None = None
    accepting_orders: bool | None = Field(None, alias="acceptingOrders")
    enable_order_book: bool | None = Field(None, alias="enableOrderBook")
    tick_size: OptDecimal = Field(None, alias="orderPriceMinTickSize")
    min_order_size: OptDecimal = Field(None, alias="orderMinSize")
    neg_risk: bool | None = Field(None, alias="negRisk")
    maker_base_fee: OptDecimal = Field(None, alias="makerBaseFee")
    taker_base_fee: OptDecimal = Field(None, alias="takerBaseFee")
    fees_enabled: bool | None = Field(None, alias="feesEnabled")
    fee_schedule: GammaFeeSchedule | None = Field(None, alias="feeSchedule")
    version: str | None = None
    liquidity_num: OptDecimal = Field(None, alias="liquidityNum")
    liquidity: OptDecimal = None
    volume_num: OptDecimal = Field(None, alias="volumeNum")
    volume: OptDecimal = None
    rewards_min_size: OptDecimal = Field(None, alias="rewardsMinSize")
    rewards_max_spread: OptDecimal = Field(None, alias="rewardsMaxSpread")
    clob_rewards: list[GammaClobReward] | None = Field(None, alias="clobRewards")
    outcomes: JsonStrList = []
    outcome_prices: JsonStrList = Field([], alias="outcomePrices")
    clob_token_ids: JsonStrList = Field([], alias="clobTokenIds")
    events: list[GammaEventRef] | None = None
    tags: list[GammaTag] | None = None


class GammaEvent(_Wire):
    id: IdText
    slug: str | None = None
    title: str | None = None
    active: bool | None = None
    closed: bool | None = None
    end_date: OptDatetime = Field(None, alias="endDate")
    neg_risk: bool | None = Field(None, alias="negRisk")
    tags: list[GammaTag] | None = None


class ClobToken(_Wire):
    token_id: str
    outcome: str
    price: OptDecimal = None
    winner: bool | None = None


class ClobRewardRate(_Wire):
    asset_address: str | None = None
    rewards_daily_rate: OptDecimal = None


class ClobRewards(_Wire):
    rates: list[ClobRewardRate] | None = None
    min_size: OptDecimal = None
    max_spread: OptDecimal = None


class ClobMarket(_Wire):
    """``GET /markets/{condition_id}`` on the CLOB (also the items of its ``/markets`` pages)."""

    condition_id: str
    question_id: str | None = None
    question: str | None = None
    market_slug: str | None = None
    end_date_iso: OptDatetime = None
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    accepting_orders: bool | None = None
    enable_order_book: bool | None = None
    minimum_order_size: OptDecimal = None
    minimum_tick_size: OptDecimal = None
    neg_risk: bool | None = None
    maker_base_fee: OptDecimal = None
    taker_base_fee: OptDecimal = None
    rewards: ClobRewards | None = None
    tokens: list[ClobToken] = []
    tags: list[str] | None = None

    def order_params(self) -> OrderParams:
        return OrderParams(self.minimum_tick_size, self.minimum_order_size, bool(self.neg_risk))


class ClobMarketsPage(_Wire):
    data: list[ClobMarket]
    next_cursor: str | None = None
    limit: int | None = None
    count: int | None = None


def _tag_ids(tags: list[GammaTag] | None) -> tuple[str, ...]:
    return tuple(sorted({t.id for t in tags or ()}))


def _outcomes(m: GammaMarket) -> tuple[OutcomeRecord, ...]:
    if not m.clob_token_ids:
        if m.enable_order_book:
            raise InvalidItem("order book enabled but no clobTokenIds", m.id)
        return ()
    if len(m.clob_token_ids) != len(m.outcomes):
        raise InvalidItem(f"{len(m.outcomes)} outcomes but {len(m.clob_token_ids)} clobTokenIds", m.id)
    if len(set(m.clob_token_ids)) != len(m.clob_token_ids):
        raise InvalidItem("duplicate clobTokenIds", m.id)
    for token in m.clob_token_ids:
        if not TOKEN_ID.fullmatch(token):
            raise InvalidItem(f"malformed token id {token[:20]!r}", m.id)
    return tuple(OutcomeRecord(t, o, i) for i, (t, o) in enumerate(zip(m.clob_token_ids, m.outcomes, strict=True)))


def parse_market(item: Any, *, event_id: str | None = None) -> tuple[MarketRecord, tuple[str, ...] | None]:
    """Parse one Gamma market into a record and the tag ids of its nested event (``None``: not given).

    ``event_id`` is the enclosing event when the market came nested in an ``/events`` item; a ``/markets``
    item names its event itself.
    """
    if not isinstance(item, dict):
        raise InvalidItem(f"market is a {type(item).__name__}, not an object")
    try:
        m = GammaMarket.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidItem(f"invalid market field {where}: {first['msg']}", str(item.get("id"))) from exc
    if not CONDITION_ID.fullmatch(m.condition_id):
        raise InvalidItem(f"malformed conditionId {m.condition_id[:70]!r}", m.id)
    if not m.question:
        raise InvalidItem("no question", m.id)
    version = (m.version or V1).lower()
    if not VERSION.fullmatch(version):
        raise InvalidItem(f"malformed version {version[:20]!r}", m.id)
    fees = m.fee_schedule
    ref = m.events[0] if m.events else None
    event_tags = _tag_ids(ref.tags) if ref is not None and ref.tags is not None else None
    rates = [r.rewards_daily_rate for r in m.clob_rewards or () if r.rewards_daily_rate is not None]
    record = MarketRecord(
        condition_id=m.condition_id,
        gamma_id=m.id,
        event_id=event_id if event_id is not None else (ref.id if ref is not None else None),
        question=m.question,
        slug=m.slug or None,
        end_date=m.end_date,
        active=bool(m.active),
        closed=bool(m.closed),
        accepting_orders=bool(m.accepting_orders),
        enable_order_book=bool(m.enable_order_book),
        order=OrderParams(m.tick_size, m.min_order_size, bool(m.neg_risk)),
        maker_base_fee=m.maker_base_fee,
        taker_base_fee=m.taker_base_fee,
        fees_enabled=m.fees_enabled,
        liquidity=m.liquidity_num if m.liquidity_num is not None else m.liquidity,
        volume=m.volume_num if m.volume_num is not None else m.volume,
        rewards_min_size=m.rewards_min_size,
        rewards_max_spread=m.rewards_max_spread,
        rewards_daily_rate=sum(rates, Decimal(0)) if rates else None,
        outcomes=_outcomes(m),
        tag_ids=_tag_ids(m.tags),
        version=version,
        fee_schedule=None if fees is None else FeeSchedule(fees.exponent, fees.rate, fees.taker_only,
                                                          fees.rebate_rate),
    )
    return record, event_tags


def parse_event(item: Any) -> EventRecord:
    """Parse the event part of an ``/events`` item (its nested markets are parsed one by one)."""
    if not isinstance(item, dict):
        raise InvalidItem(f"event is a {type(item).__name__}, not an object")
    try:
        e = GammaEvent.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidItem(f"invalid event field {where}: {first['msg']}", str(item.get("id"))) from exc
    return EventRecord(
        event_id=e.id,
        slug=e.slug or None,
        title=e.title,
        active=bool(e.active),
        closed=bool(e.closed),
        end_date=e.end_date,
        neg_risk=bool(e.neg_risk),
        tag_ids=_tag_ids(e.tags),
    )


def parse_clob_market(item: Any) -> ClobMarket:
    """Parse a CLOB market object; raise ``InvalidItem`` when it is unusable."""
    try:
        market = ClobMarket.model_validate(item)
    except ValidationError as exc:
        raise InvalidItem(f"invalid CLOB market: {exc.errors()[0]['msg']}") from exc
    if not CONDITION_ID.fullmatch(market.condition_id):
        raise InvalidItem(f"malformed condition_id {market.condition_id[:70]!r}")
    return market
