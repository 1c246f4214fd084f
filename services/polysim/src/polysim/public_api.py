"""The CLOB's public REST routes (no auth), as py-clob-client and py-clob-client-v2 call them.

Errors are ``{"error": "..."}`` with the venue's status codes: 400 for a missing or malformed parameter,
404 ``"No orderbook exists for the requested token id"`` for an unknown token.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from polysim.clob_wire import book_json, clob_market, clob_market_info, mid_text, simplified_market, tick_json
from polysim.units import PRICE_TEXT

if TYPE_CHECKING:
    from polysim.book import MarketBook
    from polysim.catalog import SimMarket
    from polysim.context import SimContext

NO_BOOK = "No orderbook exists for the requested token id"
END_CURSOR = "LTE="
MARKETS_PAGE = 100


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _raw(text: str) -> Response:
    return Response(text, media_type="application/json")


def encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    """Offset of a ``next_cursor`` (``MA==`` is 0); None when malformed."""
    if not cursor:
        return 0
    try:
        offset = int(base64.b64decode(cursor, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return offset if offset >= 0 else None


def build_public_router(ctx: SimContext) -> APIRouter:
    """The public CLOB routes bound to ``ctx``."""
    engine = ctx.engine
    catalog = ctx.catalog
    router = APIRouter()

    def token_book(token_id: str | None) -> tuple[MarketBook, int] | None:
        if not token_id:
            return None
        engine.step(ctx.clock.now_ms())
        return engine.token_book(token_id)

    def best_texts(book: MarketBook, ti: int) -> tuple[str, str]:
        bid, ask = book.best(ti)
        return ("0" if bid is None else PRICE_TEXT[bid]), ("0" if ask is None else PRICE_TEXT[ask])

    def spread_text(book: MarketBook, ti: int) -> str:
        bid, ask = book.best(ti)
        if bid is None or ask is None:
            return "0"
        return PRICE_TEXT[ask - bid] if ask >= bid else "0"

    def last_trade(book: MarketBook, ti: int) -> dict[str, str]:
        if book.last_trade is None:
            return {"price": "0.5", "side": ""}
        t_index, side, price, _ = book.last_trade
        if t_index != ti:  # the same print seen from the complement
            return {"price": PRICE_TEXT[10_000 - price], "side": "SELL" if side == "BUY" else "BUY"}
        return {"price": PRICE_TEXT[price], "side": side}

    async def ok() -> JSONResponse:
        return JSONResponse("OK")

    async def server_time() -> Response:
        # Wall-clock seconds: clients sign auth headers with this, and the trading side checks them against it.
        return _raw(str(int(time.time())))

    async def version() -> JSONResponse:
        return JSONResponse({"version": 2})

    async def get_book(request: Request) -> Response:
        token_id = request.query_params.get("token_id")
        if not token_id:
            return error(400, "Invalid payload")
        found = token_book(token_id)
        if found is None:
            return error(404, NO_BOOK)
        return _raw(book_json(*found, engine.faults.hash_layout))

    async def post_books(request: Request) -> Response:
        items = await _body_list(request)
        if items is None:
            return error(400, "Invalid payload")
        out = []
        for item in items:
            found = token_book(str(item.get("token_id", "")))
            if found is not None:
                out.append(book_json(*found, engine.faults.hash_layout))
        return _raw("[" + ",".join(out) + "]")

    def per_token(request_side: bool, fn: Callable[[MarketBook, int, str], Any]) -> Callable[..., Any]:
        async def handler(request: Request) -> Response:
            q = request.query_params
            found = token_book(q.get("token_id"))
            if not q.get("token_id"):
                return error(400, "Invalid payload")
            if found is None:
                return error(404, NO_BOOK)
            side = (q.get("side") or "").upper()
            if request_side and side not in ("BUY", "SELL"):
                return error(400, "Invalid side")
            return JSONResponse(fn(found[0], found[1], side))

        return handler

    def batch(fn: Callable[[MarketBook, int, str], Any], with_side: bool) -> Callable[..., Any]:
        async def handler(request: Request) -> Response:
            items = await _body_list(request)
            if items is None:
                return error(400, "Invalid payload")
            out: dict[str, Any] = {}
            for item in items:
                token_id = str(item.get("token_id", ""))
                found = token_book(token_id)
                if found is None:
                    continue
                side = str(item.get("side", "")).upper()
                if with_side:
                    if side not in ("BUY", "SELL"):
                        return error(400, "Invalid side")
                    out.setdefault(token_id, {})[side] = fn(found[0], found[1], side)
                else:
                    out[token_id] = fn(found[0], found[1], side)
            return JSONResponse(out)

        return handler

    def price_of(book: MarketBook, ti: int, side: str) -> str:
        bid, ask = best_texts(book, ti)
        return bid if side == "BUY" else ask

    async def tick_size(request: Request) -> Response:
        market = _market_of(catalog, request.query_params.get("token_id"))
        if market is None:
            return error(404 if request.query_params.get("token_id") else 400, NO_BOOK)
        return _raw(tick_json(market))

    async def neg_risk(request: Request) -> Response:
        market = _market_of(catalog, request.query_params.get("token_id"))
        if market is None:
            return error(404 if request.query_params.get("token_id") else 400, NO_BOOK)
        return JSONResponse({"neg_risk": market.neg_risk})

    async def fee_rate(request: Request) -> Response:
        return JSONResponse({"base_fee": ctx.config.fee_rate_bps})

    async def last_trades_prices(request: Request) -> Response:
        items = await _body_list(request)
        if items is None:
            return error(400, "Invalid payload")
        out = []
        for item in items:
            token_id = str(item.get("token_id", ""))
            found = token_book(token_id)
            if found is not None:
                out.append({"token_id": token_id, **last_trade(*found)})
        return JSONResponse(out)

    def paged(render: Callable[[SimMarket], dict[str, Any]]) -> Callable[..., Any]:
        async def handler(request: Request) -> Response:
            offset = decode_cursor(request.query_params.get("next_cursor"))
            if offset is None:
                return error(400, "invalid next_cursor")
            markets = catalog.markets[offset : offset + MARKETS_PAGE]
            end = offset + len(markets)
            data = [render(m) for m in markets]
            nxt = encode_cursor(end) if end < len(catalog.markets) else END_CURSOR
            return JSONResponse({"data": data, "next_cursor": nxt, "limit": MARKETS_PAGE, "count": len(data)})

        return handler

    def full(m: SimMarket) -> dict[str, Any]:
        return clob_market(m, engine.books.get(m.condition_id))

    def simple(m: SimMarket) -> dict[str, Any]:
        return simplified_market(m, engine.books.get(m.condition_id))

    async def market(condition_id: str) -> Response:
        m = catalog.by_condition.get(condition_id)
        if m is None:
            return error(404, "market not found")
        return JSONResponse(full(m))

    async def clob_market_route(condition_id: str) -> Response:
        m = catalog.by_condition.get(condition_id)
        if m is None:
            return error(404, "market not found")
        return JSONResponse(clob_market_info(m))

    async def market_by_token(token_id: str) -> Response:
        token = catalog.by_token.get(token_id)
        if token is None:
            return error(404, "market not found")
        m = token.market
        return JSONResponse({"condition_id": m.condition_id, "primary_token_id": m.token_ids[0],
                             "secondary_token_id": m.token_ids[1]})

    async def prices_history() -> Response:
        return JSONResponse({"history": []})

    r = router.add_api_route
    r("/", ok, methods=["GET"])
    r("/ok", ok, methods=["GET"])
    r("/time", server_time, methods=["GET"])
    r("/version", version, methods=["GET"])
    r("/book", get_book, methods=["GET"])
    r("/books", post_books, methods=["POST"])
    r("/price", per_token(True, lambda b, ti, s: {"price": price_of(b, ti, s)}), methods=["GET"])
    r("/prices", batch(price_of, True), methods=["POST"])
    r("/midpoint", per_token(False, lambda b, ti, _s: {"mid": mid_text(b, ti)}), methods=["GET"])
    r("/midpoints", batch(lambda b, ti, _s: mid_text(b, ti), False), methods=["POST"])
    r("/spread", per_token(False, lambda b, ti, _s: {"spread": spread_text(b, ti)}), methods=["GET"])
    r("/spreads", batch(lambda b, ti, _s: spread_text(b, ti), False), methods=["POST"])
    r("/last-trade-price", per_token(False, lambda b, ti, _s: last_trade(b, ti)), methods=["GET"])
    r("/last-trades-prices", last_trades_prices, methods=["POST"])
    r("/tick-size", tick_size, methods=["GET"])
    r("/neg-risk", neg_risk, methods=["GET"])
    r("/fee-rate", fee_rate, methods=["GET"])
    r("/markets", paged(full), methods=["GET"])
    r("/sampling-markets", paged(full), methods=["GET"])
    r("/simplified-markets", paged(simple), methods=["GET"])
    r("/sampling-simplified-markets", paged(simple), methods=["GET"])
    r("/markets/{condition_id}", market, methods=["GET"])
    r("/clob-markets/{condition_id}", clob_market_route, methods=["GET"])
    r("/markets-by-token/{token_id}", market_by_token, methods=["GET"])
    r("/prices-history", prices_history, methods=["GET"])
    return router


def _market_of(catalog: Any, token_id: str | None) -> SimMarket | None:
    if not token_id:
        return None
    token = catalog.by_token.get(token_id)
    return None if token is None else token.market


async def _body_list(request: Request) -> list[dict[str, Any]] | None:
    try:
        body = json.loads(await request.body() or b"[]")
    except ValueError:
        return None
    if not isinstance(body, list) or not all(isinstance(i, dict) for i in body):
        return None
    return body

