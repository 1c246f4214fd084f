"""``polybot.venue.sdk_environment``: the unified SDK pointed at polysim through its private hook, loudly broken
when the hook moves, never pointed at a Polymarket host."""

from __future__ import annotations

import dataclasses
import sys
from urllib.parse import urlsplit

import pytest

from polybot.venue.sdk_environment import HOOK, SdkEnvironmentError, environment_urls, sim_environment

SIM = "http://127.0.0.1:8123"


def test_every_service_url_is_the_simulators() -> None:
    environment = sim_environment(SIM, SIM + "/gamma", "ws://127.0.0.1:8123/ws/")
    urls = environment_urls(environment)
    assert urls["clob_url"] == SIM and urls["gamma_url"] == SIM + "/gamma" and urls["relayer_url"] == SIM + "/relayer"
    assert (urls["clob_market_ws_url"], urls["clob_user_ws_url"]) == (
        "ws://127.0.0.1:8123/ws/market", "ws://127.0.0.1:8123/ws/user")
    hosts = {urlsplit(u).hostname for u in urls.values()}
    assert hosts == {"127.0.0.1"}, urls  # no URL of the SDK's environment is left at a Polymarket host
    assert environment.name == "polysim"
    from polymarket._internal.environment import PRODUCTION_CONFIG, get_environment_config

    config = get_environment_config(environment)
    assert (config.chain_id, config.standard_exchange) == (137, PRODUCTION_CONFIG.standard_exchange)


@pytest.mark.parametrize("field", ["clob_url", "gamma_url", "ws_url", "relayer_url"])
def test_polymarket_hosts_are_refused(field: str) -> None:
    args = {"clob_url": SIM, "gamma_url": SIM + "/gamma", "ws_url": "ws://127.0.0.1:8123"}
    venue = "wss://ws-subscriptions-clob.polymarket.com" if field == "ws_url" else "https://clob.polymarket.com"
    with pytest.raises(ValueError, match="Polymarket host"):
        if field == "relayer_url":
            sim_environment(**args, relayer_url="https://relayer-v2.polymarket.com")
        else:
            sim_environment(**{**args, field: venue})


def test_a_moved_hook_fails_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "polymarket._internal.environment", None)  # import now fails
    with pytest.raises(SdkEnvironmentError, match=HOOK.replace(".", r"\.")) as err:
        sim_environment(SIM, SIM + "/gamma", "ws://127.0.0.1:8123")
    assert "polymarket-client 0.14.0" in str(err.value)


def test_a_changed_hook_fails_naming_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import polymarket._internal.environment as hook

    monkeypatch.delattr(hook, "create_environment")
    with pytest.raises(SdkEnvironmentError, match="lacks create_environment"):
        sim_environment(SIM, SIM + "/gamma", "ws://127.0.0.1:8123")
    monkeypatch.undo()

    @dataclasses.dataclass(frozen=True)
    class Renamed:
        chain_id: int = 137
        clob_host: str = "https://clob.polymarket.com"

    monkeypatch.setattr(hook, "PRODUCTION_CONFIG", Renamed())
    with pytest.raises(SdkEnvironmentError, match=r"configuration has no .*clob_url"):
        sim_environment(SIM, SIM + "/gamma", "ws://127.0.0.1:8123")
