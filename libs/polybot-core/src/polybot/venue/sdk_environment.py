"""Pointing Polymarket's unified SDK (``polymarket-client``, import ``polymarket``) at polysim.

The SDK offers only its PRODUCTION environment: ``polymarket.environments.Environment`` refuses to be built by
callers. Every use of its private hook, ``polymarket._internal.environment`` (``PRODUCTION_CONFIG`` and
``create_environment``), is in this module, so an SDK upgrade that moves it breaks one place, loudly:
``sim_environment`` raises ``SdkEnvironmentError`` naming the hook and the installed version.

What the SDK needs from the environment beyond the CLOB, Gamma and websocket URLs (polymarket-client 0.14.0):

* ``relayer_url``: ``AsyncSecureClient.create`` asks the relayer ``GET /deployed?address=…&type=…`` for every
  wallet that is not the signer itself (proxy, Safe, deposit wallet), and, when ``wallet`` is omitted, to
  choose between the two deposit-wallet derivations. polysim answers it under ``/relayer``.
* ``chain_id``, the exchange contracts and ``wallet_derivation`` stay PRODUCTION's: orders are signed for
  chain 137's V2 exchanges (polysim verifies exactly those) and proxy / Safe / deposit-wallet addresses are
  derived from the signer with production's factories (polysim derives them the same way).
* Every other service URL (data API, RFQ, perps, RPC, realtime, sports, builder gateway) is pointed at the
  simulator's ``/_unsupported/<name>``, which answers 404, so nothing built here can reach a Polymarket host.

Live mode never comes here: it uses ``polymarket.PRODUCTION`` unchanged. This builder refuses Polymarket hosts.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from polymarket.environments import Environment

HOOK = "polymarket._internal.environment"
_HOOK_NAMES = ("PRODUCTION_CONFIG", "create_environment")
# Service URLs of the SDK's environment that polysim does not serve, with the path each is sent to.
_UNSUPPORTED_HTTP = ("data_url", "rfq_url", "perps_url", "rpc_url", "builder_gateway_url", "collateral_return_url")
_UNSUPPORTED_WS = ("rtds_ws_url", "sports_ws_url", "perps_ws_url", "realtime_ws_url", "rfq_quoter_ws_url")


class SdkEnvironmentError(RuntimeError):
    """The unified SDK cannot be pointed at polysim: its private environment hook moved or changed."""


def _sdk_version() -> str:
    try:
        from importlib.metadata import version

        return version("polymarket-client")
    except Exception:  # the package may be missing altogether
        return "unknown"


def _hook_error(detail: str) -> SdkEnvironmentError:
    return SdkEnvironmentError(
        f"polymarket-client {_sdk_version()}: its private hook {HOOK} ({', '.join(_HOOK_NAMES)}) is not usable: "
        f"{detail}. polybot.venue.sdk_environment must be updated for this SDK version."
    )


def _refuse_polymarket_host(name: str, url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        raise ValueError(f"{name} {url!r} has no host")
    if host == "polymarket.com" or host.endswith(".polymarket.com"):
        raise ValueError(f"{name} {url!r} is a Polymarket host: a sim environment never points at the venue")
    return url.rstrip("/")


def sim_environment(
    clob_url: str,
    gamma_url: str,
    ws_url: str,
    *,
    relayer_url: str | None = None,
    name: str = "polysim",
) -> Environment:
    """An SDK ``Environment`` whose CLOB, Gamma, websockets and relayer are polysim's.

    ``clob_url`` is the simulator's base URL (``http://127.0.0.1:8080``), ``gamma_url`` its Gamma
    (``…/gamma``), ``ws_url`` the websocket base (``ws://127.0.0.1:8080``: the channels are ``/ws/market`` and
    ``/ws/user`` below it; a URL already ending in ``/ws`` is accepted). ``relayer_url`` defaults to
    ``clob_url + "/relayer"``. Raises ``ValueError`` for a Polymarket host and ``SdkEnvironmentError`` when
    the SDK's private hook is gone or its configuration no longer has the fields set here.
    """
    clob = _refuse_polymarket_host("clob_url", clob_url)
    gamma = _refuse_polymarket_host("gamma_url", gamma_url)
    ws = _refuse_polymarket_host("ws_url", ws_url).removesuffix("/ws")
    relayer = _refuse_polymarket_host("relayer_url", relayer_url or clob + "/relayer")
    try:
        hook = importlib.import_module(HOOK)
    except ImportError as exc:
        raise _hook_error(f"cannot import it ({exc})") from exc
    missing = [n for n in _HOOK_NAMES if not hasattr(hook, n)]
    if missing:
        raise _hook_error(f"it lacks {', '.join(missing)}")
    base = hook.PRODUCTION_CONFIG
    if not dataclasses.is_dataclass(base) or isinstance(base, type):
        raise _hook_error("PRODUCTION_CONFIG is no longer a dataclass instance")
    ws_unsupported = clob.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    changes: dict[str, str] = {
        "clob_url": clob,
        "gamma_url": gamma,
        "clob_market_ws_url": ws + "/ws/market",
        "clob_user_ws_url": ws + "/ws/user",
        "relayer_url": relayer,
        **{f: f"{clob}/_unsupported/{f.removesuffix('_url')}" for f in _UNSUPPORTED_HTTP},
        **{f: f"{ws_unsupported}/_unsupported/{f.removesuffix('_url')}" for f in _UNSUPPORTED_WS},
    }
    known = {f.name for f in dataclasses.fields(base)}
    absent = sorted(set(changes) - known)
    if absent:
        raise _hook_error(f"its configuration has no {', '.join(absent)}")
    try:
        config = dataclasses.replace(base, **changes)
        environment: Environment = hook.create_environment(name=name, config=config)
    except (TypeError, ValueError) as exc:
        raise _hook_error(f"building the environment failed ({exc})") from exc
    return environment


def environment_urls(environment: Environment) -> dict[str, str]:
    """The service URLs an SDK environment sends requests to (for logs and for the host checks of tests)."""
    try:
        config = importlib.import_module(HOOK).get_environment_config(environment)
    except (ImportError, AttributeError) as exc:
        raise _hook_error(f"cannot read an environment's configuration ({exc})") from exc
    return {f.name: str(getattr(config, f.name)) for f in dataclasses.fields(config) if f.name.endswith("_url")}
