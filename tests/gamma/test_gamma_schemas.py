"""Every recorded Gamma and CLOB market payload parses; malformed items are skipped with a reason, alone."""

from __future__ import annotations

import copy
import json
import logging
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from polybot.app.gamma.page import parse_events_page, parse_markets_page
from polybot.venue.gamma_schemas import (
    ClobMarketsPage,
    InvalidItem,
    parse_clob_market,
    parse_event,
    parse_market,
)

FIXTURES = Path(os.environ["POLYBOT_FIXTURES"])
GAMMA_MARKETS = sorted((FIXTURES / "gamma").glob("gamma_market_*.json"))
CLOB_MARKETS = sorted((FIXTURES / "rest_clob").glob("market_*.json"))


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def test_fixture_sets_are_not_empty() -> None:
    assert len(GAMMA_MARKETS) == 4
    assert len(CLOB_MARKETS) == 3


@pytest.mark.parametrize("path", GAMMA_MARKETS, ids=lambda p: p.name)
def test_every_recorded_gamma_market_parses(path: Path) -> None:
    raw = _load(path)
    record, _ = parse_market(raw)
    assert record.condition_id == raw["conditionId"]
    tokens = json.loads(raw["clobTokenIds"])
    assert [o.token_id for o in record.outcomes] == tokens
    assert [o.outcome for o in record.outcomes] == json.loads(raw["outcomes"])
    assert record.order.tick_size == Decimal(str(raw["orderPriceMinTickSize"]))
    assert record.order.min_order_size == Decimal(str(raw["orderMinSize"]))
    assert record.closed is raw["closed"]
    assert record.accepting_orders is raw["acceptingOrders"]


def test_btc_updown_fields_in_detail() -> None:
    record, event_tags = parse_market(_load(FIXTURES / "gamma" / "gamma_market_2026-03_btc_updown.json"))
    assert record.event_id == "260654"
    assert event_tags is None  # the nested event carries no tags
    assert record.outcomes[0].outcome == "Up" and record.outcomes[1].outcome_index == 1
    assert record.order.tick_size == Decimal("0.01")
    assert record.liquidity == Decimal("20328.3747")
    assert record.volume == Decimal("9.999997")
    assert record.maker_base_fee == Decimal(1000) and record.fees_enabled is True
    assert record.rewards_min_size == Decimal(50) and record.rewards_max_spread == Decimal("4.5")
    assert record.rewards_daily_rate is None and not record.rewards_eligible
    assert record.end_date is not None and record.end_date.isoformat() == "2026-03-12T09:25:00+00:00"


def test_rewards_from_clob_rewards() -> None:
    record, _ = parse_market(_load(FIXTURES / "gamma" / "gamma_market_closed_binary_accepting_true.json"))
    assert record.rewards_daily_rate == Decimal(30)
    assert record.rewards_eligible
    assert record.event_id is None  # this recording names no event


def test_recorded_events_list_parses_with_nested_markets() -> None:
    page = parse_events_page(_load(FIXTURES / "gamma" / "gamma_events_list_2026.json"))
    assert page.invalid == 0
    assert [e.record.event_id for e in page.events] == ["30829"]
    assert "markets" not in json.loads(page.events[0].raw_json)
    event = page.events[0].record
    assert event.neg_risk and "2" in event.tag_ids
    assert len(page.markets) == 2
    assert all(m.record.event_id == "30829" and m.event_tags == event.tag_ids for m in page.markets)
    assert all(m.record.order.neg_risk for m in page.markets)


def test_recorded_public_search_events_parse() -> None:
    page = parse_events_page(_load(FIXTURES / "gamma" / "gamma_public_search_response.json")["events"])
    assert page.invalid == 0 and len(page.events) == 1 and len(page.markets) == 1


@pytest.mark.parametrize("path", CLOB_MARKETS, ids=lambda p: p.name)
def test_every_recorded_clob_market_parses(path: Path) -> None:
    raw = _load(path)
    market = parse_clob_market(raw)
    assert market.condition_id == raw["condition_id"]
    params = market.order_params()
    assert params.tick_size == Decimal(str(raw["minimum_tick_size"]))
    assert params.min_order_size == Decimal(str(raw["minimum_order_size"]))
    assert params.neg_risk is raw["neg_risk"]
    assert [t.token_id for t in market.tokens] == [t["token_id"] for t in raw["tokens"]]


def test_recorded_clob_markets_page_parses_every_item() -> None:
    raw = _load(FIXTURES / "rest_clob" / "markets_page_2024-09.json")
    page = ClobMarketsPage.model_validate(raw)
    assert len(page.data) == 100 and page.next_cursor == "MTAw"
    for item in raw["data"]:
        assert parse_clob_market(item).condition_id == item["condition_id"]
    ticks = {m.minimum_tick_size for m in page.data}
    assert ticks == {Decimal("0.01"), Decimal("0.001")}


