"""The pure parts of ``polybot market-trade``: which polymarket.com URLs name what, picking one market, the
checks an order passes before it is sent, and the fake gateway's IOC (never resting)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from polybot.domain.manual_order import ManualOrder, MarketTerms, close_size_problem, order_problems
from polybot.venue.market_lookup import (
    AmbiguousMarket,
    MarketInfo,
    MarketLookupError,
    MarketRef,
    Outcome,
    only_market,
    parse_market_url,
    pick_outcome,
)
from polybot.venue.order_gateway import OrderRequest
from polybot.venue.order_gateway_fake import FakeGateway

D = Decimal
TERMS = MarketTerms(tick_size=D("0.01"), min_order_size=D(5), accepting_orders=True, closed=False)


@pytest.mark.parametrize(("url", "ref"), [
    ("https://polymarket.com/event/fed-june", MarketRef("event", "fed-june", None)),
    ("https://polymarket.com/event/fed-june/", MarketRef("event", "fed-june", None)),
    ("https://www.polymarket.com/event/fed-june/cut-25?tid=123#c", MarketRef("market", "fed-june", "cut-25")),
    ("polymarket.com/market/cut-25", MarketRef("market", None, "cut-25")),
    ("http://POLYMARKET.com/market/cut-25?x=1", MarketRef("market", None, "cut-25")),
])
def test_site_urls_name_an_event_or_a_market(url: str, ref: MarketRef) -> None:
    assert parse_market_url(url) == ref


@pytest.mark.parametrize(("url", "words"), [
    ("https://polymarket.co/event/x", "not a polymarket.com URL"),
    ("https://evil.com/polymarket.com/event/x", "not a polymarket.com URL"),
    ("ftp://polymarket.com/event/x", "not a polymarket.com URL"),
    ("https://polymarket.com/", "names no event or market"),
    ("https://polymarket.com/event/a/b/c", "names no event or market"),
    ("https://polymarket.com/sports/nba", "names no event or market"),
    ("https://polymarket.com:99999/event/x", "is not a URL"),
])
def test_other_urls_are_refused_before_any_request(url: str, words: str) -> None:
    with pytest.raises(MarketLookupError, match=words):
        parse_market_url(url)


def market(slug: str, question: str) -> MarketInfo:
    return MarketInfo(slug, question, f"0x{slug}", "ev", (Outcome("Yes", "1"), Outcome("No", "2")), D("0.01"), D(5),
                      True, True, False, False)


def test_one_market_or_the_candidates_by_slug() -> None:
    a, b = market("a", "Rate cut of 25 bps?"), market("b", "Rate cut of 50 bps?")
    assert only_market("x", [a]) == a
    assert only_market("--query", [a, b], "50 BPS") == b  # the words name one of the group
    with pytest.raises(AmbiguousMarket, match=r"matches 2 markets: ev/a \(Rate cut of 25 bps\?\), ev/b") as err:
        only_market("--query 'rate cut'", [a, b], "rate cut")
    assert err.value.candidates == [a, b]
    with pytest.raises(MarketLookupError, match="matches no market"):
        only_market("--query 'zzz'", [], "zzz")
    assert pick_outcome(a, None).label == "Yes" and pick_outcome(a, "NO").token_id == "2"
    with pytest.raises(MarketLookupError, match="outcomes are Yes, No"):
        pick_outcome(a, "maybe")


@pytest.mark.parametrize(("order", "terms", "words"), [
    (ManualOrder("BUY", D("0.355"), D(5)), TERMS, "off the market's tick 0.01: use 0.35 or 0.36"),
    (ManualOrder("BUY", D("0"), D(5)), TERMS, "outside (0, 1)"),
    (ManualOrder("SELL", D("1"), D(5)), TERMS, "outside (0, 1)"),
    (ManualOrder("BUY", D("0.4"), D("4.99")), TERMS, "below the market's minimum order size 5"),
    (ManualOrder("BUY", D("0.4"), D(5)), MarketTerms(D("0.01"), D(5), True, closed=True), "market is closed"),
    (ManualOrder("BUY", D("0.4"), D(5)), MarketTerms(D("0.01"), D(5), False, False), "not accepting orders"),
    (ManualOrder("BUY", D("0.4"), D(5), close_price=D("0.4")), TERMS, "at or below the buy price"),
    (ManualOrder("SELL", D("0.4"), D(5), close_price=D("0.41")), TERMS, "at or above the sell price"),
    (ManualOrder("SELL", D("0.4"), D(5), close_price=D("0.395")), TERMS, "--close-price 0.395 is off"),
])
def test_each_bad_order_is_named(order: ManualOrder, terms: MarketTerms, words: str) -> None:
    problems = order_problems(order, terms)
    assert len(problems) == 1 and words in problems[0], problems


def test_good_orders_pass_and_force_allows_a_losing_close() -> None:
    assert order_problems(ManualOrder("BUY", D("0.35"), D(5), close_price=D("0.4")), TERMS) == []
    assert order_problems(ManualOrder("SELL", D("0.35"), D(5), close_price=D("0.3")), TERMS) == []
    assert order_problems(ManualOrder("BUY", D("0.35"), D(5), close_price=D("0.3"), force=True), TERMS) == []
    assert close_size_problem(D(5), TERMS) is None
    assert "nothing filled" in (close_size_problem(D(0), TERMS) or "")
    assert "below the market's minimum" in (close_size_problem(D("4.5"), TERMS) or "")


async def test_the_fake_gateway_never_rests_an_ioc() -> None:
    gw = FakeGateway(ioc_fills=[D(3)])
    req = OrderRequest("c1", "m", "a", "BUY", D("0.5"), D(5), D("0.01"), order_type="FAK", post_only=False)
    part, none = await gw.place([req, req])
    assert (part.status, part.size_matched) == ("matched", D(3)) and part.order_id
    assert none.status == "rejected" and (none.error or "").startswith("fak_not_filled") and none.order_id
    assert gw.resting == {}
