"""Asking the CLOB whether it accepts a set of L2 API credentials: ``GET /auth/api-keys``, signed by hand.

The unified SDK checks credentials the same way when a client is created, but when the venue refuses them it
quietly derives (or creates) others, an L1 call that changes state at the venue. A health check must only
look, so this probe signs the one read itself: the venue's L2 HMAC (``POLY_*`` headers, HMAC-SHA256 over
``timestamp + method + path + body`` keyed by the url-safe base64 secret) and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass

import httpx

API_KEYS_PATH = "/auth/api-keys"


class BadSecret(ValueError):
    """The API secret is not url-safe base64: nothing can be signed with it."""


def l2_signature(secret: str, timestamp: int, method: str, path: str, body: str = "") -> str:
    try:
        raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadSecret("the API secret is not url-safe base64") from exc
    digest = hmac.new(raw, f"{timestamp}{method}{path}{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def l2_headers(address: str, key: str, secret: str, passphrase: str, method: str, path: str,
               timestamp: int, body: str = "") -> dict[str, str]:
    """The venue's L2 headers; ``address`` is the signer's (not the funder's)."""
    return {
        "POLY_ADDRESS": address,
        "POLY_SIGNATURE": l2_signature(secret, timestamp, method, path, body),
        "POLY_TIMESTAMP": str(timestamp),
        "POLY_API_KEY": key,
        "POLY_PASSPHRASE": passphrase,
    }


@dataclass(frozen=True, slots=True)
class ApiKeysAnswer:
    """What ``GET /auth/api-keys`` said: ``status`` None when no answer came (``error`` says why)."""

    status: int | None
    keys: tuple[str, ...] = ()
    error: str | None = None

    def accepts(self, key: str) -> bool:
        return self.status == 200 and key in self.keys


async def fetch_api_keys(clob_url: str, address: str, key: str, secret: str, passphrase: str, *,
                         timeout_s: float = 5.0, now_s: float | None = None) -> ApiKeysAnswer:
    """The API keys the venue lists for the signer, authenticated with these credentials."""
    ts = int(time.time() if now_s is None else now_s)
    headers = l2_headers(address, key, secret, passphrase, "GET", API_KEYS_PATH, ts)
    try:
        async with httpx.AsyncClient(base_url=clob_url.rstrip("/"), timeout=timeout_s) as http:
            res = await http.get(API_KEYS_PATH, headers=headers)
    except httpx.HTTPError as exc:
        return ApiKeysAnswer(None, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if res.status_code != 200:
        return ApiKeysAnswer(res.status_code, error=_error_text(res))
    try:
        listed = res.json().get("apiKeys")
    except (ValueError, AttributeError):
        listed = None
    if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
        return ApiKeysAnswer(200, error="the answer has no apiKeys list")
    return ApiKeysAnswer(200, tuple(listed))


def _error_text(res: httpx.Response) -> str:
    try:
        body = res.json()
        text = body.get("error") if isinstance(body, dict) else None
    except ValueError:
        text = None
    return f"HTTP {res.status_code}" + (f": {text}" if isinstance(text, str) and text else "")
