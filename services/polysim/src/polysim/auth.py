"""Polymarket's two authentication levels, as the venue checks them.

L1 (creating or deriving API credentials): an EIP-712 ``ClobAuth`` signature, domain
``{name: "ClobAuthDomain", version: "1", chainId}`` with no verifying contract, that must recover to
``POLY_ADDRESS``; ``POLY_TIMESTAMP`` must be recent.

L2 (every private call): ``POLY_SIGNATURE = base64url(HMAC_SHA256(base64url_decode(secret),
ts + METHOD + path_without_query + body))`` with ``=`` padding, where body is the exact text received (the SDKs
replace ``'`` by ``"`` before signing, so the server does the same).

Credentials are a pure function of (server secret, address, nonce), so ``derive`` returns what ``create``
returned; the registry only remembers which ones were created.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from eth_utils.address import to_checksum_address

from polysim.trading_eip712 import (
    domain_separator,
    recover_address,
    same_address,
    struct_hash,
    type_hash,
    typed_data_digest,
    word_address,
    word_string,
    word_uint,
)

CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
_CLOB_AUTH_TYPE = type_hash("ClobAuth(address address,string timestamp,uint256 nonce,string message)")

L1_ERROR = "Invalid L1 Request headers"
L2_ERROR = "Unauthorized/Invalid api key"
CREATE_ERROR = "Could not create api key"
DERIVE_ERROR = "Could not derive api key!"
_RESTORE_NONCES = 4


class AuthError(Exception):
    """A request refused by authentication; carries the venue's HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class ApiCreds:
    """One set of L2 credentials and the wallet they belong to."""

    api_key: str
    secret: str
    passphrase: str
    address: str  # checksummed
    nonce: int


def clob_auth_digest(address: str, timestamp: str, nonce: int, chain_id: int) -> bytes:
    """The digest a wallet signs for L1 auth (timestamp is the header's string, signed as a string)."""
    domain = domain_separator("ClobAuthDomain", "1", chain_id)
    body = struct_hash(
        _CLOB_AUTH_TYPE,
        word_address(address),
        word_string(timestamp),
        word_uint(nonce),
        word_string(CLOB_AUTH_MESSAGE),
    )
    return typed_data_digest(domain, body)


