"""The NATS connection's trouble is logged once per kind per quiet period, with what was held back counted."""

from __future__ import annotations

import logging

import pytest

from polybot.bus.connection_log import ConnectionLog, RepeatGate


def test_the_gate_admits_the_first_of_a_kind_then_one_per_quiet_period_and_counts_the_rest() -> None:
    gate = RepeatGate(quiet_s=30)
    assert gate.admit("refused", 0.0) == 0
    assert [gate.admit("refused", t) for t in (0.5, 1.0, 29.9)] == [None, None, None]
    assert gate.admit("timeout", 1.0) == 0  # another kind is not held back by the first
    assert gate.admit("refused", 30.0) == 3
    assert gate.admit("refused", 30.5) is None
    assert gate.drain() == 1
    assert gate.admit("refused", 31.0) == 0  # after a reconnect the next outage is reported at once


async def test_an_outage_is_one_warning_per_half_minute_and_the_reconnect_counts_the_rest(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    trouble = ConnectionLog("svc", clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="polybot.bus.connection_log"):
        await trouble.disconnected()
        for i in range(120):  # a minute of refused attempts every 0.5 s
            now[0] = i * 0.5
            await trouble.error(ConnectionRefusedError(111, "Connection refused"))
        await trouble.reconnected()
    msgs = [(r.getMessage(), getattr(r, "repeats_held_back", None), getattr(r, "errors_held_back", None))
            for r in caplog.records]
    assert msgs[0] == ("NATS disconnected; reconnecting", None, None)
    assert msgs[1:3] == [("NATS connection error", 0, None), ("NATS connection error", 59, None)]
    assert msgs[3:] == [("NATS reconnected", None, 59)]
