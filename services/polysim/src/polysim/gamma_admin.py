"""Catalog drills on a running simulator (admin routes, never the venue's API; listed in ``admin_api``).

* ``POST /_sim/gamma/events`` ``{"markets": n, "neg_risk": false, "version": "v1"}`` (1 ≤ n ≤ 50): a new
  event of n new markets, with gamma ids and event id above every existing one, shaped like the generated
  catalog's (two tokens, tick 0.01 or 0.001, the configured minimum size). Every Gamma view and the CLOB
  routes see them at once; each gets a seeded book that the random crowd moves (a replayed run leaves it
  still). Answers ``{"event_id": …, "condition_ids": [...]}``.
* ``DELETE /_sim/markets/{condition_id}``: Gamma forgets the market (listings, by id and slug,
  ``condition_ids`` lookups, its event's nested list, search); its CLOB side stays. ``{"delisted": cid}``.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from polysim.catalog import TAGS, TOPICS, SimEvent, SimMarket, hex_id, initial_fairs, numeric_ids, position_ids_for
from polysim.flow import RandomFlow

if TYPE_CHECKING:
    from polysim.context import SimContext

MAX_NEW_MARKETS = 50


def add_event(ctx: SimContext, n_markets: int, neg_risk: bool = False, version: str = "v1") -> SimEvent:
    """Create and list a new event of ``n_markets`` markets; their books exist from now on."""
    if not 1 <= n_markets <= MAX_NEW_MARKETS:
        raise ValueError(f"markets must be between 1 and {MAX_NEW_MARKETS}")
    if version not in ("v1", "v2"):
        raise ValueError("version must be v1 or v2")
    catalog, engine, seed = ctx.catalog, ctx.engine, ctx.config.seed
    event_id = max(numeric_ids(catalog.events_by_id), default=19_999) + 1
    first_market_id = max(numeric_ids(catalog.by_gamma_id), default=499_999) + 1
    ei = len(catalog.events)
    # Seeded by the new ids, not by when the drill ran, so the same drill gives the same markets.
    rng = random.Random(f"polysim-added-event:{seed}:{event_id}")
    title = TOPICS[ei % len(TOPICS)].format(n=ei)
    event = SimEvent(index=ei, gamma_id=str(event_id), slug=f"sim-event-{ei}", title=title, neg_risk=neg_risk,
                     tags=(TAGS[ei % len(TAGS)], ("1", "All", "all")),
                     neg_risk_market_id=hex_id(seed, "added-nrm", event_id) if neg_risk else "")
    fairs = initial_fairs(rng, n_markets, neg_risk)
    for k in range(n_markets):
        mi = len(catalog.markets) + k
        gamma_id = first_market_id + k
        event.markets.append(SimMarket(
            index=mi, gamma_id=str(gamma_id), condition_id=hex_id(seed, "added-cond", gamma_id),
            question_id=hex_id(seed, "added-q", gamma_id),
            question=title if n_markets == 1 else f"{title}: outcome {k + 1}?", slug=f"sim-market-{mi}",
            outcomes=("Yes", "No"),
            token_ids=(str(rng.randrange(10**75, 10**77)), str(rng.randrange(10**75, 10**77))),
            tick_units=10 if rng.random() < 0.25 else 100, min_order_size=Decimal(ctx.config.min_order_size),
            neg_risk=neg_risk, event=event, group_item_title=f"outcome {k + 1}" if n_markets > 1 else "",
            description=f"Simulated market {mi} (seed {seed}), listed at run time.", initial_fair=fairs[k],
            version=version, position_ids=position_ids_for(seed, mi) if version == "v2" else (),
        ))
    catalog.add_event(event)
    now = max(ctx.clock.now_ms(), engine.now_ms)
    for m in event.markets:
        engine.book(m.condition_id)
        if isinstance(engine.driver, RandomFlow):
            engine.driver.add_market(m, now)
    return event


def delist(ctx: SimContext, condition_id: str) -> None:
    """Hide a market from every Gamma view (KeyError when unknown)."""
    ctx.catalog.by_condition[condition_id].delisted = True


def build_gamma_admin_router(ctx: SimContext) -> APIRouter:
    router = APIRouter()

    async def new_event(request: Request) -> JSONResponse:
        body: Any = await request.json()
        if not isinstance(body, dict):
            return JSONResponse({"error": "expected a JSON object"}, status_code=400)
        n, neg_risk, version = body.get("markets"), body.get("neg_risk", False), body.get("version", "v1")
        if not isinstance(n, int) or isinstance(n, bool) or not isinstance(neg_risk, bool):
            return JSONResponse({"error": "markets must be an integer and neg_risk a boolean"}, status_code=400)
        try:
            event = add_event(ctx, n, neg_risk, str(version))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"event_id": event.gamma_id, "condition_ids": [m.condition_id for m in event.markets]})

    async def delete_market(condition_id: str) -> JSONResponse:
        try:
            delist(ctx, condition_id)
        except KeyError:
            return JSONResponse({"error": "market not found"}, status_code=404)
        return JSONResponse({"delisted": condition_id})

    router.add_api_route("/_sim/gamma/events", new_event, methods=["POST"])
    router.add_api_route("/_sim/markets/{condition_id}", delete_market, methods=["DELETE"])
    return router
