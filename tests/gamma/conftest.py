"""A small local Gamma + CLOB server for the client and pipeline tests, built from the recorded payloads.

Every market and event it serves is a copy of a recorded Gamma item (``gamma_events_list_2026.json``) and
every CLOB market a copy of the recorded ``/markets/{condition_id}`` answer, with fresh ids. It serves the
keyset listings (``/events/keyset``, ``/markets/keyset``, paged by polysim's own keyset logic), applies
Gamma's implicit ``closed=false``, ``condition_ids``, ``version`` (absent: v1 only), ``order=id``, and can
inject HTTP faults, a cursor that does not advance and deprecation headers, so the tests exercise the real
client code over real HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polybot.runtime.embedded import free_port
from polybot.runtime.lifecycle import ops_server
from polysim.gamma_keyset import BadCursor, keyset_page

FIXTURES = Path(os.environ["POLYBOT_FIXTURES"])
_EVENTS = json.loads((FIXTURES / "gamma" / "gamma_events_list_2026.json").read_text())
EVENT_TEMPLATE = {k: v for k, v in _EVENTS[0].items() if k != "markets"}
MARKET_TEMPLATE = _EVENTS[0]["markets"][1]  # the one with clobRewards
CLOB_TEMPLATE = json.loads((FIXTURES / "rest_clob" / "market_by_condition_id_2024-09.json").read_text())


def condition_id(prefix: str, i: int) -> str:
    return "0x" + hashlib.sha256(f"{prefix}-cond-{i}".encode()).hexdigest()


def token_id(prefix: str, i: int, k: int) -> str:
    return str(int(hashlib.sha256(f"{prefix}-tok-{i}-{k}".encode()).hexdigest()[:30], 16))


def make_market(prefix: str, i: int) -> dict[str, Any]:
    m = copy.deepcopy(MARKET_TEMPLATE)
    m["id"] = str(1_000_000 + i)
    m["conditionId"] = condition_id(prefix, i)
    m["question"] = f"Will {prefix} #{i} happen?"
    m["slug"] = f"{prefix}-market-{i}"
    m["clobTokenIds"] = json.dumps([token_id(prefix, i, 0), token_id(prefix, i, 1)])
    m["clobRewards"][0]["conditionId"] = m["conditionId"]
    return m


def _id_key(item: dict[str, Any]) -> tuple[int]:
    return (int(item["id"]) if str(item.get("id")).isdigit() else 0,)


@dataclass
class FakeVenue:
    """The remote side: mutate ``events`` (and their nested ``markets``) to change what is served."""

    events: list[dict[str, Any]] = field(default_factory=list)
    clob_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[tuple[str, int]] = field(default_factory=list)  # (path prefix, status), consumed in order
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, query string)
    clob_delay_s: float = 0.0  # slows every CLOB answer (to catch a refresh in the middle)
    max_limit: int = 100  # the most items one page holds, whatever ``limit`` asks
    ignore_cursor: bool = False  # a broken venue that always serves the first page (reported in April 2026)
    notice_headers: dict[str, str] = field(default_factory=dict)  # sent on every Gamma answer
    on_listing: Callable[[str, int], None] | None = None  # (path, page number) before each keyset page
    url: str = ""

    @classmethod
    def generate(cls, prefix: str, n_events: int, per_event: int) -> FakeVenue:
        venue = cls()
        for e in range(n_events):
            ev = copy.deepcopy(EVENT_TEMPLATE)
            ev["id"] = str(50_000 + e)
            ev["slug"] = ev["ticker"] = f"{prefix}-event-{e}"
            ev["markets"] = [make_market(prefix, e * per_event + k) for k in range(per_event)]
            venue.events.append(ev)
        return venue

    @property
    def gamma_url(self) -> str:
        return f"{self.url}/gamma"

    def markets(self) -> list[dict[str, Any]]:
        return [m for e in self.events for m in e["markets"]]

    def market(self, cid: str) -> dict[str, Any]:
        return next(m for m in self.markets() if m["conditionId"] == cid)

    def _fault(self, path: str) -> Response | None:
        for i, (prefix, status) in enumerate(self.faults):
            if path.startswith(prefix):
                del self.faults[i]
                return JSONResponse({"error": "injected"}, status_code=status)
        return None

    @staticmethod
    def _flag(q: Any, name: str, default: bool | None) -> bool | None:
        v = q.get(name)
        return default if v is None else v == "true"

    def _keyset(self, path: str, items: list[dict[str, Any]], q: Any, kind: str) -> Response:
        if "offset" in q:
            return JSONResponse({"type": "validation error", "error": "offset is not supported"}, status_code=422)
        pages = sum(1 for p, _ in self.requests if p == path)
        if self.on_listing is not None:
            self.on_listing(path, pages)
        after = None if self.ignore_cursor else q.get("after_cursor")
        filters = sorted((k, v) for k, v in q.multi_items() if k not in ("after_cursor", "limit"))
        try:
            page, cursor = keyset_page(items, _id_key, after_cursor=after, scope=f"{path}?{filters}",
                                       limit=min(int(q.get("limit", 20)), self.max_limit),
                                       descending=q.get("ascending") == "false")
        except BadCursor as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        body: dict[str, Any] = {kind: page}
        if cursor is not None:
            body["next_cursor"] = cursor
        return JSONResponse(body, headers=self.notice_headers)

    @staticmethod
    def _versions(q: Any) -> set[str]:
        return set(q.getlist("version")) or {"v1"}

    async def events_route(self, request: Request) -> Response:
        self.requests.append((request.url.path, request.url.query))
        if (f := self._fault(request.url.path)) is not None:
            return f
        q = request.query_params
        closed, active = self._flag(q, "closed", False), self._flag(q, "active", None)
        versions = self._versions(q)
        items = []
        for e in self.events:
            if e.get("closed", False) != closed or (active is not None and e.get("active", True) != active):
                continue
            nested = e.get("markets")
            if isinstance(nested, list):
                shown = [m for m in nested if not isinstance(m, dict) or m.get("version", "v1") in versions]
                if nested and not shown:
                    continue
                e = {**e, "markets": shown}
            items.append(e)
        return self._keyset(request.url.path, items, q, "events")

    async def markets_route(self, request: Request) -> Response:
        self.requests.append((request.url.path, request.url.query))
        if (f := self._fault(request.url.path)) is not None:
            return f
        q = request.query_params
        closed, active = self._flag(q, "closed", False), self._flag(q, "active", None)
        wanted = set(q.getlist("condition_ids"))
        if len(wanted) > 100:
            return JSONResponse({"type": "validation error", "error": "condition_ids: at most 100 values"},
                                status_code=422)
        versions = self._versions(q)
        out = []
        for e in self.events:
            shell = {k: v for k, v in e.items() if k not in ("markets", "tags")}
            for m in e["markets"]:
                if m.get("closed", False) != closed or (active is not None and m.get("active") != active):
                    continue
                if (wanted and m["conditionId"] not in wanted) or m.get("version", "v1") not in versions:
                    continue
                out.append({**m, "events": [shell]})
        return self._keyset(request.url.path, out, q, "markets")

    async def clob_route(self, request: Request) -> Response:
        self.requests.append((request.url.path, request.url.query))
        if (f := self._fault(request.url.path)) is not None:
            return f
        cid = request.path_params["cid"]
        if self.clob_delay_s:
            await asyncio.sleep(self.clob_delay_s)
        try:
            m = self.market(cid)
        except StopIteration:
            return JSONResponse({"error": "market not found"}, status_code=404)
        c = copy.deepcopy(CLOB_TEMPLATE)
        tokens = json.loads(m["clobTokenIds"])
        outcomes = json.loads(m["outcomes"])
        c.update(condition_id=cid, question=m["question"], market_slug=m["slug"], closed=m.get("closed", False),
                 accepting_orders=m.get("acceptingOrders", True), minimum_tick_size=m["orderPriceMinTickSize"],
                 minimum_order_size=m["orderMinSize"], neg_risk=m["negRisk"],
                 tokens=[{"token_id": t, "outcome": o, "price": 0.5, "winner": False}
                         for t, o in zip(tokens, outcomes, strict=True)])
        c.update(self.clob_overrides.get(cid, {}))
        return JSONResponse(c)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/gamma/events/keyset", self.events_route),
            Route("/gamma/markets/keyset", self.markets_route),
            Route("/markets/{cid}", self.clob_route),
        ])


StartVenue = Callable[[str, int, int], Awaitable[FakeVenue]]


@pytest.fixture
async def start_venue() -> AsyncIterator[StartVenue]:
    """``await start_venue(prefix, n_events, per_event)``: a generated venue served on a free local port."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(prefix: str, n_events: int, per_event: int) -> FakeVenue:
            venue = FakeVenue.generate(prefix, n_events, per_event)
            port = free_port()
            await stack.enter_async_context(ops_server(venue.app(), "127.0.0.1", port))
            venue.url = f"http://127.0.0.1:{port}"
            return venue

        yield start


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
