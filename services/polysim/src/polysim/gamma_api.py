"""Gamma's REST API under ``/gamma``: ``/markets``, ``/events`` (offset pagination and filters),
``/markets/{id}``, ``/events/{id}``, slugs, ``/public-search`` and ``/tags``.

Like the real API, ``/markets`` and ``/events`` apply ``closed=false`` unless ``closed`` is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from polysim.gamma_wire import gamma_event, gamma_market, gamma_tags

if TYPE_CHECKING:
    from polysim.catalog import SimEvent, SimMarket
    from polysim.context import SimContext

MAX_LIMIT = 1000
DEFAULT_LIMIT = 20


class BadParam(ValueError):
    pass


def _bool(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise BadParam(f"invalid {name}: {value!r}")


def _int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise BadParam(f"invalid {name}: {value!r}") from None
    if n < 0:
        raise BadParam(f"invalid {name}: {value!r}")
    return n


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _page(items: list[Any], request: Request) -> list[Any]:
    q = request.query_params
    limit = min(_int(q.get("limit"), "limit", DEFAULT_LIMIT), MAX_LIMIT)
    offset = _int(q.get("offset"), "offset", 0)
    return items[offset : offset + limit]


def _sorted(items: list[Any], request: Request, render: Callable[[Any], dict[str, Any]]) -> list[Any]:
    q = request.query_params
    order = q.get("order")
    descending = _bool(q.get("ascending"), "ascending") is False
    if not order or order == "id":
        keyed = sorted(items, key=lambda x: int(x.gamma_id), reverse=descending)
        return keyed
    fields = [f.strip() for f in order.split(",") if f.strip()]
    return sorted(items, key=lambda x: tuple(_sort_value(render(x).get(f)) for f in fields), reverse=descending)


def _sort_value(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    try:
        return (1, float(value))
    except (TypeError, ValueError):
        return (2, str(value))


def build_gamma_router(ctx: SimContext) -> APIRouter:
    """Gamma routes bound to ``ctx`` (mounted under ``/gamma``)."""
    catalog = ctx.catalog
    books = ctx.engine.books
    router = APIRouter()

    def market_json(m: SimMarket) -> dict[str, Any]:
        return gamma_market(m, books.get(m.condition_id))

    def event_json(e: SimEvent) -> dict[str, Any]:
        return gamma_event(e, books)

    def wanted_markets(request: Request) -> list[SimMarket]:
        q = request.query_params
        closed = _bool(q.get("closed"), "closed")
        closed = False if closed is None else closed
        active = _bool(q.get("active"), "active")
        archived = _bool(q.get("archived"), "archived")
        ids = set(q.getlist("id"))
        slugs = set(q.getlist("slug"))
        cids = {c.lower() for c in q.getlist("condition_ids")}
        tokens = set(q.getlist("clob_token_ids"))
        tag = q.get("tag_id")
        out = []
        for m in catalog.markets:
            if m.closed != closed or (active is not None and m.active != active):
                continue
            if archived is not None and m.archived != archived:
                continue
            if (ids and m.gamma_id not in ids) or (slugs and m.slug not in slugs):
                continue
            if cids and m.condition_id.lower() not in cids:
                continue
            if tokens and not tokens.intersection(m.token_ids):
                continue
            if tag and all(t[0] != tag for t in m.event.tags):
                continue
            out.append(m)
        return out

    def event_closed(e: SimEvent) -> bool:
        return e.closed or (bool(e.markets) and all(m.closed for m in e.markets))

    def wanted_events(request: Request) -> list[SimEvent]:
        q = request.query_params
        closed = _bool(q.get("closed"), "closed")
        closed = False if closed is None else closed
        active = _bool(q.get("active"), "active")
        ids = set(q.getlist("id"))
        slugs = set(q.getlist("slug"))
        tag = q.get("tag_id")
        out = []
        for e in catalog.events:
            if event_closed(e) != closed or (active is not None and e.active != active):
                continue
            if (ids and e.gamma_id not in ids) or (slugs and e.slug not in slugs):
                continue
            if tag and all(t[0] != tag for t in e.tags):
                continue
            out.append(e)
        return out

    async def markets(request: Request) -> Response:
        try:
            items = _page(_sorted(wanted_markets(request), request, market_json), request)
        except BadParam as exc:
            return _error(400, str(exc))
        return JSONResponse([market_json(m) for m in items])

    async def events(request: Request) -> Response:
        try:
            items = _page(_sorted(wanted_events(request), request, event_json), request)
        except BadParam as exc:
            return _error(400, str(exc))
        return JSONResponse([event_json(e) for e in items])

    async def market_by_id(market_id: str) -> Response:
        m = catalog.by_gamma_id.get(market_id)
        return JSONResponse(market_json(m)) if m is not None else _error(404, "market not found")

    async def market_by_slug(slug: str) -> Response:
        m = next((m for m in catalog.markets if m.slug == slug), None)
        return JSONResponse(market_json(m)) if m is not None else _error(404, "market not found")

    async def event_by_id(event_id: str) -> Response:
        e = catalog.events_by_id.get(event_id)
        return JSONResponse(event_json(e)) if e is not None else _error(404, "event not found")

    async def event_by_slug(slug: str) -> Response:
        e = next((e for e in catalog.events if e.slug == slug), None)
        return JSONResponse(event_json(e)) if e is not None else _error(404, "event not found")

    async def public_search(request: Request) -> Response:
        q = request.query_params
        text = (q.get("q") or "").strip().lower()
        if not text:
            return _error(400, "q is required")
        try:
            limit = _int(q.get("limit_per_type"), "limit_per_type", 10)
            page = max(1, _int(q.get("page"), "page", 1))
            keep_closed = _bool(q.get("keep_closed_markets"), "keep_closed_markets")
        except BadParam as exc:
            return _error(400, str(exc))
        hits = [e for e in catalog.events
                if text in e.title.lower() or any(text in m.question.lower() for m in e.markets)]
        if not keep_closed:
            hits = [e for e in hits if not event_closed(e)]
        chunk = hits[(page - 1) * limit : page * limit]
        return JSONResponse({"events": [event_json(e) for e in chunk],
                             "pagination": {"hasMore": page * limit < len(hits), "totalResults": len(hits)}})

    async def tags(request: Request) -> Response:
        seen: dict[str, dict[str, Any]] = {}
        for e in catalog.events:
            for t in gamma_tags(e):
                seen.setdefault(t["id"], t)
        try:
            return JSONResponse(_page(list(seen.values()), request))
        except BadParam as exc:
            return _error(400, str(exc))

    r = router.add_api_route
    r("/markets", markets, methods=["GET"])
    r("/markets/slug/{slug}", market_by_slug, methods=["GET"])
    r("/markets/{market_id}", market_by_id, methods=["GET"])
    r("/events", events, methods=["GET"])
    r("/events/slug/{slug}", event_by_slug, methods=["GET"])
    r("/events/{event_id}", event_by_id, methods=["GET"])
    r("/public-search", public_search, methods=["GET"])
    r("/tags", tags, methods=["GET"])
    return router
