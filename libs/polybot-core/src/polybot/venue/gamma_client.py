"""An async client for Gamma's market listings and the CLOB's market objects.

Errors::

    GammaError                 anything this client raises
    ├── GammaUnavailable       could not get an answer (connect error, timeout, 429/5xx after every retry)
    └── GammaResponseError     the venue answered, but with a 4xx or a body that is not the expected JSON

Every request passes a client-side token bucket sized under the venue's documented limit for that
endpoint (Gamma ``/markets`` 300 / 10 s, ``/events`` 500 / 10 s, CLOB general 9,000 / 10 s), so a refresh
never provokes Cloudflare throttling by itself. 429 and 5xx answers and transport errors are retried with
exponential backoff and jitter (honouring ``Retry-After``).

Listings use Gamma's keyset endpoints (``/events/keyset``, ``/markets/keyset``; the offset listings were
sunset on 2026-05-01 and refuse deep offsets): see ``gamma_keyset`` for the page format and the check that
a walk advances. Gamma applies ``closed=false`` when ``closed`` is not given, so callers always pass
``closed`` explicitly. ``Deprecation``, ``Sunset`` and ``Warning`` headers on any answer are logged (once
per endpoint and value) and reported to ``on_notice``, so the venue's next change shows in our logs and
metrics before it breaks us.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from polybot.domain.ratelimit import TokenBucket
from polybot.domain.retry import backoff_delay_s, is_retryable_status
from polybot.venue.gamma_keyset import (
    MAX_IDS,
    MAX_PAGE,
    KeysetError,
    KeysetPage,
    KeysetWalk,
    StuckListing,
    parse_keyset_page,
)
from polybot.venue.http_headers import deprecation_notices, retry_after_s

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


class GammaPaginationError(GammaResponseError):
    """A keyset listing cannot be followed to its end (its cursor does not advance, or a page is malformed)."""


NoticeSink = Callable[[str, str], None]  # (endpoint, header) for each deprecation notice received


def _ignore_notice(endpoint: str, header: str) -> None:
    return None


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
    max_listing_pages: int = 10_000  # a walk longer than this is a venue that never ends it


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
    """One page of a listing: the JSON objects as the venue sent them, and where it stands in the walk."""

    index: int  # 0 for the first page
    items: list[Any]


@dataclass(frozen=True, slots=True)
class Listing:
    """The filters of one keyset listing (Gamma applies ``closed=false`` when ``closed`` is not sent)."""

    closed: bool
    active: bool | None = None
    order: str | None = None
    ascending: bool | None = None
    versions: tuple[str, ...] = ()  # none: the venue's default (v1 markets only)
    condition_ids: tuple[str, ...] = ()

    def params(self) -> list[tuple[str, str]]:
        params = [("closed", _flag(self.closed))]
        if self.active is not None:
            params.append(("active", _flag(self.active)))
        if self.order is not None:
            params.append(("order", self.order))
        if self.ascending is not None:
            params.append(("ascending", _flag(self.ascending)))
        params.extend(("version", v) for v in self.versions)
        params.extend(("condition_ids", cid) for cid in self.condition_ids)
        return params


def _flag(value: bool) -> str:
    return "true" if value else "false"


class GammaClient:
    """Gamma keyset listings (``/events/keyset``, ``/markets/keyset``) and the CLOB's ``/markets/{id}``."""

    def __init__(self, config: GammaClientConfig, *, transport: httpx.AsyncBaseTransport | None = None,
                 on_notice: NoticeSink = _ignore_notice) -> None:
        self.config = config
        self._transport = transport
        self._on_notice = on_notice
        self.notices: dict[tuple[str, str, str], int] = {}  # (endpoint, header, value) → times seen
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

    def _notice(self, endpoint: str, headers: httpx.Headers) -> None:
        for header, value in deprecation_notices(headers):
            key = (endpoint, header, value)
            seen = self.notices.get(key, 0)
            self.notices[key] = seen + 1
            if seen == 0:  # once per distinct notice: every page of every refresh carries it
                log.warning("the venue announces a deprecation",
                            extra={"endpoint": endpoint, "header": header, "value": value})
            self._on_notice(endpoint, header)

    async def _get(self, bucket: str, url: str, params: Sequence[tuple[str, str]] = (),
                   *, allow_404: bool = False, http: httpx.AsyncClient | None = None,
                   endpoint: str = "") -> Any:
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
                self._notice(endpoint or url, resp.headers)
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

    async def keyset_page(self, kind: str, listing: Listing, *, limit: int,
                          after_cursor: str | None = None) -> KeysetPage:
        """One page of ``GET /{kind}/keyset`` (``kind`` is ``events`` or ``markets``)."""
        path = f"/{kind}/keyset"
        params = [*listing.params(), ("limit", str(min(limit, MAX_PAGE)))]
        if after_cursor is not None:
            params.append(("after_cursor", after_cursor))
        body = await self._get(kind, f"{self.config.gamma_url.rstrip('/')}{path}", params, endpoint=path)
        try:
            return parse_keyset_page(body, kind)
        except KeysetError as exc:
            raise GammaPaginationError(f"GET {path}: {exc}") from exc

    async def iter_listing(self, kind: str, listing: Listing, *, page_size: int) -> AsyncGenerator[JsonPage, None]:
        """Every page of a keyset listing, following ``next_cursor`` until the venue omits it.

        Raises ``GammaPaginationError`` as soon as the walk fails to advance, before that page is yielded.
        """
        walk = KeysetWalk(max_pages=self.config.max_listing_pages)
        cursor: str | None = None
        while True:
            page = await self.keyset_page(kind, listing, limit=page_size, after_cursor=cursor)
            try:
                walk.advance(cursor, page)
            except StuckListing as exc:
                raise GammaPaginationError(f"GET /{kind}/keyset: the cursor does not advance: {exc}") from exc
            yield JsonPage(walk.pages - 1, page.items)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def iter_events(self, listing: Listing, *, page_size: int) -> AsyncGenerator[JsonPage, None]:
        """Every page of ``/events/keyset`` (events with their nested markets)."""
        return self.iter_listing("events", listing, page_size=page_size)

    def iter_markets(self, listing: Listing, *, page_size: int) -> AsyncGenerator[JsonPage, None]:
        """Every page of ``/markets/keyset``."""
        return self.iter_listing("markets", listing, page_size=page_size)

    async def markets_by_condition_ids(self, condition_ids: Sequence[str], *, closed: bool,
                                       versions: tuple[str, ...] = (), batch: int = MAX_IDS) -> list[Any]:
        """The Gamma markets among ``condition_ids`` that match ``closed``, ≤ 100 ids (and a short URL) a request."""
        found: list[Any] = []
        batch = max(1, min(batch, MAX_IDS))
        for start in range(0, len(condition_ids), batch):
            listing = Listing(closed=closed, versions=versions,
                              condition_ids=tuple(condition_ids[start:start + batch]))
            async for page in self.iter_markets(listing, page_size=MAX_PAGE):
                found.extend(page.items)
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
            return await self._get("clob", url, allow_404=True, http=http, endpoint="/markets/{condition_id}")
        finally:
            self._lanes.put_nowait(http)
