"""Market selection rules (table-driven) and the content digests that decide writes and publishes."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from polybot.domain.market_records import FeeSchedule, MarketRecord, OrderParams, market_info_digest
from polybot.domain.market_selection import SelectionRules, select_for_making
from polybot.venue.gamma_schemas import parse_market

FIXTURES = Path(os.environ["POLYBOT_FIXTURES"])
NOW_MS = 1_773_000_000_000  # 2026-03-08T20:00:00Z
HOUR_MS = 3_600_000
FEES = FeeSchedule(Decimal(1), Decimal("0.02"), True, Decimal("0.25"))


def _market(**changes: Any) -> MarketRecord:
    """The recorded 2028 nomination market (open, rewards-eligible), with ``changes`` applied."""
    raw = json.loads((FIXTURES / "gamma" / "gamma_events_list_2026.json").read_text())[0]["markets"][1]
    record, _ = parse_market(raw, event_id="30829")
    return replace(record, **changes)


AUTO = SelectionRules(auto=True)
CASES: list[tuple[str, MarketRecord, SelectionRules, tuple[str, ...], bool, str]] = [
    ("auto off selects nothing", _market(), SelectionRules(), (), False,
     "not listed and auto selection is off"),
    ("auto, no filters", _market(), AUTO, (), True, "rules"),
    ("explicit condition id", _market(), SelectionRules(condition_ids=frozenset({_market().condition_id})), (),
     True, "explicit condition id"),
    ("explicit slug", _market(), SelectionRules(slugs=frozenset({_market().slug or ""})), (), True, "explicit slug"),
    ("explicit but closed", _market(closed=True), SelectionRules(condition_ids=frozenset({_market().condition_id})),
     (), False, "closed"),
    ("inactive", _market(active=False), AUTO, (), False, "inactive"),
    ("no order book", _market(enable_order_book=False), AUTO, (), False, "order book disabled"),
    ("not accepting", _market(accepting_orders=False), AUTO, (), False, "not accepting orders"),
    ("not accepting, allowed", _market(accepting_orders=False), replace(AUTO, require_accepting_orders=False), (),
     True, "rules"),
    ("one outcome", _market(outcomes=_market().outcomes[:1]), AUTO, (), False, "fewer than two outcome tokens"),
    ("tag matches event", _market(), replace(AUTO, tag_ids=frozenset({"2", "999"})), ("2", "144"), True, "rules"),
    ("tag matches market", _market(tag_ids=("999",)), replace(AUTO, tag_ids=frozenset({"999"})), (), True, "rules"),
    ("tag missing", _market(), replace(AUTO, tag_ids=frozenset({"999"})), ("2",), False, "no selected tag"),
    ("liquidity ok", _market(), replace(AUTO, min_liquidity=Decimal("573479.49303")), (), True, "rules"),
    ("liquidity low", _market(), replace(AUTO, min_liquidity=Decimal("573479.49304")), (), False,
     "liquidity below minimum"),
    ("liquidity unknown", _market(liquidity=None), replace(AUTO, min_liquidity=Decimal(1)), (), False,
     "liquidity below minimum"),
    ("volume low", _market(), replace(AUTO, min_volume=Decimal(10**9)), (), False, "volume below minimum"),
    ("ends far enough", _market(end_date=datetime.fromtimestamp(NOW_MS / 1000 + 7200, UTC)),
     replace(AUTO, min_time_to_end_ms=HOUR_MS), (), True, "rules"),
    ("ends exactly at the limit", _market(end_date=datetime.fromtimestamp(NOW_MS / 1000 + 3600, UTC)),
     replace(AUTO, min_time_to_end_ms=HOUR_MS), (), False, "ends too soon"),
    ("no end date", _market(end_date=None), replace(AUTO, min_time_to_end_ms=HOUR_MS), (), False, "no end date"),
    ("rewards required, eligible", _market(), replace(AUTO, require_rewards=True), (), True, "rules"),
    ("rewards required, none", _market(rewards_daily_rate=None), replace(AUTO, require_rewards=True), (), False,
     "not rewards-eligible"),
    ("v2 market", _market(version="v2"), AUTO, (), False, "protocol version v2 is not supported by the executor yet"),
    ("v2 market listed explicitly", _market(version="v2"),
     SelectionRules(condition_ids=frozenset({_market().condition_id})), (), False,
     "protocol version v2 is not supported by the executor yet"),
    ("unknown version", _market(version="v3"), AUTO, (), False,
     "protocol version v3 is not supported by the executor yet"),
    ("explicit bypasses filters", _market(liquidity=Decimal(0)),
     replace(AUTO, min_liquidity=Decimal(10), condition_ids=frozenset({_market().condition_id})), (), True,
     "explicit condition id"),
]


@pytest.mark.parametrize(("name", "market", "rules", "event_tags", "selected", "reason"), CASES,
                         ids=[c[0] for c in CASES])
def test_selection(name: str, market: MarketRecord, rules: SelectionRules, event_tags: tuple[str, ...],
                   selected: bool, reason: str) -> None:
    result = select_for_making(market, rules, NOW_MS, event_tags)
    assert (result.selected, result.reason) == (selected, reason)


def test_naive_end_date_is_refused() -> None:
    with pytest.raises(ValueError):
        select_for_making(_market(end_date=datetime(2030, 1, 1)), replace(AUTO, min_time_to_end_ms=1), NOW_MS)


def test_content_hash_ignores_representation_but_sees_changes() -> None:
    m = _market()
    assert m.content_hash() == _market().content_hash()
    same_value = m.with_order(OrderParams(Decimal("0.0010"), Decimal("5.00"), m.order.neg_risk))
    assert same_value.content_hash() == m.content_hash()
    for change in ({"question": "other?"}, {"closed": True}, {"accepting_orders": False},
                   {"liquidity": Decimal(1)}, {"rewards_daily_rate": Decimal(2)}, {"outcomes": m.outcomes[::-1]},
                   {"version": "v2"}, {"fee_schedule": FEES}):
        assert replace(m, **change).content_hash() != m.content_hash(), change
    assert m.with_order(replace(m.order, tick_size=Decimal("0.01"))).content_hash() != m.content_hash()


def test_info_digest_covers_what_is_published_only() -> None:
    m = _market()
    base = market_info_digest(m, selected_for_making=False, missing=False)
    assert market_info_digest(replace(m, liquidity=Decimal(1)), selected_for_making=False, missing=False) == base
    assert market_info_digest(m, selected_for_making=True, missing=False) != base
    assert market_info_digest(m, selected_for_making=False, missing=True) != base
    assert market_info_digest(m.with_order(replace(m.order, tick_size=Decimal("0.01"))),
                              selected_for_making=False, missing=False) != base
    for change in ({"version": "v2"}, {"fee_schedule": FEES}, {"fees_enabled": not m.fees_enabled},
                   {"rewards_max_spread": Decimal("2.5")}, {"rewards_min_size": Decimal(1)},
                   {"rewards_daily_rate": None}):
        assert market_info_digest(replace(m, **change), selected_for_making=False, missing=False) != base, change
