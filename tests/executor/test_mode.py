"""Live trading is opt-in twice; sim never reaches Polymarket; live never signs for a local host."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from polybot.app.execute.mode import mode_problem
from polybot.runtime.settings import ExecutorSettings, Settings

KEY = SecretStr("0x" + "11" * 32)
LIVE_URLS = ExecutorSettings(clob_url="https://clob.polymarket.com",
                             ws_user_url="wss://ws-subscriptions-clob.polymarket.com/ws/user",
                             gamma_url="https://gamma-api.polymarket.com")


def test_paper_and_sim_on_polysim_start() -> None:
    assert mode_problem(Settings(mode="paper")) is None
    assert mode_problem(Settings(mode="sim")) is None


def test_sim_refuses_a_polymarket_host() -> None:
    got = mode_problem(Settings(mode="sim", executor=LIVE_URLS))
    assert got is not None and "refuses the Polymarket host" in got and "clob.polymarket.com" in got


def test_live_needs_the_key_and_the_confirmation() -> None:
    with pytest.raises(ValidationError, match="POLYBOT_PRIVATE_KEY"):
        Settings(mode="live", executor=LIVE_URLS)  # no key: refused at load already
    got = mode_problem(Settings(mode="live", private_key=KEY, executor=LIVE_URLS))
    assert got is not None and "live confirmation" in got and "POLYBOT_CONFIRM_LIVE" in got
    assert mode_problem(Settings(mode="live", private_key=KEY, confirm_live=True, executor=LIVE_URLS)) is None


def test_live_refuses_a_local_host() -> None:
    got = mode_problem(Settings(mode="live", private_key=KEY, confirm_live=True))
    assert got is not None and "refuses the local host" in got and "127.0.0.1" in got
