"""The market side's ``/_sim`` admin routes (tests, demos, chaos drills). Never part of the venue's API.

* ``GET /_sim/state``: seed, clock, counts, and ``"open_orders": {api_key: n}``, the live orders of every API key
  that ever placed one (an outside view of what the venue holds, for tests and drills).
* ``POST /_sim/markets/{condition_id}``: a JSON patch of market fields, Gamma or CLOB names (``question``,
  ``closed``, ``active``, ``acceptingOrders``, ``orderMinSize``, ``orderPriceMinTickSize``, ``version``…);
  changes the Gamma and CLOB views together. Answers the CLOB market object.
* ``DELETE /_sim/markets/{condition_id}``: delists the market from Gamma (every Gamma view forgets it, its
  CLOB side stays); ``{"delisted": condition_id}``, 404 when unknown.
* ``POST /_sim/gamma/events``: ``{"markets": n, "neg_risk": false}`` (1 ≤ n ≤ 50; optional ``"version"``)
  lists a new event of n new markets, ids above every existing one, with books; answers
  ``{"event_id": …, "condition_ids": [...]}`` (see ``gamma_admin``).
* ``POST /_sim/faults``: market-side faults, any of ``{"drop_sockets": true, "silent_s": 5,
  "drop_next_delta": [asset_id…], "corrupt_next_hash": [asset_id…], "corrupt_hashes": [asset_id…] (every websocket hash
  of those assets wrong until set again; ``[]`` ends it), "tick_size": {"asset_id" | "market": …,
  "tick_size": "0.001"}, "gamma_cursor_stuck": true, "hash_layout": "F9", "clear": true}``.
  ``gamma_cursor_stuck`` makes Gamma's keyset listings ignore ``after_cursor`` (page 1 again, same
  ``next_cursor``) until set false or cleared. ``hash_layout`` (``F5b``, ``F6``, ``F9`` or ``F10``, the names
  of ``polybot.domain.book_hash.HashLayout``) switches the layout of every hash sent from then on —
  websocket books, ``price_change`` entries, REST ``/book`` — as the venue did four times (400 for another
  name); ``clear`` goes back to F10. ``clear`` runs first, so ``{"clear": true, "hash_layout": "F6"}`` is a
  clean F6. ``GET /_sim/faults`` shows the pending ones and the current ``hash_layout``.
  Trading faults of the matching engine, in the same body:
  ``"engine_restart": {"in_s": 0, "down_s": 90, "post_only_s": 120}`` schedules a restart (``in_s`` from now):
  for ``down_s`` every order and cancel request is answered HTTP 425, then for ``post_only_s`` only post-only
  orders and cancels are accepted (``engine_restart``); ``"engine_restart": null`` calls it off.
  ``"fail_next_trades": n``: the next n trades of accounts settle MATCHED → RETRYING → FAILED instead of
  MINED → CONFIRMED, and a failed trade's balances are taken back. ``clear`` ends both.
  ``"inject_frames": ["<raw text>", …]`` (a chaos drill for hostile input) sends those texts, in order and
  byte for byte, to every connected market websocket through its own queue — so they arrive between the
  real events, never folded into a batch, even while ``silent_s`` holds data back; the answer's
  ``"injected"`` is how many sockets got them (0 when none is connected). 400 unless a list of strings.
* ``POST /_sim/accounts/{owner}``: ``{"usdc": "100", "positions": {token_id: "50"}}`` sets holdings.
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from polysim.clob_wire import clob_market
from polysim.gamma_admin import build_gamma_admin_router
from polysim.market_admin import PatchError, change_tick, patch_market
from polysim.trading_state import state_of
from polysim.units import price_units

if TYPE_CHECKING:
    from polysim.context import SimContext
    from polysim.engine import Engine


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def apply_faults(ctx: SimContext, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply a fault request (the body of ``POST /_sim/faults``); returns what was done."""
    engine = ctx.engine
    faults = engine.faults
    done: dict[str, Any] = {}
    now = ctx.clock.now_ms()
    trading = state_of(ctx)
    if changes.get("clear"):
        faults.clear()
        trading.restart.clear()
        engine.ledger.fail_next = 0
    if "engine_restart" in changes:
        restart = changes["engine_restart"]
        if restart is None:
            trading.restart.clear()
        elif isinstance(restart, dict) and set(restart) <= {"in_s", "down_s", "post_only_s"}:
            try:
                times = [float(restart.get(k, d)) for k, d in (("in_s", 0), ("down_s", 90), ("post_only_s", 120))]
            except (TypeError, ValueError) as exc:
                raise ValueError(f"engine_restart: {exc}") from exc
            trading.restart.schedule(ctx.clock.now_ms(), *times)
        else:
            raise ValueError("engine_restart: expected null or {in_s, down_s, post_only_s}")
    if "fail_next_trades" in changes:
        count = changes["fail_next_trades"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError("fail_next_trades must be a count >= 0")
        engine.ledger.fail_next = count
    if "inject_frames" in changes:
        texts = changes["inject_frames"]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ValueError("inject_frames must be a list of strings")
        done["injected"] = ctx.hub.inject(texts) if ctx.hub is not None else 0
    if changes.get("drop_sockets"):
        done["dropped"] = ctx.hub.drop_all() if ctx.hub is not None else 0
    if "gamma_cursor_stuck" in changes:
        if not isinstance(changes["gamma_cursor_stuck"], bool):
            raise ValueError("gamma_cursor_stuck must be true or false")
        faults.gamma_cursor_stuck = changes["gamma_cursor_stuck"]
    if "hash_layout" in changes:
        faults.set_hash_layout(changes["hash_layout"])
    if "silent_s" in changes:
        faults.silent_until_ms = now + int(float(changes["silent_s"]) * 1000)
    for asset in changes.get("drop_next_delta") or []:
        _known(ctx, str(asset))
        faults.drop_next_delta.add(str(asset))
    if "corrupt_hashes" in changes:
        assets = [str(a) for a in changes["corrupt_hashes"] or []]
        for asset in assets:
            _known(ctx, asset)
        faults.corrupt_hashes = set(assets)
    for asset in changes.get("corrupt_next_hash") or []:
        _known(ctx, str(asset))
        faults.corrupt_next_hash.add(str(asset))
    tick = changes.get("tick_size")
    if tick:
        cid = tick.get("market") or _known(ctx, str(tick.get("asset_id", "")))
        if cid not in ctx.catalog.by_condition:
            raise KeyError(cid)
        engine.step(now)
        change_tick(engine, cid, price_units(Decimal(str(tick["tick_size"]))), max(now, engine.now_ms))
    done.update(fault_state(ctx))
    return done


def fault_state(ctx: SimContext) -> dict[str, Any]:
    faults = ctx.engine.faults
    return {
        "drop_next_delta": sorted(faults.drop_next_delta),
        "corrupt_next_hash": sorted(faults.corrupt_next_hash),
        "corrupt_hashes": sorted(faults.corrupt_hashes),
        "silent_for_ms": max(0, faults.silent_until_ms - ctx.clock.now_ms()),
        "gamma_cursor_stuck": faults.gamma_cursor_stuck,
        "hash_layout": faults.hash_layout,
        "market_sockets": len(ctx.hub.subscribers) if ctx.hub is not None else 0,
        "engine_restart": state_of(ctx).restart.view(ctx.clock.now_ms()),
        "fail_next_trades": ctx.engine.ledger.fail_next,
    }


def open_orders(engine: Engine) -> dict[str, int]:
    """Live orders per API key (every key that placed an order, zeros included)."""
    return {owner: sum(1 for o in orders.values() if o.status == "LIVE")
            for owner, orders in engine.orders_by_owner.items()}


def _known(ctx: SimContext, asset_id: str) -> str:
    cid = ctx.engine.market_of(asset_id)
    if cid is None:
        raise KeyError(asset_id)
    return cid


def build_admin_router(ctx: SimContext) -> APIRouter:
    router = APIRouter()
    engine = ctx.engine

    async def state() -> JSONResponse:
        return JSONResponse({
            "seed": ctx.config.seed, "now_ms": ctx.clock.now_ms(), "engine_ms": engine.now_ms,
            "markets": len(ctx.catalog.markets), "events": len(ctx.catalog.events),
            "books": len(engine.books), "accounts": len(engine.accounts),
            "market_messages_sent": ctx.hub.sent if ctx.hub is not None else 0,
            "process_cpu_s": round(time.process_time(), 3),
            "open_orders": open_orders(engine),
        })

    async def patch(condition_id: str, request: Request) -> JSONResponse:
        if condition_id not in ctx.catalog.by_condition:
            return _error(404, "market not found")
        body = await request.json()
        if not isinstance(body, dict):
            return _error(400, "expected a JSON object")
        now = ctx.clock.now_ms()
        engine.step(now)
        try:
            patch_market(engine, condition_id, body, max(now, engine.now_ms))
        except (PatchError, InvalidOperation, ValueError) as exc:
            return _error(400, str(exc))
        m = ctx.catalog.by_condition[condition_id]
        return JSONResponse(clob_market(m, engine.books.get(condition_id)))

    async def faults(request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse(fault_state(ctx))
        body = await request.json()
        if not isinstance(body, dict):
            return _error(400, "expected a JSON object")
        try:
            return JSONResponse(apply_faults(ctx, body))
        except KeyError as exc:
            return _error(404, f"unknown asset or market {exc}")
        except (InvalidOperation, ValueError, PatchError) as exc:
            return _error(400, str(exc))

    async def account(owner: str, request: Request) -> JSONResponse:
        body = await request.json()
        try:
            usdc = Decimal(str(body["usdc"])) if "usdc" in body else None
            positions = {str(k): Decimal(str(v)) for k, v in (body.get("positions") or {}).items()}
        except (InvalidOperation, ValueError, AttributeError) as exc:
            return _error(400, str(exc))
        engine.fund(owner, usdc, positions, address=str(body.get("address", "")))
        acct = engine.accounts[owner]
        return JSONResponse({"owner": owner, "usdc": str(engine.balance(owner)),
                             "positions": {t: str(engine.balance(owner, t)) for t in acct.positions}})

    router.add_api_route("/_sim/state", state, methods=["GET"])
    router.add_api_route("/_sim/markets/{condition_id}", patch, methods=["POST"])
    router.add_api_route("/_sim/faults", faults, methods=["GET", "POST"])
    router.add_api_route("/_sim/accounts/{owner}", account, methods=["POST"])
    router.include_router(build_gamma_admin_router(ctx))
    return router
