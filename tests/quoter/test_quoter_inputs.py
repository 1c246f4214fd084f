"""The quoter's inputs from JetStream (``InputFollower``) on a NATS of the test's own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from quoter_kit import set_risk

from polybot.app.quote.ports import Input, InputFollower
from polybot.bus.client import Bus
from polybot.runtime.embedded import EmbeddedNats


async def test_the_inputs_are_caught_up_when_pb_control_holds_a_risk_state_and_no_kill_switch(tmp_path: Path) -> None:
    """PB_CONTROL holds the kill switch and the risk states: a stream with messages is not proof that each
    subject has one (waiting for a kill switch nobody ever set would stop the quoter from starting)."""
    server = EmbeddedNats(tmp_path / "nats").start()
    try:
        bus = await Bus.connect(server.url, name="pytest-fresh")
        try:
            await bus.ensure_streams()
            state = await set_risk(bus, "paper", ["0xabc"])
            inputs: asyncio.Queue[Input] = asyncio.Queue()
            follower = InputFollower(bus, inputs)
            await follower.start()
            try:
                await follower.caught_up(5)
            finally:
                await follower.close()
            assert [inputs.get_nowait() for _ in range(inputs.qsize())] == [state]
        finally:
            await bus.close()
    finally:
        server.stop()
