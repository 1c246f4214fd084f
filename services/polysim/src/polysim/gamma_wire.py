"""Gamma's JSON for markets and events, in the recorded key order, with the venue's string-encoded lists.

``outcomes``, ``outcomePrices`` and ``clobTokenIds`` are JSON *strings* holding a list (as the real API sends
them); numbers that Gamma sends as strings (``liquidity``, ``volume`` on markets) stay strings. A market loaded
from a recorded catalog starts from its recorded fields and only the simulated ones are overwritten.

Since 2026 markets also carry ``version`` ("v1"/"v2"), ``positionIds`` (a JSON string, on v2 and some v1
markets) and, when fees are charged, ``feesEnabled: true`` with a ``feeSchedule``. Delisted markets are left
out of their event (``listed_markets``).

A market paying liquidity rewards carries ``rewardsMinSize``, ``rewardsMaxSpread`` (cents) and one
``clobRewards`` entry with its ``rewardsDailyRate``, as recorded; one that pays none: ``[]``, ``0``, ``0``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from polysim.clob_wire import USDC_E, number, token_price
from polysim.units import units_decimal

if TYPE_CHECKING:
    from polysim.book import MarketBook
    from polysim.catalog import SimEvent, SimMarket

_CREATED = "2025-01-01T00:00:00.000000Z"


def _stats(market: SimMarket) -> tuple[float, float]:
    """Deterministic (liquidity, volume) for a market, from its condition id."""
    seed = int(market.condition_id[2:18], 16)
    return 1000 + (seed % 99_000) / 10, 5000 + ((seed >> 20) % 2_000_000) / 10


def market_amounts(market: SimMarket) -> tuple[Decimal, Decimal]:
    """The market's (liquidity, volume) exactly, for filters (the JSON numbers are the same values)."""
    seed = int(market.condition_id[2:18], 16)
    return Decimal(1000) + Decimal(seed % 99_000) / 10, Decimal(5000) + Decimal((seed >> 20) % 2_000_000) / 10


def _best(book: MarketBook | None) -> tuple[Any, Any, Any, Any]:
    if book is None:
        return None, None, None, 0
    bid, ask = book.best(0)
    spread = number(units_decimal(ask - bid)) if bid is not None and ask is not None and ask >= bid else None
    ltp = float(book.ltp) if book.ltp else 0
    return (number(units_decimal(bid)) if bid is not None else None,
            number(units_decimal(ask)) if ask is not None else None, spread, ltp)


def listed_markets(event: SimEvent) -> list[SimMarket]:
    """The event's markets that Gamma still knows (not delisted)."""
    return [m for m in event.markets if not m.delisted]


def fee_schedule(fee_rate_bps: int) -> dict[str, Any] | None:
    """The venue's ``feeSchedule`` for a taker rate in basis points (None: no fees)."""
    if fee_rate_bps <= 0:
        return None
    rate = format((Decimal(fee_rate_bps) / 10_000).normalize(), "f")
    return {"exponent": 1, "rate": rate, "takerOnly": True, "rebateRate": "0.25"}


def event_summary(event: SimEvent) -> dict[str, Any]:
    """The event object without markets (nested in ``/markets`` items and the base of ``/events`` items)."""
    markets = listed_markets(event)
    liquidity = sum(_stats(m)[0] for m in markets)
    volume = sum(_stats(m)[1] for m in markets)
    closed = event.closed or (bool(markets) and all(m.closed for m in markets))
    return {
        "id": event.gamma_id, "ticker": event.slug, "slug": event.slug, "title": event.title,
        "description": f"Simulated event {event.index}.", "resolutionSource": "",
        "startDate": "2025-01-01T00:00:00Z", "creationDate": _CREATED,
        "endDate": markets[0].end_date if markets else "2030-12-31T12:00:00Z", "image": "", "icon": "",
        "active": event.active, "closed": closed, "archived": False, "new": False, "featured": False,
        "restricted": True, "liquidity": round(liquidity, 4), "volume": round(volume, 4), "openInterest": 0,
        "createdAt": _CREATED, "updatedAt": _CREATED, "competitive": 0.9, "volume24hr": round(volume / 50, 4),
        "volume1wk": round(volume / 10, 4), "volume1mo": round(volume / 3, 4), "volume1yr": round(volume, 4),
        "enableOrderBook": True, "liquidityClob": round(liquidity, 4), "negRisk": event.neg_risk,
        **({"negRiskMarketID": event.neg_risk_market_id} if event.neg_risk else {}),
        "commentCount": 0,
    }


def gamma_tags(event: SimEvent) -> list[dict[str, Any]]:
    return [{"id": tid, "label": label, "slug": slug, "forceShow": False, "createdAt": _CREATED,
             "updatedAt": _CREATED, "requiresTranslation": False} for tid, label, slug in event.tags]


