"""An async client for Gamma's market listings and the CLOB's market objects.

Errors::

    GammaError                 anything this client raises
    ├── GammaUnavailable       could not get an answer (connect error, timeout, 429/5xx after every retry)
    └── GammaResponseError     the venue answered, but with a 4xx or a body that is not the expected JSON

Every request passes a client-side token bucket sized under the venue's documented limit for that
endpoint (Gamma ``/markets`` 300 / 10 s, ``/events`` 500 / 10 s, CLOB general 9,000 / 10 s), so a refresh
never provokes Cloudflare throttling by itself. 429 and 5xx answers and transport errors are retried with
exponential backoff and jitter (honouring ``Retry-After``).

Gamma applies ``closed=false`` when ``closed`` is not given, so callers always pass ``closed`` explicitly.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from polybot.domain.ratelimit import TokenBucket
from polybot.domain.retry import backoff_delay_s, is_retryable_status
from polybot.venue.http_headers import retry_after_s

log = logging.getLogger(__name__)

WINDOW_MS = 10_000


class GammaError(Exception):
    """Base of every error raised by ``GammaClient``."""


class GammaUnavailable(GammaError):
    """No usable answer: the venue is down, unreachable, throttling or failing (retryable later)."""


class GammaResponseError(GammaError):
    """The venue answered with a client error or an unexpected body (retrying will not help)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class GammaClientConfig:
    gamma_url: str
    clob_url: str
    timeout_s: float = 10.0
    max_retries: int = 5
    backoff_base_s: float = 0.2
    backoff_max_s: float = 5.0
    events_limit_per_10s: int = 500
    markets_limit_per_10s: int = 300
    clob_limit_per_10s: int = 9_000
    clob_lanes: int = 8  # CLOB look-ups in flight, each on its own keep-alive connection


