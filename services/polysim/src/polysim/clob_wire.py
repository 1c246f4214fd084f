"""CLOB REST shapes: ``/book`` (10 keys, F10 order), market objects (snake_case, as ``/markets`` sends them)
and the py-clob-client-v2 compact market info (``/clob-markets``)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from polysim.units import ONE, PRICE_TEXT, units_decimal

if TYPE_CHECKING:
    from polysim.book import HashLayoutName, MarketBook
    from polysim.catalog import SimMarket

USDC_E = "0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174"


def number(value: Decimal) -> int | float:
    """A Decimal as the JSON number the venue sends (``5``, ``0.01``); for serialization only."""
    return int(value) if value == value.to_integral_value() else float(value)


def book_json(book: MarketBook, token_index: int, layout: HashLayoutName = "F10") -> str:
    """``GET /book``: market, asset_id, timestamp, hash, bids, asks, min_order_size, tick_size, neg_risk,
    last_trade_price — exactly the F10 payload with its hash (in ``layout``, the fault's) filled in."""
    ts = str(book.updated_ms)
    payload = book.hash_payload(token_index, ts)
    digest = book.hash(token_index, ts, layout)
    return payload.replace('"hash":""', '"hash":"' + digest + '"', 1)


def mid_units2(book: MarketBook, token_index: int) -> int | None:
    """Twice the midpoint in price units (keeps half ticks exact), None without both sides."""
    bid, ask = book.best(token_index)
    if bid is None or ask is None:
        return None
    return bid + ask


def mid_text(book: MarketBook, token_index: int) -> str:
    twice = mid_units2(book, token_index)
    if twice is None:
        return "0"
    return _normalized(Decimal(twice) / (2 * ONE))


def _normalized(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def token_price(market: SimMarket, book: MarketBook | None, token_index: int) -> int | float:
    """The price shown on a market's token: the book's midpoint, else the starting fair value."""
    if book is not None:
        twice = mid_units2(book, token_index)
        if twice is not None:
            return number(Decimal(twice) / (2 * ONE))
    fair = round(market.initial_fair, 4)
    return fair if token_index == 0 else round(1 - fair, 4)


def clob_market(market: SimMarket, book: MarketBook | None) -> dict[str, Any]:
    """A CLOB market object in the key order of the recorded ``GET /markets/{condition_id}``."""
    event = market.event
    return {
        "enable_order_book": market.enable_order_book,
        "active": market.active,
        "closed": market.closed,
        "archived": market.archived,
        "accepting_orders": market.accepting_orders,
        "accepting_order_timestamp": market.start_date if market.accepting_orders else None,
        "minimum_order_size": number(market.min_order_size),
        "minimum_tick_size": number(units_decimal(market.tick_units)),
        "condition_id": market.condition_id,
        "question_id": market.question_id,
        "question": market.question,
        "description": market.description,
        "market_slug": market.slug,
        "end_date_iso": market.end_date,
        "game_start_time": None,
        "seconds_delay": 0,
        "fpmm": "",
        "maker_base_fee": 0,
        "taker_base_fee": 0,
        "notifications_enabled": True,
        "neg_risk": market.neg_risk,
        "neg_risk_market_id": event.neg_risk_market_id if market.neg_risk else "",
        "neg_risk_request_id": market.question_id if market.neg_risk else "",
        "icon": "",
        "image": "",
        "rewards": clob_rewards(market),
        "is_50_50_outcome": False,
        "tokens": [
            {"token_id": t.token_id, "outcome": t.outcome, "price": token_price(market, book, t.index),
             "winner": False}
            for t in market.tokens
        ],
        "tags": [label for _, label, _ in event.tags],
    }


def clob_rewards(market: SimMarket) -> dict[str, Any]:
    """The CLOB's ``rewards`` object: ``{rates, min_size, max_spread}`` (cents), as recorded."""
    size, spread, rate = market.rewards_min_size, market.rewards_max_spread, market.rewards_daily_rate
    if size is None or spread is None or rate is None:
        return {"rates": None, "min_size": 0, "max_spread": 0}
    return {"rates": [{"asset_address": USDC_E, "rewards_daily_rate": number(rate)}], "min_size": number(size),
            "max_spread": number(spread)}


def simplified_market(market: SimMarket, book: MarketBook | None) -> dict[str, Any]:
    """An item of ``/simplified-markets``."""
    full = clob_market(market, book)
    keys = ("condition_id", "rewards", "tokens", "active", "closed", "archived", "accepting_orders")
    return {k: full[k] for k in keys}


def clob_market_info(market: SimMarket) -> dict[str, Any]:
    """``GET /clob-markets/{condition_id}`` as py-clob-client-v2 reads it: tokens ``t``, tick ``mts``,
    neg risk ``nr``, fee data ``fd``."""
    return {
        "t": [{"t": t.token_id, "o": t.outcome} for t in market.tokens],
        "mts": number(units_decimal(market.tick_units)),
        "nr": market.neg_risk,
        "fd": {"r": 0, "e": 0},
    }


def tick_json(market: SimMarket) -> str:
    return '{"minimum_tick_size":' + PRICE_TEXT[market.tick_units] + "}"
