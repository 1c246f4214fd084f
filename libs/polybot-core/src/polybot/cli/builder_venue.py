"""The checks of ``polybot builder-health`` that ask the venue: the signer, the wallet, L2 credentials, the relayer.

The venue is the executor's: polysim's URLs in ``sim`` (and ``paper``) mode, Polymarket's PRODUCTION
environment in ``live`` mode, exactly as ``polybot.app.execute.gateways`` builds it. Nothing here changes
state at the venue: the L2 credentials are checked with a signed read (``polybot.venue.l2_probe``) before the
SDK, which would derive new ones, ever sees them; a proxy, Safe or deposit wallet is looked up on the relayer
(``GET /deployed``) before the SDK, which would deploy a missing deposit wallet, is built for it.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import httpx

from polybot.cli.builder_checks import (
    LOCAL_FIELDS,
    REMOTE_FIELDS,
    Check,
    Report,
    builder_credentials,
    builder_kind,
    can_builder_auth,
    presence,
    scrub,
    secret_values,
    tail,
    value_of,
)
from polybot.runtime.settings import Settings

if TYPE_CHECKING:
    from polymarket.environments import Environment

L2_FIELDS = ("api_key", "api_secret", "api_passphrase")
FUNDER_FIELDS = ("executor.funder", "executor.signature_type")
# The configured signature type → what the SDK calls that wallet, and the relayer's type for /deployed.
_SDK_WALLET = {"eoa": "EOA", "proxy": "POLY_PROXY", "safe": "GNOSIS_SAFE", "deposit_wallet": "DEPOSIT_WALLET"}
_RELAYER_TYPE = {"proxy": "PROXY", "safe": "SAFE", "deposit_wallet": "WALLET"}
_SIGNATURE_NUMBER = {"eoa": 0, "proxy": 1, "safe": 2, "deposit_wallet": 3}


def _signer(settings: Settings) -> tuple[Check, str | None]:
    from eth_account import Account

    key = value_of(settings.private_key)
    if key is None:
        return Check("signer", "missing", ("private_key",), "private_key is not set (POLYBOT_PRIVATE_KEY)"), None
    try:
        address: str = Account.from_key(key).address
    except (ValueError, TypeError):
        return Check("signer", "invalid", ("private_key",), "private_key is not a 32-byte hex private key"), None
    return Check("signer", "ok", ("private_key",), f"address {address}"), address


def _funder(settings: Settings, signer: str | None) -> Check:
    from eth_utils.address import is_address, to_checksum_address

    ex = settings.executor
    kind = ex.signature_type
    label = f"signature type {_SIGNATURE_NUMBER[kind]} ({kind})"
    if ex.funder is not None and not is_address(ex.funder):
        return Check("funder", "invalid", FUNDER_FIELDS, f"executor.funder {ex.funder!r} is not an address")
    if kind == "eoa":
        if signer is None:
            return Check("funder", "invalid", ("private_key", *FUNDER_FIELDS), "not checked: needs private_key")
        if ex.funder is not None and to_checksum_address(ex.funder) != signer:
            return Check("funder", "invalid", FUNDER_FIELDS,
                         f"{label} trades from the signer's own address {signer}, but executor.funder is "
                         f"{to_checksum_address(ex.funder)}: set executor.signature_type to that wallet's type")
        return Check("funder", "ok", FUNDER_FIELDS, f"{label}: the signer {signer} holds the funds")
    if ex.funder is None:
        return Check("funder", "missing", FUNDER_FIELDS,
                     f"{label} needs executor.funder, the wallet's address (POLYBOT_EXECUTOR__FUNDER)")
    return Check("funder", "ok", FUNDER_FIELDS, f"{label}: wallet {to_checksum_address(ex.funder)}")


async def _l2(settings: Settings, signer: str | None) -> Check:
    named = dict(zip(L2_FIELDS, (value_of(settings.api_key), value_of(settings.api_secret),
                                 value_of(settings.api_passphrase)), strict=True))
    problem = presence("l2_credentials", named)
    if problem is not None:
        return problem
    if signer is None:
        return Check("l2_credentials", "invalid", ("private_key", *L2_FIELDS), "not checked: needs private_key")
    from polybot.venue.l2_probe import BadSecret, fetch_api_keys

    key, secret, passphrase = (str(named[f]) for f in L2_FIELDS)
    url = settings.executor.clob_url
    try:
        answer = await fetch_api_keys(url, signer, key, secret, passphrase,
                                      timeout_s=settings.executor.request_timeout_s)
    except BadSecret:
        return Check("l2_credentials", "invalid", ("api_secret", *L2_FIELDS), "api_secret is not url-safe base64")
    if answer.accepts(key):
        return Check("l2_credentials", "ok", L2_FIELDS, f"api key {tail(key)} accepted by GET /auth/api-keys")
    if answer.status is None:
        return Check("l2_credentials", "invalid", ("executor.clob_url", *L2_FIELDS),
                     f"the venue at {url} did not answer GET /auth/api-keys ({answer.error})")
    why = answer.error or f"it lists {len(answer.keys)} other key(s), not this one"
    return Check("l2_credentials", "invalid", L2_FIELDS,
                 f"the venue refuses api key {tail(key)} for {signer} on GET /auth/api-keys: {why}")


def _environment(settings: Settings) -> Environment:
    ex = settings.executor
    if settings.mode == "live":
        from polymarket import PRODUCTION

        return PRODUCTION
    from polybot.venue.sdk_environment import sim_environment

    return sim_environment(ex.clob_url, ex.gamma_url, ex.ws_user_url.removesuffix("/user").removesuffix("/ws"))


async def _deployed(relayer_url: str, wallet: str, kind: str, timeout_s: float) -> bool:
    async with httpx.AsyncClient(base_url=relayer_url, timeout=timeout_s) as http:
        res = await http.get("/deployed", params={"address": wallet, "type": _RELAYER_TYPE[kind]})
        res.raise_for_status()
        return bool(res.json().get("deployed"))


async def _relayer(settings: Settings, signer: str | None, needs: list[Check], builder: Check) -> tuple[Check, str]:
    """The relayer check and the SDK's name for the wallet ('' when no client was built)."""
    blocking = [c for c in needs if not c.ok]
    if blocking:
        return Check("relayer", "invalid", blocking[0].fields,
                     f"not checked: needs {blocking[0].name} ({blocking[0].fields[0]}) first"), ""
    if builder_kind(settings) == "remote":
        return Check("relayer", "invalid", REMOTE_FIELDS,
                     "polymarket-client signs relayer requests with a local Builder API key only; a remote signer "
                     "needs py-builder-relayer-client, which is not installed: configure "
                     f"{', '.join(LOCAL_FIELDS)} instead"), ""
    from polymarket import AsyncSecureClient, BuilderApiKey
    from polymarket.errors import PolymarketError
    from polymarket.models.clob.api_key import ApiKeyCreds

    from polybot.venue.sdk_environment import SdkEnvironmentError, environment_urls

    ex = settings.executor
    try:
        environment = _environment(settings)
        relayer_url = environment_urls(environment)["relayer_url"]
    except (ValueError, SdkEnvironmentError) as exc:
        return Check("relayer", "invalid", ("executor.clob_url",), str(exc)), ""
    wallet = ex.funder or signer or ""
    timeout = ex.request_timeout_s
    if ex.signature_type != "eoa":
        try:
            if not await _deployed(relayer_url, wallet, ex.signature_type, timeout):
                return Check("relayer", "invalid", FUNDER_FIELDS,
                             f"the relayer at {relayer_url} does not know wallet {wallet} as deployed: deploy it "
                             "deliberately (this check never does)"), ""
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            return Check("relayer", "invalid", ("executor.clob_url",),
                         f"the relayer at {relayer_url} did not answer GET /deployed ({type(exc).__name__})"), ""
    creds = ApiKeyCreds.model_validate({"apiKey": value_of(settings.api_key), "secret": value_of(settings.api_secret),
                                        "passphrase": value_of(settings.api_passphrase)})
    builder_key = BuilderApiKey(key=value_of(ex.builder_api_key) or "", secret=value_of(ex.builder_secret) or "",
                                passphrase=value_of(ex.builder_passphrase) or "")
    kwargs: dict[str, Any] = {"private_key": value_of(settings.private_key), "wallet": wallet,
                              "environment": environment, "credentials": creds, "api_key": builder_key}
    try:
        client = await asyncio.wait_for(AsyncSecureClient.create(**kwargs), 3 * timeout)
    except (PolymarketError, OSError, TimeoutError, ValueError) as exc:
        why = scrub(str(exc) or type(exc).__name__, secret_values(settings))
        return Check("relayer", "invalid", (builder.fields[0],), f"the SDK client could not be built: {why}"), ""
    try:
        if client.credentials.key != creds.key:  # never expected after the probe: the SDK swapped the creds
            return Check("relayer", "invalid", L2_FIELDS, "the SDK did not keep the configured L2 credentials"), ""
        kind = str(client.wallet_type)
        return Check("relayer", "ok", builder.fields,
                     f"polymarket-client {version('polymarket-client')} relayer at {relayer_url} with Builder key "
                     f"{tail(builder_key.key)}, wallet {client.wallet} ({kind})"), kind
    finally:
        await client.close()


