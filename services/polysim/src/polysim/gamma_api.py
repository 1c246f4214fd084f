"""Gamma's REST API under ``/gamma``: the legacy listings ``/markets`` and ``/events`` (offset pagination and
filters), the keyset listings (``gamma_keyset_api``), ``/markets/{id}``, ``/events/{id}``, slugs,
``/public-search`` and ``/tags``.

Like the real API, listings apply ``closed=false`` unless ``closed`` is given and show v1 markets unless
``version`` is given. The legacy listings are deprecated (2026): every answer carries ``deprecation``,
``sunset`` and ``warning`` headers, and an ``offset`` past ``SimConfig.gamma_legacy_max_offset`` is refused
with 422, as the venue refuses deep offset pagination.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from polysim.gamma_keyset_api import add_keyset_routes
from polysim.gamma_query import BadParam, Unprocessable, order_key, parse_bool, parse_filters, parse_int
from polysim.gamma_views import GammaViews
from polysim.gamma_wire import gamma_tags, listed_markets

if TYPE_CHECKING:
    from polysim.context import SimContext

MAX_LIMIT = 1000
DEFAULT_LIMIT = 20
LEGACY_HEADERS = {
    "deprecation": "true",
    "sunset": "Fri, 01 May 2026 00:00:00 GMT",
    "warning": '299 - "use /markets/keyset"',
}
OFFSET_TOO_LARGE = "offset too large, use /markets/keyset for deeper pagination"


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def validation_error(message: str) -> JSONResponse:
    return JSONResponse({"type": "validation error", "error": message}, status_code=422)


def _page(items: list[Any], request: Request, max_offset: int | None = None) -> list[Any]:
    q = request.query_params
    limit = min(parse_int(q.get("limit"), "limit", DEFAULT_LIMIT), MAX_LIMIT)
    offset = parse_int(q.get("offset"), "offset", 0)
    if max_offset is not None and offset > max_offset:
        raise Unprocessable(OFFSET_TOO_LARGE)
    return items[offset : offset + limit]


def build_gamma_router(ctx: SimContext) -> APIRouter:
    """Gamma routes bound to ``ctx`` (mounted under ``/gamma``)."""
    views = GammaViews(ctx)
    router = APIRouter()

    def legacy(events: bool) -> Callable[[Request], Any]:
        async def listing(request: Request) -> Response:
            q = request.query_params
            try:
                f = parse_filters(q, events)
                render: Callable[[Any], dict[str, Any]] = (
                    (lambda e: views.event_json(e, views.nested(e, f))) if events else views.market_json)
                key, descending = order_key(q, render)
                found: list[Any] = views.events(f) if events else views.markets(f)
                items = _page(sorted(found, key=key, reverse=descending), request,
                              ctx.config.gamma_legacy_max_offset)
                answer: Response = JSONResponse([render(x) for x in items])
            except BadParam as exc:
                answer = error(400, str(exc))
            except Unprocessable as exc:
                answer = validation_error(str(exc))
            answer.headers.update(LEGACY_HEADERS)
            return answer

        return listing

    async def market_by_id(market_id: str) -> Response:
        m = views.market(market_id)
        return JSONResponse(views.market_json(m)) if m is not None else error(404, "market not found")

    async def market_by_slug(slug: str) -> Response:
        m = views.market_by_slug(slug)
        return JSONResponse(views.market_json(m)) if m is not None else error(404, "market not found")

    async def event_by_id(event_id: str) -> Response:
        e = views.event(event_id)
        return JSONResponse(views.event_json(e)) if e is not None else error(404, "event not found")

    async def event_by_slug(slug: str) -> Response:
        e = views.event_by_slug(slug)
        return JSONResponse(views.event_json(e)) if e is not None else error(404, "event not found")

    async def public_search(request: Request) -> Response:
        q = request.query_params
        text = (q.get("q") or "").strip().lower()
        if not text:
            return error(400, "q is required")
        try:
            limit = parse_int(q.get("limit_per_type"), "limit_per_type", 10)
            page = max(1, parse_int(q.get("page"), "page", 1))
            keep_closed = parse_bool(q.get("keep_closed_markets"), "keep_closed_markets")
        except BadParam as exc:
            return error(400, str(exc))
        hits = [e for e in views.shown_events()
                if text in e.title.lower() or any(text in m.question.lower() for m in listed_markets(e))]
        if not keep_closed:
            hits = [e for e in hits if not views.event_closed(e)]
        chunk = hits[(page - 1) * limit : page * limit]
        return JSONResponse({"events": [views.event_json(e) for e in chunk],
                             "pagination": {"hasMore": page * limit < len(hits), "totalResults": len(hits)}})

    async def tags(request: Request) -> Response:
        seen: dict[str, dict[str, Any]] = {}
        for e in views.shown_events():
            for t in gamma_tags(e):
                seen.setdefault(t["id"], t)
        try:
            return JSONResponse(_page(list(seen.values()), request))
        except BadParam as exc:
            return error(400, str(exc))

    r = router.add_api_route
    r("/markets", legacy(events=False), methods=["GET"])
    add_keyset_routes(router, ctx, views)  # before /markets/{market_id}, which would take "keyset" as an id
    r("/markets/slug/{slug}", market_by_slug, methods=["GET"])
    r("/markets/{market_id}", market_by_id, methods=["GET"])
    r("/events", legacy(events=True), methods=["GET"])
    r("/events/slug/{slug}", event_by_slug, methods=["GET"])
    r("/events/{event_id}", event_by_id, methods=["GET"])
    r("/public-search", public_search, methods=["GET"])
    r("/tags", tags, methods=["GET"])
    return router