def _base_market() -> dict[str, Any]:
    return copy.deepcopy(_load(FIXTURES / "gamma" / "gamma_market_2026-03_btc_updown.json"))


def _broken(**changes: Any) -> dict[str, Any]:
    m = _base_market()
    for key, value in changes.items():
        if value is _DROP:
            del m[key]
        else:
            m[key] = value
    return m


_DROP = object()

MALFORMED = {
    "not an object": (["just", "a", "list"], "not an object"),
    "no conditionId": (_broken(conditionId=_DROP), "conditionId"),
    "bad conditionId": (_broken(conditionId="0x1234"), "malformed conditionId"),
    "outcomes not JSON": (_broken(outcomes="[Yes, No"), "outcomes"),
    "outcome count mismatch": (_broken(outcomes='["Yes", "No", "Maybe"]'), "3 outcomes but 2 clobTokenIds"),
    "token id not numeric": (_broken(clobTokenIds='["0xabc", "12"]'), "malformed token id"),
    "duplicate tokens": (_broken(clobTokenIds='["12", "12"]'), "duplicate clobTokenIds"),
    "book without tokens": (_broken(clobTokenIds=""), "no clobTokenIds"),
    "tick not a number": (_broken(orderPriceMinTickSize="a penny"), "orderPriceMinTickSize"),
    "no question": (_broken(question=""), "no question"),
    "bad end date": (_broken(endDate="someday"), "endDate"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_market_raises_invalid_item_with_reason(name: str) -> None:
    item, reason = MALFORMED[name]
    with pytest.raises(InvalidItem) as info:
        parse_market(item)
    assert reason in info.value.reason


def test_malformed_items_are_skipped_logged_and_counted_never_aborting_the_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = [_broken(conditionId="0x" + f"{i:064x}", clobTokenIds=json.dumps([str(10 + i), str(20 + i)]))
            for i in range(3)]
    bad = [item for item, _ in MALFORMED.values()]
    items = [good[0], *bad[:5], good[1], *bad[5:], good[2]]
    with caplog.at_level(logging.WARNING, logger="polybot.app.gamma.page"):
        page = parse_markets_page(items)
    assert [m.record.condition_id for m in page.markets] == [g["conditionId"] for g in good]
    assert page.invalid == len(MALFORMED)
    reasons = [r.__dict__.get("reason", "") for r in caplog.records]
    assert len(reasons) == len(MALFORMED)
    assert any("3 outcomes but 2 clobTokenIds" in r for r in reasons)
    assert "0x1234" in page.seen_ids  # a market that failed to parse is not "gone"


def test_malformed_event_keeps_its_markets_and_siblings() -> None:
    events = _load(FIXTURES / "gamma" / "gamma_events_list_2026.json")
    broken_event = copy.deepcopy(events[0])
    broken_event["id"] = "99"
    broken_event["tags"] = "not a list"
    broken_event["markets"][0]["clobTokenIds"] = '["1"]'  # one market broken, the other fine
    page = parse_events_page([broken_event, 42, events[0]])
    assert page.invalid == 3  # the event, its broken market, the non-object
    assert [e.record.event_id for e in page.events] == ["30829"]
    assert len(page.markets) == 3
    assert page.markets[0].record.event_id == "99" and page.markets[0].event_tags is None


def test_event_fields() -> None:
    event = parse_event(_load(FIXTURES / "gamma" / "gamma_events_list_2026.json")[0])
    assert event.slug == "democratic-presidential-nominee-2028"
    assert event.end_date is not None and event.end_date.year == 2028


def _recorded_market() -> dict[str, Any]:
    return copy.deepcopy(_load(FIXTURES / "gamma" / "gamma_events_list_2026.json")[0]["markets"][1])


def test_version_and_fee_schedule() -> None:
    raw = _recorded_market()
    assert "version" not in raw
    record, _ = parse_market(raw)
    assert (record.version, record.fee_schedule) == ("v1", None)  # the venue's default, as recorded
    raw.update(version="V2", positionIds=json.dumps(["1", "2"]), feesEnabled=True,
               feeSchedule={"exponent": 2, "rate": 0.0625, "takerOnly": True, "rebateRate": "0.2"})
    record, _ = parse_market(raw)
    assert record.version == "v2" and record.fees_enabled is True
    fees = record.fee_schedule
    assert fees is not None
    assert (fees.exponent, fees.rate, fees.taker_only, fees.rebate_rate) == (
        Decimal(2), Decimal("0.0625"), True, Decimal("0.2"))


@pytest.mark.parametrize(("change", "reason"), [
    ({"version": "latest"}, "malformed version"),
    ({"version": 2}, "invalid market field version"),
    ({"feeSchedule": {"rate": "0.02"}}, "invalid market field feeSchedule"),
])
def test_bad_version_or_fee_schedule_is_an_invalid_item(change: dict[str, Any], reason: str) -> None:
    raw = _recorded_market()
    raw.update(change)
    with pytest.raises(InvalidItem, match=reason):
        parse_market(raw)