def l2_signature(secret: str, timestamp: str, method: str, path: str, body: str) -> str:
    """The L2 HMAC exactly as the SDKs compute it."""
    message = f"{timestamp}{method}{path}{body.replace(chr(39), chr(34))}"
    digest = hmac.new(base64.urlsafe_b64decode(secret), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Starlette's Headers are case-insensitive; plain dicts in unit tests may use either case.
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def _fresh(timestamp: str, now_s: float, window_s: float) -> bool:
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    return abs(now_s - ts) <= window_s


class CredentialStore:
    """API credentials of every wallet that authenticated, indexed by API key."""

    def __init__(self, server_secret: bytes, chain_id: int, window_s: Callable[[], float]) -> None:
        self._server_secret = server_secret
        self.chain_id = chain_id
        self._window_s = window_s
        self._by_key: dict[str, ApiCreds] = {}
        self._created: set[tuple[str, int]] = set()

    def creds_for(self, address: str, nonce: int) -> ApiCreds:
        """The deterministic credentials of (address, nonce); does not register them."""
        seed = hmac.new(
            self._server_secret, f"{address.lower()}:{nonce}".encode(), hashlib.sha256
        ).digest()
        api_key = str(uuid.UUID(bytes=seed[:16]))
        secret_raw = hmac.new(self._server_secret, b"secret" + seed, hashlib.sha256).digest()
        passphrase = hmac.new(self._server_secret, b"passphrase" + seed, hashlib.sha256).hexdigest()
        return ApiCreds(
            api_key=api_key,
            secret=base64.urlsafe_b64encode(secret_raw).decode("ascii"),
            passphrase=passphrase,
            address=address,
            nonce=nonce,
        )

    def verify_l1(self, headers: Mapping[str, str], now_s: float) -> tuple[str, int]:
        """Check L1 headers; return (checksummed address, nonce) or raise ``AuthError(401)``."""
        address = _header(headers, "POLY_ADDRESS")
        signature = _header(headers, "POLY_SIGNATURE")
        timestamp = _header(headers, "POLY_TIMESTAMP")
        nonce_text = _header(headers, "POLY_NONCE") or "0"
        if not address or not signature or not timestamp:
            raise AuthError(401, L1_ERROR)
        try:
            nonce = int(nonce_text)
            digest = clob_auth_digest(address, timestamp, nonce, self.chain_id)
        except ValueError as exc:
            raise AuthError(401, L1_ERROR) from exc
        if not _fresh(timestamp, now_s, self._window_s()):
            raise AuthError(401, L1_ERROR)
        signer = recover_address(digest, signature)
        if signer is None or not same_address(signer, address):
            raise AuthError(401, L1_ERROR)
        return to_checksum_address(signer), nonce

    def create(self, address: str, nonce: int) -> ApiCreds:
        """Register new credentials; 400 when (address, nonce) already has a key, as the venue does."""
        slot = (address.lower(), nonce)
        if slot in self._created:
            raise AuthError(400, CREATE_ERROR)
        creds = self.creds_for(address, nonce)
        self._created.add(slot)
        self._by_key[creds.api_key] = creds
        return creds

    def derive(self, address: str, nonce: int) -> ApiCreds:
        """The credentials created earlier for (address, nonce); 400 when none were."""
        if (address.lower(), nonce) not in self._created:
            raise AuthError(400, DERIVE_ERROR)
        return self.creds_for(address, nonce)

    def by_key(self, api_key: str) -> ApiCreds | None:
        """Registered credentials for an API key."""
        return self._by_key.get(api_key)

    def keys_of(self, address: str) -> list[str]:
        """Every API key created for ``address`` (all its nonces), by nonce: what ``GET /auth/api-keys`` lists."""
        owned = sorted(nonce for addr, nonce in self._created if addr == address.lower())
        return [self.creds_for(address, nonce).api_key for nonce in owned]

    def _restore(self, api_key: str, address: str) -> ApiCreds | None:
        # A restarted simulator with the same seed recognises keys it handed out before (low nonces only).
        for nonce in range(_RESTORE_NONCES):
            creds = self.creds_for(address, nonce)
            if creds.api_key == api_key:
                self._created.add((address.lower(), nonce))
                self._by_key[api_key] = creds
                return creds
        return None

    def check_ws_auth(self, api_key: str, secret: str, passphrase: str) -> ApiCreds | None:
        """The user channel authenticates with the raw creds; all three must match."""
        creds = self._by_key.get(api_key)
        if creds is None:
            return None
        ok = hmac.compare_digest(creds.secret, secret) and hmac.compare_digest(creds.passphrase, passphrase)
        return creds if ok else None

    def verify_l2(
        self, headers: Mapping[str, str], method: str, path: str, body: str, now_s: float
    ) -> ApiCreds:
        """Check L2 headers over (method, path, body); return the caller's creds or raise ``AuthError(401)``."""
        address = _header(headers, "POLY_ADDRESS")
        signature = _header(headers, "POLY_SIGNATURE")
        timestamp = _header(headers, "POLY_TIMESTAMP")
        api_key = _header(headers, "POLY_API_KEY")
        passphrase = _header(headers, "POLY_PASSPHRASE")
        if not (address and signature and timestamp and api_key and passphrase):
            raise AuthError(401, L2_ERROR)
        creds = self._by_key.get(api_key) or self._restore(api_key, address)
        if creds is None or not hmac.compare_digest(creds.passphrase, passphrase):
            raise AuthError(401, L2_ERROR)
        if not same_address(creds.address, address) or not _fresh(timestamp, now_s, self._window_s()):
            raise AuthError(401, L2_ERROR)
        try:
            expected = l2_signature(creds.secret, timestamp, method.upper(), path, body)
        except (binascii.Error, ValueError) as exc:
            raise AuthError(401, L2_ERROR) from exc
        if not hmac.compare_digest(expected, signature):
            raise AuthError(401, L2_ERROR)
        return creds
