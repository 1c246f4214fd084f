"""The simulated venue's events, markets and outcome tokens.

Generated from a seed (binary events and neg-risk events of several markets; tick sizes 0.01 and 0.001) or
loaded from a recorded Gamma ``/events`` or ``/markets`` JSON file. Identifiers look like the venue's:
``0x`` + 64 hex condition ids, 76–77 digit token ids, numeric Gamma ids.

A market's mutable fields (``question``, ``closed``, ``accepting_orders``, ``tick_units``, ``version``…) are
what both the Gamma and the CLOB views read, so one admin patch changes both. ``delisted`` hides a market from
every Gamma view while its CLOB side stays (the venue's Gamma forgetting a market).

``version`` is "v1" (CTF) or "v2" (Protocol V2). V2 markets carry ``position_ids``, and so does every 7th
generated v1 market, as on the venue: a client must choose by ``version``, not by which ids are present.
polysim's CLOB trades every market by its ``token_ids`` whatever its version.

Liquidity rewards as the venue lists them: ``rewards_min_size`` (shares), ``rewards_max_spread`` (cents, as
Gamma's ``rewardsMaxSpread`` and the CLOB's ``rewards.max_spread``: 3.5 means within 0.035 of the midpoint)
and ``rewards_daily_rate`` (USDC a day); ``None`` when the market pays none. About half the generated markets
pay rewards (drawn from the seed); a loaded market pays what its recording says.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from polysim.units import PRICE_SCALE, price_units

TOPICS = (
    "Bitcoin above {n}k on Friday", "Fed cuts rates in meeting {n}", "Team {n} wins the final",
    "Candidate {n} wins the primary", "Rainfall record in city {n}", "Launch {n} reaches orbit",
    "Company {n} beats earnings", "Film {n} tops the box office", "Bill {n} passes the senate",
)
TAGS = (("2", "Politics", "politics"), ("21", "Crypto", "crypto"), ("100639", "Sports", "sports"),
         ("1401", "Tech", "tech"), ("596", "Culture", "culture"))


@dataclass(slots=True)
class SimToken:
    token_id: str
    outcome: str
    index: int  # 0 = the first outcome (the book's reference side), 1 = its complement
    market: SimMarket


@dataclass(slots=True, eq=False)
class SimMarket:
    index: int  # position in the catalog; seeds this market's random streams
    gamma_id: str
    condition_id: str
    question_id: str
    question: str
    slug: str
    outcomes: tuple[str, str]
    token_ids: tuple[str, str]
    tick_units: int
    min_order_size: Decimal
    neg_risk: bool
    event: SimEvent
    group_item_title: str = ""
    active: bool = True
    closed: bool = False
    archived: bool = False
    accepting_orders: bool = True
    enable_order_book: bool = True
    end_date: str = "2030-12-31T12:00:00Z"
    start_date: str = "2025-01-01T00:00:00Z"
    created_at: str = "2025-01-01T00:00:00.000000Z"
    description: str = ""
    initial_fair: float = 0.5  # the random process's starting probability of the first outcome
    version: str = "v1"
    position_ids: tuple[str, ...] = ()
    delisted: bool = False
    rewards_min_size: Decimal | None = None
    rewards_max_spread: Decimal | None = None  # cents
    rewards_daily_rate: Decimal | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # recorded fields kept verbatim (loaded catalogs)
    tokens: tuple[SimToken, SimToken] = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = (SimToken(self.token_ids[0], self.outcomes[0], 0, self),
                       SimToken(self.token_ids[1], self.outcomes[1], 1, self))


@dataclass(slots=True, eq=False)
class SimEvent:
    index: int
    gamma_id: str
    slug: str
    title: str
    neg_risk: bool
    tags: tuple[tuple[str, str, str], ...]  # (id, label, slug)
    neg_risk_market_id: str = ""
    markets: list[SimMarket] = field(default_factory=list)
    active: bool = True
    closed: bool = False


@dataclass(slots=True)
class Catalog:
    """All events and markets with lookups by id."""

    events: list[SimEvent]
    markets: list[SimMarket]
    by_condition: dict[str, SimMarket] = field(default_factory=dict)
    by_token: dict[str, SimToken] = field(default_factory=dict)
    by_gamma_id: dict[str, SimMarket] = field(default_factory=dict)
    events_by_id: dict[str, SimEvent] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for m in self.markets:
            self._index(m)
        for e in self.events:
            self.events_by_id[e.gamma_id] = e

    def _index(self, m: SimMarket) -> None:
        self.by_condition[m.condition_id] = m
        self.by_gamma_id[m.gamma_id] = m
        for t in m.tokens:
            self.by_token[t.token_id] = t

    def add_event(self, event: SimEvent) -> None:
        """Register an event built at run time and its markets (ids must be new)."""
        clash = [m.condition_id for m in event.markets if m.condition_id in self.by_condition]
        if event.gamma_id in self.events_by_id or clash:
            raise ValueError(f"ids already in the catalog: {event.gamma_id} {clash}")
        self.events.append(event)
        self.events_by_id[event.gamma_id] = event
        for m in event.markets:
            self.markets.append(m)
            self._index(m)


def numeric_ids(ids: Any) -> list[int]:
    """The ids that are numbers (Gamma's are; a recorded file might hold others)."""
    return [int(i) for i in ids if str(i).isdigit()]


def hex_id(seed: int, *parts: object) -> str:
    return "0x" + hashlib.sha256(":".join(str(p) for p in (seed, *parts)).encode()).hexdigest()


def position_ids_for(seed: int, market_index: int) -> tuple[str, str]:
    """Protocol V2 position ids (76–77 digits like token ids, never equal to them) for a market."""
    span = 10**77 - 10**75
    first, second = (str(10**75 + int(hex_id(seed, "pos", market_index, k)[2:], 16) % span) for k in (0, 1))
    return first, second


# Since 2026-07-02 the venue also lists markets on 0.005 and 0.0025 ticks: prices are multiples of the tick,
# not a number of decimal places. With ``fine_ticks`` every eleventh market (from the sixth) trades on 0.005
# and every eleventh from the eighth on 0.0025 (tick units of 1/10,000); the first five keep 0.01/0.001.
_FINE_TICKS = {5: 50, 7: 25}


def generate_catalog(seed: int, n_markets: int, n_events: int, v2_markets: int = 0,
                     fine_ticks: bool = True) -> Catalog:
    """A reproducible catalog: ``n_markets`` markets spread over ``n_events`` events.

    Roughly a third of the events with more than one market are neg-risk; the rest of the multi-market events
    are plain groups of binary markets. About a quarter of the markets trade on a 0.001 tick. ``v2_markets``
    of them, spread evenly, are Protocol V2 markets; every 7th v1 market carries position ids too.
    """
    rng = random.Random(f"polysim-catalog:{seed}")
    n_events = max(1, min(n_events, n_markets))
    # Every event gets one market, the rest are spread at random (so some events are big groups).
    sizes = [1] * n_events
    for _ in range(n_markets - n_events):
        sizes[rng.randrange(n_events)] += 1
    events: list[SimEvent] = []
    markets: list[SimMarket] = []
    for ei, size in enumerate(sizes):
        topic = TOPICS[ei % len(TOPICS)]
        neg_risk = size > 1 and rng.random() < 0.5
        tag = TAGS[ei % len(TAGS)]
        event = SimEvent(
            index=ei, gamma_id=str(20000 + ei), slug=f"sim-event-{ei}", title=topic.format(n=ei), neg_risk=neg_risk,
            tags=(tag, ("1", "All", "all")), neg_risk_market_id=hex_id(seed, "nrm", ei) if neg_risk else "",
        )
        fairs = initial_fairs(rng, size, neg_risk)
        for k in range(size):
            mi = len(markets)
            tick = 10 if rng.random() < 0.25 else 100
            if fine_ticks:
                tick = _FINE_TICKS.get(mi % 11, tick)
            question = event.title if size == 1 else f"{event.title}: outcome {k + 1}?"
            market = SimMarket(
                index=mi, gamma_id=str(500000 + mi), condition_id=hex_id(seed, "cond", mi),
                question_id=hex_id(seed, "q", mi), question=question, slug=f"sim-market-{mi}",
                outcomes=("Yes", "No"),
                token_ids=(str(rng.randrange(10**75, 10**77)), str(rng.randrange(10**75, 10**77))),
                tick_units=tick, min_order_size=Decimal(5), neg_risk=neg_risk, event=event,
                group_item_title=f"outcome {k + 1}" if size > 1 else "",
                description=f"Simulated market {mi} (seed {seed}).", initial_fair=fairs[k],
            )
            event.markets.append(market)
            markets.append(market)
        events.append(event)
    _assign_versions(seed, markets, v2_markets)
    _assign_rewards(seed, markets)
    return Catalog(events, markets)


def _assign_versions(seed: int, markets: list[SimMarket], v2_markets: int) -> None:
    # After the catalog's random draws, so adding v2 markets leaves every other id and price as it was.
    n, k = len(markets), max(0, min(v2_markets, len(markets)))
    v2 = {(2 * j + 1) * n // (2 * k) for j in range(k)}
    for m in markets:
        if m.index in v2:
            m.version = "v2"
        if m.index in v2 or m.index % 7 == 6:
            m.position_ids = position_ids_for(seed, m.index)


# The recorded markets' reward programmes: (min size, max spread in cents, daily rate in USDC).
_REWARDS = ((Decimal(20), Decimal("3.5"), Decimal(1)), (Decimal(50), Decimal("4.5"), Decimal(5)),
            (Decimal(100), Decimal("3.5"), Decimal(25)), (Decimal(200), Decimal("2.5"), Decimal(100)))


def _assign_rewards(seed: int, markets: list[SimMarket]) -> None:
    # A stream of its own, after every other draw: the catalog's ids and prices do not depend on it.
    rng = random.Random(f"polysim-rewards:{seed}")
    for m in markets:
        if rng.random() < 0.5:
            m.rewards_min_size, m.rewards_max_spread, m.rewards_daily_rate = _REWARDS[rng.randrange(len(_REWARDS))]


def market_rewards(raw: dict[str, Any]) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """(min size, max spread, daily rate) of a recorded Gamma market (``None`` where it pays nothing)."""
    rates = [Decimal(str(r["rewardsDailyRate"])) for r in raw.get("clobRewards") or ()
             if isinstance(r, dict) and r.get("rewardsDailyRate") is not None]
    rate = sum(rates, Decimal(0)) if rates else None

    def positive(key: str) -> Decimal | None:
        value = raw.get(key)
        return Decimal(str(value)) if value is not None and Decimal(str(value)) > 0 else None

    return positive("rewardsMinSize"), positive("rewardsMaxSpread"), rate if rate else None


def initial_fairs(rng: random.Random, size: int, neg_risk: bool) -> list[float]:
    if not neg_risk:
        return [rng.uniform(0.12, 0.88) for _ in range(size)]
    weights = [rng.uniform(0.2, 1.0) for _ in range(size)]
    total = sum(weights)
    return [min(0.9, max(0.06, w / total)) for w in weights]


def load_catalog(path: Path, min_order_size: Decimal = Decimal(5)) -> Catalog:
    """Markets from a recorded Gamma ``/events`` list (nested markets), ``/markets`` list, single market or
    ``/public-search`` answer. Recorded fields are kept and served as recorded where not simulated."""
    data = json.loads(path.read_text())
    if isinstance(data, dict) and isinstance(data.get("events"), list) and "conditionId" not in data:
        data = data["events"]  # a /public-search answer
    items = data if isinstance(data, list) else [data]
    events: list[SimEvent] = []
    markets: list[SimMarket] = []
    for item in items:
        if "markets" in item:
            raw_event, raw_markets = item, list(item["markets"])
        else:
            raw_event, raw_markets = (item.get("events") or [{}])[0], [item]
        event = _event_of(raw_event, len(events))
        for raw in raw_markets:
            market = _market_of(raw, event, len(markets), min_order_size)
            if market is not None:
                event.markets.append(market)
                markets.append(market)
        if event.markets:
            events.append(event)
    return Catalog(events, markets)


def _event_of(raw: dict[str, Any], index: int) -> SimEvent:
    tags = tuple((str(t.get("id")), str(t.get("label", "")), str(t.get("slug", ""))) for t in raw.get("tags") or [])
    return SimEvent(
        index=index, gamma_id=str(raw.get("id", 90000 + index)), slug=str(raw.get("slug", f"event-{index}")),
        title=str(raw.get("title", "")), neg_risk=bool(raw.get("negRisk", False)), tags=tags,
        neg_risk_market_id=str(raw.get("negRiskMarketID", "") or ""),
        active=bool(raw.get("active", True)), closed=bool(raw.get("closed", False)),
    )


def _market_of(raw: dict[str, Any], event: SimEvent, index: int, min_size: Decimal) -> SimMarket | None:
    tokens = json.loads(raw.get("clobTokenIds") or "[]")
    outcomes = json.loads(raw.get("outcomes") or "[]")
    if len(tokens) != 2 or len(outcomes) != 2:
        return None
    prices = json.loads(raw.get("outcomePrices") or "[]")
    fair = float(prices[0]) if prices else 0.5
    tick = price_units(Decimal(str(raw.get("orderPriceMinTickSize") or "0.01")))
    rewards = market_rewards(raw)
    return SimMarket(
        index=index, gamma_id=str(raw.get("id", 700000 + index)), condition_id=str(raw["conditionId"]),
        question_id=str(raw.get("questionID", "")), question=str(raw.get("question", "")),
        slug=str(raw.get("slug", f"market-{index}")), outcomes=(str(outcomes[0]), str(outcomes[1])),
        token_ids=(str(tokens[0]), str(tokens[1])), tick_units=tick or 100,
        min_order_size=Decimal(str(raw.get("orderMinSize") or min_size)), neg_risk=bool(raw.get("negRisk", False)),
        event=event, group_item_title=str(raw.get("groupItemTitle", "") or ""),
        active=bool(raw.get("active", True)), closed=bool(raw.get("closed", False)),
        archived=bool(raw.get("archived", False)), accepting_orders=bool(raw.get("acceptingOrders", True)),
        enable_order_book=bool(raw.get("enableOrderBook", True)),
        end_date=str(raw.get("endDate", "2030-12-31T12:00:00Z")), description=str(raw.get("description", "")),
        initial_fair=min(0.95, max(0.05, fair if 0 < fair < 1 else 0.5)), version=str(raw.get("version") or "v1"),
        position_ids=_str_list(raw.get("positionIds")), extra=dict(raw),
        rewards_min_size=rewards[0], rewards_max_spread=rewards[1], rewards_daily_rate=rewards[2],
    )


def _str_list(value: Any) -> tuple[str, ...]:
    """A Gamma list field, sent as a JSON string (or, in some recordings, as a list)."""
    items = json.loads(value) if isinstance(value, str) and value else value
    return tuple(str(v) for v in items or ())


def pays_rewards(market: SimMarket) -> bool:
    """The market has a reward programme (a size floor, a spread ceiling and a daily rate)."""
    return None not in (market.rewards_min_size, market.rewards_max_spread, market.rewards_daily_rate)


def tick_of(market: SimMarket) -> Decimal:
    """The market's tick size as a Decimal."""
    return Decimal(market.tick_units) / PRICE_SCALE
