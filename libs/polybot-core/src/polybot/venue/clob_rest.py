"""An async client for the public (L0) CLOB REST endpoints the ingestor needs: ``/book``, ``/tick-size``.

Errors::

    ClobRestError
    ├── ClobHttpError        the venue answered with a non-200 status (``retryable`` for 429 and 5xx)
    ├── ClobTransportError   no answer (connect/read failure, timeout)
    └── ClobPayloadError     a 200 whose body is not what the endpoint returns

Retryable failures are retried ``max_retries`` times with jittered exponential backoff (a ``Retry-After``
header on 429 is honoured up to ``backoff_max_s``); the last failure is raised.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from polybot.domain.book_events import VenueBook
from polybot.domain.retry import backoff_delay_s, is_retryable_status
from polybot.venue.http_headers import retry_after_s
from polybot.venue.market_parse import MarketParseError, parse_rest_book


class ClobRestError(Exception):
    """Any failure talking to the CLOB REST API."""


class ClobHttpError(ClobRestError):
    def __init__(self, status: int, path: str, body: str) -> None:
        super().__init__(f"HTTP {status} from {path}: {body[:200]}")
        self.status = status
        self.path = path
        self.body = body

    @property
    def retryable(self) -> bool:
        return is_retryable_status(self.status)


class ClobTransportError(ClobRestError):
    """The request got no answer."""


class ClobPayloadError(ClobRestError):
    """The body of a 200 answer is not valid for its endpoint."""


@dataclass(frozen=True, slots=True)
class ClobRestConfig:
    base_url: str
    timeout_s: float = 5.0
    max_retries: int = 3
    backoff_base_s: float = 0.2
    backoff_max_s: float = 5.0
    max_connections: int = 32


class ClobRestClient:
    """Public CLOB REST reads with timeouts and retries. Use as an async context manager."""

    def __init__(self, config: ClobRestConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        limits = httpx.Limits(max_connections=config.max_connections, max_keepalive_connections=config.max_connections)
        self._http = httpx.AsyncClient(base_url=config.base_url.rstrip("/"), timeout=config.timeout_s, limits=limits,
                                       transport=transport, headers={"Accept": "application/json"})
        self.requests = 0
        self.retries = 0

    async def __aenter__(self) -> ClobRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def book(self, token_id: str) -> VenueBook:
        """``GET /book``: the full book with all ten keys, as ``VenueBook(source="rest")``."""
        body = await self.get_raw("/book", {"token_id": token_id})
        try:
            return parse_rest_book(body, time.time_ns() // 1_000_000)
        except MarketParseError as exc:
            raise ClobPayloadError(f"/book for {token_id}: {exc}") from exc

    async def tick_size(self, token_id: str) -> str:
        """``GET /tick-size``: the minimum tick as the venue writes it (``"0.01"``)."""
        data = self._json(await self.get_raw("/tick-size", {"token_id": token_id}), "/tick-size")
        value = data.get("minimum_tick_size") if isinstance(data, dict) else None
        if not isinstance(value, int | float | str):
            raise ClobPayloadError(f"/tick-size for {token_id}: no minimum_tick_size in {data!r:.200}")
        return str(value)

    async def get_raw(self, path: str, params: dict[str, str] | None = None) -> bytes:
        """GET ``path`` and return the body of a 200, retrying what is retryable."""
        cfg = self.config
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            try:
                resp = await self._http.get(path, params=params)
            except httpx.HTTPError as exc:  # transport errors and timeouts
                error: ClobRestError = ClobTransportError(f"GET {path}: {exc!r}")
                retry_after = None
            else:
                if resp.status_code == 200:
                    return resp.content
                error = ClobHttpError(resp.status_code, path, resp.text)
                if not is_retryable_status(resp.status_code):
                    raise error
                retry_after = retry_after_s(resp.headers.get("Retry-After"))
            if attempt > cfg.max_retries:
                raise error
            self.retries += 1
            delay = backoff_delay_s(attempt, cfg.backoff_base_s, cfg.backoff_max_s, random.random())
            if retry_after is not None:
                delay = min(cfg.backoff_max_s, max(delay, retry_after))
            await asyncio.sleep(delay)

    @staticmethod
    def _json(body: bytes, path: str) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ClobPayloadError(f"{path}: not JSON: {body[:200]!r}") from exc
