"""Polysim's authenticated CLOB REST routes: API keys (L1), orders, cancels, listings, heartbeats (L2).

Paths, bodies and answers are the ones py-clob-client-v2 1.2.1, py-clob-client 0.34.6 and the unified SDK
polymarket-client 0.14.0 use (protocol note §3.3, §7, §8). Every L2 route verifies the HMAC over the exact body
bytes received before doing anything; errors are ``{"error": "..."}`` with the venue's status codes. Order and
cancel routes go through ``trading_gates`` (engine restart 425, per-signer token buckets with the
``Poly-RateLimit-*`` headers, the post-only window); ``GET /v1/user/rate-limit-tier`` answers the signer's tier.
``GET /relayer/deployed`` is the relayer's wallet check the unified SDK makes before trading from a proxy, Safe
or deposit wallet: every wallet counts as deployed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from polysim import trading_gates as gates
from polysim.auth import ApiCreds, AuthError
from polysim.engine_restart import POST_ONLY_MODE
from polysim.trading_orders import INVALID_PAYLOAD, batch_item, is_post_only, place_one, post_only_mode_item
from polysim.trading_state import TradingState, state_of
from polysim.trading_wire import END_CURSOR, order_json, page, trade_json

Handler = Callable[[TradingState, ApiCreds, str, Request], Awaitable[Response]]
MAX_BATCH_ERROR = "Too many orders in payload: {n}, max allowed: {m}"
INVALID_HEARTBEAT = "Invalid Heartbeat ID"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _json(body: str) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return _INVALID


_INVALID = object()


def _creds_json(creds: ApiCreds) -> dict[str, str]:
    return {"apiKey": creds.api_key, "secret": creds.secret, "passphrase": creds.passphrase}


def _cancel_json(result: tuple[list[str], dict[str, str]]) -> JSONResponse:
    canceled, not_canceled = result
    return JSONResponse({"canceled": canceled, "not_canceled": not_canceled})


def build_private_router(ctx: Any) -> APIRouter:
    """The authenticated CLOB routes, bound to ``ctx`` (a ``SimContext``)."""
    state = state_of(ctx)
    router = APIRouter()

    def l2(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            body = (await request.body()).decode("utf-8", errors="replace")
            try:
                creds = state.creds.verify_l2(
                    request.headers, request.method, request.url.path, body, state.wall_s()
                )
            except AuthError as exc:
                return _error(exc.status, exc.message)
            state.exchange.ensure_account(creds.api_key, creds.address)
            return await handler(state, creds, body, request)

        return endpoint

    # ---- L1: API credentials -------------------------------------------------------------------------------
    async def create_api_key(request: Request) -> Response:
        try:
            address, nonce = state.creds.verify_l1(request.headers, state.wall_s())
            creds = state.creds.create(address, nonce)
        except AuthError as exc:
            return _error(exc.status, exc.message)
        state.exchange.ensure_account(creds.api_key, creds.address)
        return JSONResponse(_creds_json(creds))

    async def derive_api_key(request: Request) -> Response:
        try:
            address, nonce = state.creds.verify_l1(request.headers, state.wall_s())
            creds = state.creds.derive(address, nonce)
        except AuthError as exc:
            return _error(exc.status, exc.message)
        state.exchange.ensure_account(creds.api_key, creds.address)
        return JSONResponse(_creds_json(creds))

    router.add_api_route("/auth/api-key", create_api_key, methods=["POST"])
    router.add_api_route("/auth/derive-api-key", derive_api_key, methods=["GET"])

    async def api_keys(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        # The venue lists every key of the signer, not only the one that signed the request.
        return JSONResponse({"apiKeys": state.creds.keys_of(creds.address) or [creds.api_key]})

    async def closed_only(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        return JSONResponse({"closed_only": False})

    router.add_api_route("/auth/api-keys", l2(api_keys), methods=["GET"])
    router.add_api_route("/auth/ban-status/closed-only", l2(closed_only), methods=["GET"])

    # ---- orders (each through the gates: engine restart, signer bucket, post-only window) ---------------------
    async def post_order(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        if (down := gates.restarting(state)) is not None:
            return down
        item = _json(body)
        if item is _INVALID or not isinstance(item, dict):
            return _error(400, INVALID_PAYLOAD)
        verdict = gates.charge(state, creds, "order", 1)
        if (too_many := gates.refused(verdict)) is not None:
            return too_many
        if gates.post_only_window(state) and not is_post_only(item):
            return gates.with_headers(gates.post_only_refusal(state), verdict)
        placed = place_one(state, creds, item)
        return gates.with_headers(JSONResponse(placed.body, status_code=placed.status), verdict)

    async def post_orders(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        if (down := gates.restarting(state)) is not None:
            return down
        items = _json(body)
        if items is _INVALID or not isinstance(items, list):
            return _error(400, INVALID_PAYLOAD)
        limit = state.config.max_batch_orders
        if len(items) > limit:
            return _error(400, MAX_BATCH_ERROR.format(n=len(items), m=limit))
        verdict = gates.charge(state, creds, "order", len(items)) if items else None
        if (too_many := gates.refused(verdict)) is not None:
            return too_many  # refused whole: no entry is processed
        post_only_mode = gates.post_only_window(state)
        answers = [
            post_only_mode_item(POST_ONLY_MODE) if post_only_mode and not is_post_only(item)
            else batch_item(place_one(state, creds, item))
            for item in items
        ]
        return gates.with_headers(JSONResponse(answers), verdict)

    async def cancel_order(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        if (down := gates.restarting(state)) is not None:
            return down
        payload = _json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("orderID"), str):
            return _error(400, INVALID_PAYLOAD)
        verdict = gates.charge(state, creds, "cancel", 1)
        if (too_many := gates.refused(verdict)) is not None:
            return too_many
        result = state.exchange.cancel(creds.api_key, [payload["orderID"]], state.now_ms())
        return gates.with_headers(_cancel_json(result), verdict)

    async def cancel_orders(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        if (down := gates.restarting(state)) is not None:
            return down
        ids = _json(body)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return _error(400, INVALID_PAYLOAD)
        if len(ids) > state.config.max_cancel_ids:
            return _error(400, f"Too many orders in payload, max allowed: {state.config.max_cancel_ids}")
        verdict = gates.charge(state, creds, "cancel", len(ids)) if ids else None
        if (too_many := gates.refused(verdict)) is not None:
            return too_many
        result = state.exchange.cancel(creds.api_key, list(ids), state.now_ms())
        return gates.with_headers(_cancel_json(result), verdict)

    async def cancel_every(state: TradingState, creds: ApiCreds, market: str | None, asset_id: str | None
                           ) -> Response:
        verdict = gates.charge(state, creds, "cancel", 1)
        if (too_many := gates.refused(verdict)) is not None:
            return too_many
        result = state.exchange.cancel_all(creds.api_key, state.now_ms(), market=market, asset_id=asset_id)
        return gates.with_headers(_cancel_json(result), gates.charge_canceled(state, creds, len(result[0]), verdict))

    async def cancel_all(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        if (down := gates.restarting(state)) is not None:
            return down
        return await cancel_every(state, creds, None, None)

    async def cancel_market(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        if (down := gates.restarting(state)) is not None:
            return down
        payload = _json(body)
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            return _error(400, INVALID_PAYLOAD)
        return await cancel_every(state, creds, payload.get("market") or None, payload.get("asset_id") or None)

    router.add_api_route("/order", l2(post_order), methods=["POST"])
    router.add_api_route("/orders", l2(post_orders), methods=["POST"])
    router.add_api_route("/order", l2(cancel_order), methods=["DELETE"])
    router.add_api_route("/orders", l2(cancel_orders), methods=["DELETE"])
    router.add_api_route("/cancel-all", l2(cancel_all), methods=["DELETE"])
    router.add_api_route("/cancel-market-orders", l2(cancel_market), methods=["DELETE"])

    # ---- listings --------------------------------------------------------------------------------------------
    async def data_orders(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        q = request.query_params
        views = state.exchange.orders(
            creds.api_key, market=q.get("market") or None, asset_id=q.get("asset_id") or None,
            order_id=q.get("id") or None,
        )
        try:
            rows = [order_json(v) for v in views]
            return JSONResponse(page(rows, q.get("next_cursor"), state.config.orders_page_size))
        except ValueError:
            return _error(400, "invalid order params payload")

    async def data_order(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        view = state.exchange.order(creds.api_key, request.path_params["order_id"])
        if view is None:
            return _error(404, "order not found")
        return JSONResponse(order_json(view))

    async def data_trades(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        q = request.query_params
        trades = state.exchange.trades(
            creds.api_key, market=q.get("market") or None, asset_id=q.get("asset_id") or None
        )
        try:
            after = int(q["after"]) if q.get("after") else None
            before = int(q["before"]) if q.get("before") else None
        except ValueError:
            return _error(400, "Invalid trade params payload")
        wanted_id = q.get("id") or None
        maker = (q.get("maker_address") or "").lower()
        rows = []
        for t in trades:
            if wanted_id and t.trade_id != wanted_id:
                continue
            if after is not None and t.match_time_s <= after:
                continue
            if before is not None and t.match_time_s >= before:
                continue
            if maker and not any(m.maker_address.lower() == maker for m in t.maker_orders):
                continue
            rows.append(trade_json(t, creds.api_key))
        try:
            return JSONResponse(page(rows, q.get("next_cursor"), state.config.trades_page_size))
        except ValueError:
            return _error(400, "Invalid trade params payload")

    async def pre_migration_orders(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        return JSONResponse({"data": [], "next_cursor": END_CURSOR, "limit": state.config.orders_page_size, "count": 0})

    router.add_api_route("/data/orders", l2(data_orders), methods=["GET"])
    router.add_api_route("/data/order/{order_id}", l2(data_order), methods=["GET"])
    router.add_api_route("/data/trades", l2(data_trades), methods=["GET"])
    router.add_api_route("/data/pre-migration-orders", l2(pre_migration_orders), methods=["GET"])

    # ---- heartbeats, balances, odds and ends -----------------------------------------------------------------
    async def heartbeat(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        payload = _json(body)
        if payload is _INVALID or not (payload is None or isinstance(payload, dict)):
            return _error(400, "Invalid heartbeat payload")
        sent = (payload or {}).get("heartbeat_id") or ""
        if not isinstance(sent, str):
            return _error(400, "Invalid heartbeat payload")
        accepted, heartbeat_id = state.heartbeats.beat(creds.api_key, sent)
        if not accepted:
            return JSONResponse({"error": INVALID_HEARTBEAT, "error_msg": INVALID_HEARTBEAT,
                                 "heartbeat_id": heartbeat_id}, status_code=400)
        return JSONResponse({"status": "ok", "heartbeat_id": heartbeat_id})

    async def rate_limit_tier(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        return JSONResponse(gates.tier_json(state, creds))

    async def balance_allowance(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        q = request.query_params
        asset_type = (q.get("asset_type") or "COLLATERAL").upper()
        if asset_type not in ("COLLATERAL", "CONDITIONAL"):
            return _error(400, "Invalid asset type")
        token_id = q.get("token_id") if asset_type == "CONDITIONAL" else None
        if asset_type == "CONDITIONAL" and not token_id:
            return _error(400, "Invalid asset type")
        balance = _balance(state, creds.api_key, token_id)
        micro = str(int(balance * 1_000_000))
        unlimited = str((1 << 256) - 1)
        contracts = _allowance_spenders(state)
        return JSONResponse({"balance": micro, "allowances": {c: unlimited for c in contracts}})

    async def order_scoring(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        return JSONResponse({"scoring": False})

    async def orders_scoring(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        ids = _json(body)
        if not isinstance(ids, list):
            return _error(400, INVALID_PAYLOAD)
        return JSONResponse({str(i): False for i in ids})

    async def notifications(state: TradingState, creds: ApiCreds, body: str, request: Request) -> Response:
        return JSONResponse([] if request.method == "GET" else "OK")

    router.add_api_route("/v1/heartbeats", l2(heartbeat), methods=["POST"])
    router.add_api_route("/v1/user/rate-limit-tier", l2(rate_limit_tier), methods=["GET"])
    router.add_api_route("/balance-allowance", l2(balance_allowance), methods=["GET"])
    router.add_api_route("/balance-allowance/update", l2(balance_allowance), methods=["GET"])
    router.add_api_route("/order-scoring", l2(order_scoring), methods=["GET"])
    router.add_api_route("/orders-scoring", l2(orders_scoring), methods=["POST"])
    router.add_api_route("/notifications", l2(notifications), methods=["GET", "DELETE"])

    async def relayer_deployed(request: Request) -> Response:
        if not request.query_params.get("address"):
            return _error(400, "address is required")
        return JSONResponse({"deployed": True})

    router.add_api_route("/relayer/deployed", relayer_deployed, methods=["GET"])
    return router


def _balance(state: TradingState, owner: str, token_id: str | None) -> Decimal:
    balance = getattr(state.exchange, "balance", None)
    if balance is None:
        return Decimal(0)
    return Decimal(balance(owner, token_id))


def _allowance_spenders(state: TradingState) -> list[str]:
    from polysim.order_signing import CONTRACTS

    contracts = CONTRACTS.get(state.chain_id) or CONTRACTS[137]
    return [contracts.exchange_v2, contracts.neg_risk_exchange_v2]