def _wallet_matches(settings: Settings, funder: Check, sdk_kind: str) -> Check:
    expected = _SDK_WALLET[settings.executor.signature_type]
    if not sdk_kind or sdk_kind == expected:
        return funder
    return Check("funder", "invalid", ("executor.signature_type", "executor.funder"),
                 f"executor.signature_type is {settings.executor.signature_type!r}, but the SDK classifies "
                 f"executor.funder as a {sdk_kind} wallet of this signer")


async def diagnose(settings: Settings) -> Report:
    report = Report(settings.mode, settings.executor.clob_url)
    signer_check, signer = _signer(settings)
    funder = _funder(settings, signer)
    l2 = await _l2(settings, signer)
    builder = builder_credentials(settings)
    relayer, sdk_kind = await _relayer(settings, signer, [signer_check, funder, l2, builder], builder)
    report.checks = [signer_check, _wallet_matches(settings, funder, sdk_kind), l2, builder,
                     can_builder_auth(builder), relayer]
    if settings.mode == "live" and settings.executor.signature_type == "eoa":
        report.warnings.append("live mode with a plain EOA maker (signature type 0): new accounts must trade "
                               "from the deposit wallet (executor.signature_type = 'deposit_wallet' and "
                               "executor.funder = its address)")
    return report
