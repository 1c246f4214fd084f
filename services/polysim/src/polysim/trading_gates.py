"""What stands between an authenticated order or cancel request and the engine, in the venue's order.

1. the matching engine's restart (``engine_restart``): HTTP 425 on every order and cancel request;
2. the signer's token bucket (``signer_limits``): 429 with ``Retry-After`` when it cannot cover the request's
   whole cost; the ``Poly-RateLimit-*`` headers go on every answer the limiter evaluated;
3. the post-only window after a restart: orders that are not post-only are refused (503 for ``POST /order``,
   a documented per-entry error in ``POST /orders``); cancels pass.

The per-signer buckets follow the simulator's rate-limit switch (``POST /_sim/rate-limits {"enabled": false}``
turns them off with the IP limits) and their own mode (``"signer_buckets": "enforce" | "warn" | "off"``).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi.responses import JSONResponse, Response

from polysim.auth import ApiCreds
from polysim.engine_restart import POST_ONLY_MODE, TOO_EARLY
from polysim.ratelimit import TOO_MANY_REQUESTS
from polysim.signer_limits import Bucket, Verdict, next_tier_threshold
from polysim.trading_state import TradingState


def restarting(state: TradingState) -> Response | None:
    """The 425 answer while the matching engine restarts, else None."""
    now = state.now_ms()
    if state.restart.phase(now) != "down":
        return None
    retry = state.restart.retry_after_s(now)
    return JSONResponse({"error": TOO_EARLY}, status_code=425, headers={"Retry-After": str(retry)})


def post_only_window(state: TradingState) -> bool:
    """Whether the engine is in its post-restart post-only mode."""
    return state.restart.phase(state.now_ms()) == "post_only"


def post_only_refusal(state: TradingState) -> Response:
    """``POST /order`` of a non-post-only order during the post-only window (the documented 503)."""
    retry = state.restart.retry_after_s(state.now_ms())
    body = {"error": POST_ONLY_MODE, "code": "post_only_mode", "retry_after_seconds": retry}
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(retry)})


def charge(state: TradingState, creds: ApiCreds, bucket: Bucket, cost: int) -> Verdict | None:
    """Charge the signer's bucket; None when per-signer limits are off."""
    if not state.config.rate_limits_enabled:
        return None
    return state.signer_limits.admit(creds.address, bucket, cost, time.time())


def charge_canceled(state: TradingState, creds: ApiCreds, canceled: int, verdict: Verdict | None) -> Verdict | None:
    """The second debit of cancel-all / cancel-market-orders: one token per order canceled."""
    if verdict is None:
        return None
    return state.signer_limits.charge_after(creds.address, canceled, time.time(), verdict)


def refused(verdict: Verdict | None) -> Response | None:
    """The 429 answer of a request the bucket did not admit, else None."""
    if verdict is None or verdict.admitted:
        return None
    headers = dict(verdict.headers)
    if verdict.retry_after_s is not None:
        headers["Retry-After"] = str(verdict.retry_after_s)
    return JSONResponse({"error": TOO_MANY_REQUESTS}, status_code=429, headers=headers)


def with_headers(response: Response, verdict: Verdict | None) -> Response:
    """Add the limiter's ``Poly-RateLimit-*`` headers to an answer."""
    if verdict is not None:
        response.headers.update(verdict.headers)
    return response


def tier_json(state: TradingState, creds: ApiCreds) -> dict[str, Any]:
    """``GET /v1/user/rate-limit-tier``: the tier of the credentials' signer.

    The documented body (docs "Get rate limit tier"; no recorded answer was found): ``tier`` (lower case, as
    ``Poly-RateLimit-Tier`` spells it, e.g. ``"gold"``), ``period`` (the volume window in days: 30),
    ``tier_details`` (the tier's rates, bursts and negative-balance setting) and ``next_tier_threshold`` (the
    30-day volume of the next tier; omitted at the top). The names inside ``tier_details`` are not in any stored
    source: they are polysim's own, those of ``/_sim/rate-limits``. ``usdc_volume`` (the maker wallet's trailing
    volume, omitted below the lowest paid tier) is always omitted: polysim assigns tiers, it does not earn them.
    """
    tier = state.signer_limits.tier_of(creds.address)
    body: dict[str, Any] = {
        "tier": tier.name,
        "period": 30,
        "tier_details": {"order_rate": tier.order_rate, "order_burst": tier.order_burst,
                         "cancel_rate": tier.cancel_rate, "cancel_burst": tier.cancel_burst,
                         "negative_cancel": tier.negative_cancel},
    }
    threshold = next_tier_threshold(tier.name)
    if threshold is not None:
        body["next_tier_threshold"] = threshold
    return body