def gamma_event(event: SimEvent, books: dict[str, MarketBook], markets: list[SimMarket] | None = None,
                fee_rate_bps: int = 0) -> dict[str, Any]:
    """An ``/events`` item with its nested markets (``markets``: those a filter kept; default all listed)."""
    body = event_summary(event)
    nested = listed_markets(event) if markets is None else markets
    body["markets"] = [gamma_market(m, books.get(m.condition_id), nested=True, fee_rate_bps=fee_rate_bps)
                       for m in nested]
    body["tags"] = gamma_tags(event)
    body.update({"cyom": False, "showAllOutcomes": True, "showMarketImages": True, "enableNegRisk": event.neg_risk,
                 "automaticallyActive": True, "negRiskAugmented": False, "pendingDeployment": False,
                 "deploying": False, "requiresTranslation": False})
    return body


def gamma_market(market: SimMarket, book: MarketBook | None, nested: bool = False,
                 fee_rate_bps: int = 0) -> dict[str, Any]:
    """A ``/markets`` item (``nested``: as inside an event, without the ``events`` back-reference)."""
    liquidity, volume = _stats(market)
    p0, p1 = token_price(market, book, 0), token_price(market, book, 1)
    best_bid, best_ask, spread, ltp = _best(book)
    tick = units_decimal(market.tick_units)
    body: dict[str, Any] = dict(market.extra)
    body.update({
        "id": market.gamma_id, "question": market.question, "conditionId": market.condition_id,
        "slug": market.slug, "resolutionSource": body.get("resolutionSource", ""), "endDate": market.end_date,
        "liquidity": f"{liquidity:.4f}", "startDate": market.start_date, "image": body.get("image", ""),
        "icon": body.get("icon", ""), "description": market.description,
        "outcomes": json.dumps(list(market.outcomes)),
        "outcomePrices": json.dumps([_price_str(p0), _price_str(p1)]),
        "volume": f"{volume:.6f}", "active": market.active, "closed": market.closed,
        "marketMakerAddress": "", "createdAt": market.created_at, "updatedAt": market.created_at,
        "new": False, "featured": False, "archived": market.archived, "restricted": True,
    })
    if market.group_item_title:
        body["groupItemTitle"] = market.group_item_title
    body.update({
        "groupItemThreshold": "0", "questionID": market.question_id, "enableOrderBook": market.enable_order_book,
        "orderPriceMinTickSize": number(tick), "orderMinSize": number(market.min_order_size),
        "volumeNum": volume, "liquidityNum": liquidity, "endDateIso": market.end_date[:10],
        "startDateIso": market.start_date[:10], "hasReviewedDates": True, "volume24hr": round(volume / 50, 6),
        "volume1wk": round(volume / 10, 6), "volume1mo": round(volume / 3, 6), "volume1yr": volume,
        "clobTokenIds": json.dumps(list(market.token_ids)), "version": market.version,
    })
    if market.position_ids:
        body["positionIds"] = json.dumps(list(market.position_ids))
    body.update({
        "volumeClob": volume, "liquidityClob": liquidity,
        "makerBaseFee": 0, "takerBaseFee": 0, "acceptingOrders": market.accepting_orders,
        "negRisk": market.neg_risk,
    })
    if market.neg_risk:
        body["negRiskMarketID"] = market.event.neg_risk_market_id
        body["negRiskRequestID"] = market.question_id
    if not nested:
        summary = event_summary(market.event)
        summary["tags"] = gamma_tags(market.event)
        body["events"] = [summary]
    body.update({
        "ready": False, "funded": False,
        "acceptingOrdersTimestamp": market.start_date if market.accepting_orders else None,
        "cyom": False, "competitive": 0.9, "pagerDutyNotificationEnabled": False, "approved": True,
        **rewards_fields(market), "spread": spread if spread is not None else 1,
        "lastTradePrice": ltp, "bestBid": best_bid if best_bid is not None else 0,
        "bestAsk": best_ask if best_ask is not None else 1, "automaticallyActive": True, "clearBookOnStart": True,
        "showGmpSeries": False, "showGmpOutcome": False, "manualActivation": False, "negRiskOther": False,
        "umaResolutionStatuses": "[]", "pendingDeployment": False, "deploying": False, "rfqEnabled": False,
        "holdingRewardsEnabled": False, "feesEnabled": fee_rate_bps > 0,
    })
    schedule = fee_schedule(fee_rate_bps)
    if schedule is not None:
        body["feeSchedule"] = schedule
    body["requiresTranslation"] = False
    return body


def rewards_fields(market: SimMarket) -> dict[str, Any]:
    """``clobRewards``, ``rewardsMinSize``, ``rewardsMaxSpread`` of a market (a recording's entries kept)."""
    size, spread, rate = market.rewards_min_size, market.rewards_max_spread, market.rewards_daily_rate
    if size is None or spread is None or rate is None:
        return {"clobRewards": [], "rewardsMinSize": 0, "rewardsMaxSpread": 0}
    recorded = market.extra.get("clobRewards")
    entries = recorded if recorded else [{
        "id": str(80000 + market.index), "conditionId": market.condition_id, "assetAddress": USDC_E,
        "rewardsAmount": 0, "rewardsDailyRate": number(rate), "startDate": market.start_date[:10],
        "endDate": "2500-12-31"}]
    return {"clobRewards": entries, "rewardsMinSize": number(size), "rewardsMaxSpread": number(spread)}


def _price_str(value: int | float) -> str:
    text = format(Decimal(str(value)).normalize(), "f")
    return text


