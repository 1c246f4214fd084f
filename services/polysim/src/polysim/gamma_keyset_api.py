"""Gamma's keyset listings (2026): ``GET /markets/keyset`` → ``{"markets": [...], "next_cursor": …}`` and
``GET /events/keyset`` → ``{"events": [...], "next_cursor": …}``, under ``/gamma``.

* Next page with ``after_cursor=<next_cursor>``; ``next_cursor`` is absent on the last page. ``cursor=`` is
  not a parameter here and is ignored (page 1 again), as on the venue.
* At most 100 items a page (a larger ``limit`` is clamped silently; default 20).
* ``offset`` is refused with 422; a malformed cursor, or one minted on the other endpoint or with other
  filters, with 400.
* The legacy listings' filters apply (``gamma_query``); the fault ``gamma_cursor_stuck`` makes both
  endpoints ignore ``after_cursor`` (page 1 again, with the same ``next_cursor``), as reported in April 2026.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from polysim.gamma_keyset import BadCursor, keyset_page
from polysim.gamma_query import BadParam, Unprocessable, canonical_scope, order_key, parse_filters, parse_int

if TYPE_CHECKING:
    from polysim.context import SimContext
    from polysim.gamma_views import GammaViews

DEFAULT_LIMIT = 20
OFFSET_REFUSED = "offset is not supported on keyset endpoints, use after_cursor"


def add_keyset_routes(router: APIRouter, ctx: SimContext, views: GammaViews) -> None:
    """Add ``/markets/keyset`` and ``/events/keyset`` to the Gamma router."""
    faults = ctx.engine.faults

    def listing(path: str, items_key: str) -> Callable[[Request], Any]:
        events = items_key == "events"

        async def handler(request: Request) -> Response:
            q = request.query_params
            if "offset" in q:
                return JSONResponse({"type": "validation error", "error": OFFSET_REFUSED}, status_code=422)
            try:
                f = parse_filters(q, events)
                render: Callable[[Any], dict[str, Any]] = (
                    (lambda e: views.event_json(e, views.nested(e, f))) if events else views.market_json)
                key, descending = order_key(q, render)
                limit = parse_int(q.get("limit"), "limit", DEFAULT_LIMIT)
                found: list[Any] = views.events(f) if events else views.markets(f)
                after = None if faults.gamma_cursor_stuck else q.get("after_cursor") or None
                page, next_cursor = keyset_page(found, key, after_cursor=after, limit=limit or DEFAULT_LIMIT,
                                                scope=canonical_scope(path, q, list(q.keys())),
                                                descending=descending)
            except (BadParam, BadCursor) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except Unprocessable as exc:
                return JSONResponse({"type": "validation error", "error": str(exc)}, status_code=422)
            body: dict[str, Any] = {items_key: [render(x) for x in page]}
            if next_cursor is not None:
                body["next_cursor"] = next_cursor
            return JSONResponse(body)

        return handler

    router.add_api_route("/markets/keyset", listing("/markets/keyset", "markets"), methods=["GET"])
    router.add_api_route("/events/keyset", listing("/events/keyset", "events"), methods=["GET"])