class Throttle:
    """An async gate over a pure ``TokenBucket``: ``await throttle.acquire()`` before each request."""

    def __init__(self, bucket: TokenBucket) -> None:
        self._bucket = bucket
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:  # FIFO among waiters, so no caller starves
            while True:
                wait = self._bucket.wait_ms(time.monotonic_ns() // 1_000_000)
                if wait == 0 and self._bucket.try_acquire(time.monotonic_ns() // 1_000_000):
                    return
                await asyncio.sleep(max(wait, 1) / 1000)


@dataclass(frozen=True, slots=True)
class JsonPage:
    """One page of a listing: the JSON objects as the venue sent them."""

    offset: int
    items: list[Any]


def _check_progress(path: str, items: list[Any], previous: object) -> object:
    """The first item of a page; a page starting like the one before means the venue ignores ``offset``."""
    first = items[0].get("id") if isinstance(items[0], dict) else items[0]
    if previous is not None and first == previous:
        raise GammaResponseError(f"GET {path}: pagination does not advance (offset ignored?)")
    return first


class GammaClient:
    """Gamma listings (``/events``, ``/markets``) with offset pagination, and CLOB ``/markets/{id}``."""

    def __init__(self, config: GammaClientConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._transport = transport
        self._tls = ssl.create_default_context()  # loaded once, shared by every connection pool below
        self._http = self._new_http(4)
        # One single-connection client per lane: httpcore's pool scans every waiting request on each
        # completion, which makes one pool with many requests in flight cost quadratic CPU.
        self._lanes: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        self._lane_clients: list[httpx.AsyncClient] = []
        self._throttles = {
            "events": Throttle(TokenBucket.for_limit(config.events_limit_per_10s, WINDOW_MS)),
            "markets": Throttle(TokenBucket.for_limit(config.markets_limit_per_10s, WINDOW_MS)),
            "clob": Throttle(TokenBucket.for_limit(config.clob_limit_per_10s, WINDOW_MS)),
        }
        self.requests = 0
        self.retries = 0

    async def __aenter__(self) -> GammaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _new_http(self, connections: int) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(timeout=self.config.timeout_s, limits=limits, transport=self._transport,
                                 verify=self._tls,
                                 headers={"Accept": "application/json", "User-Agent": "polybot-gamma-sync"})

    async def close(self) -> None:
        await self._http.aclose()
        for http in self._lane_clients:
            await http.aclose()

    def _backoff_s(self, attempt: int, retry_after: str | None) -> float:
        after = retry_after_s(retry_after)
        if after is not None:
            return min(after, self.config.backoff_max_s)
        return backoff_delay_s(attempt + 1, self.config.backoff_base_s, self.config.backoff_max_s, random.random())

    async def _get(self, bucket: str, url: str, params: Sequence[tuple[str, str]] = (),
                   *, allow_404: bool = False, http: httpx.AsyncClient | None = None) -> Any:
        """GET ``url`` and decode its JSON, retrying what is retryable; ``None`` on an allowed 404."""
        attempt = 0
        while True:
            await self._throttles[bucket].acquire()
            self.requests += 1
            retry_after: str | None = None
            try:
                resp = await (http or self._http).get(url, params=httpx.QueryParams(list(params)))
            except httpx.TransportError as exc:  # connect errors and timeouts alike
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if resp.status_code == 200:
                    try:
                        return orjson.loads(resp.content)
                    except orjson.JSONDecodeError as exc:
                        raise GammaResponseError(f"GET {url}: body is not JSON ({exc})", 200) from exc
                if resp.status_code == 404 and allow_404:
                    return None
                if not is_retryable_status(resp.status_code):
                    raise GammaResponseError(f"GET {url}: HTTP {resp.status_code}: {resp.text[:200]}",
                                             resp.status_code)
                problem = f"HTTP {resp.status_code}"
                retry_after = resp.headers.get("Retry-After")
            if attempt >= self.config.max_retries:
                raise GammaUnavailable(f"GET {url}: {problem} (after {attempt + 1} attempts)")
            delay = self._backoff_s(attempt, retry_after)
            log.info("gamma request failed, retrying",
                     extra={"url": url, "problem": problem, "attempt": attempt + 1, "retry_in_s": round(delay, 3)})
            self.retries += 1
            attempt += 1
            await asyncio.sleep(delay)

    async def _list(self, bucket: str, path: str, params: list[tuple[str, str]]) -> list[Any]:
        body = await self._get(bucket, f"{self.config.gamma_url.rstrip('/')}{path}", params)
        if not isinstance(body, list):
            raise GammaResponseError(f"GET {path}: expected a JSON list, got {type(body).__name__}")
        return body

    @staticmethod
    def _filters(closed: bool, active: bool | None, order: str | None, ascending: bool | None) -> list[tuple[str, str]]:
        params = [("closed", "true" if closed else "false")]
        if active is not None:
            params.append(("active", "true" if active else "false"))
        if order is not None:
            params.append(("order", order))
        if ascending is not None:
            params.append(("ascending", "true" if ascending else "false"))
        return params

    async def events_page(self, *, offset: int, limit: int, closed: bool, active: bool | None = None,
                          order: str | None = None, ascending: bool | None = None) -> list[Any]:
        """One page of ``GET /events`` (events with their nested markets)."""
        params = [("limit", str(limit)), ("offset", str(offset)), *self._filters(closed, active, order, ascending)]
        return await self._list("events", "/events", params)

    async def markets_page(self, *, offset: int, limit: int, closed: bool, active: bool | None = None,
                           order: str | None = None, ascending: bool | None = None,
                           condition_ids: Sequence[str] = ()) -> list[Any]:
        """One page of ``GET /markets``, optionally restricted to ``condition_ids`` (keep the URL under 8 KB)."""
        params = [("limit", str(limit)), ("offset", str(offset)), *self._filters(closed, active, order, ascending)]
        params.extend(("condition_ids", cid) for cid in condition_ids)
        return await self._list("markets", "/markets", params)

    async def iter_events(self, *, page_size: int, closed: bool, active: bool | None = None,
                          order: str | None = None, ascending: bool | None = None) -> AsyncGenerator[JsonPage, None]:
        """Every page of ``/events``, following offsets until an empty page.

        An empty page, not a short one, ends the listing: the venue may cap ``limit`` below ``page_size``.
        """
        async for page in self._iter_pages("/events", self.events_page, page_size, closed=closed, active=active,
                                           order=order, ascending=ascending):
            yield page

    async def iter_markets(self, *, page_size: int, closed: bool, active: bool | None = None,
                           order: str | None = None, ascending: bool | None = None) -> AsyncGenerator[JsonPage, None]:
        """Every page of ``/markets``, following offsets until an empty page."""
        async for page in self._iter_pages("/markets", self.markets_page, page_size, closed=closed, active=active,
                                           order=order, ascending=ascending):
            yield page

    async def _iter_pages(self, path: str, fetch: Callable[..., Awaitable[list[Any]]], page_size: int,
                          **params: Any) -> AsyncGenerator[JsonPage, None]:
        offset = 0
        previous: object = None
        while True:
            items = await fetch(offset=offset, limit=page_size, **params)
            if not items:
                return
            previous = _check_progress(path, items, previous)
            yield JsonPage(offset, items)
            offset += len(items)

    async def markets_by_condition_ids(self, condition_ids: Sequence[str], *, closed: bool,
                                       batch: int = 50) -> list[Any]:
        """The Gamma markets among ``condition_ids`` that match ``closed`` (batched to keep URLs short)."""
        found: list[Any] = []
        for start in range(0, len(condition_ids), batch):
            chunk = condition_ids[start:start + batch]
            found.extend(await self.markets_page(offset=0, limit=len(chunk), closed=closed, condition_ids=chunk))
        return found

    async def clob_market(self, condition_id: str) -> Any | None:
        """The CLOB's market object for ``condition_id``, or ``None`` when the CLOB does not know it."""
        if not self._lane_clients:
            for _ in range(self.config.clob_lanes):
                self._lane_clients.append(self._new_http(1))
                self._lanes.put_nowait(self._lane_clients[-1])
        http = await self._lanes.get()
        try:
            url = f"{self.config.clob_url.rstrip('/')}/markets/{condition_id}"
            return await self._get("clob", url, allow_404=True, http=http)
        finally:
            self._lanes.put_nowait(http)
