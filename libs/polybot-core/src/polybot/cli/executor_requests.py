"""Asking every running executor at once: a request on core NATS with a reply inbox, and every answer that
arrives within the wait (several executors may answer; none answering is the caller's to report).

``polybot cancel-all`` (``pb.ctl.cancel_all``) and ``polybot risk`` (``pb.ctl.risk_request``) use it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from polybot.bus.messages import BusMessage


async def ask_executors(url: str, label: str, client: str, subject: str, request: BusMessage,
                        answer: type, wait_s: float) -> list[dict[str, Any]]:
    """The answers of type ``answer`` to ``request`` on ``subject``, as JSON objects (no type, no version)."""
    from polybot.bus.codec import DecodeError, decode, encode
    from polybot.cli.connect import connect_bus

    bus = await connect_bus(url, client, label=label)
    answers: list[dict[str, Any]] = []
    try:
        inbox = bus.nc.new_inbox()

        async def on_answer(msg: Any) -> None:
            try:
                got = decode(msg.data)
            except DecodeError:
                return
            if isinstance(got, answer):
                answers.append(got.model_dump(mode="json", exclude={"type", "schema_version"}))

        sub = await bus.nc.subscribe(inbox, cb=on_answer)
        await bus.nc.publish(subject, encode(request), reply=inbox)
        await asyncio.sleep(wait_s)  # every executor that is up answers within it
        await sub.unsubscribe()
    finally:
        await bus.close()
    return answers
