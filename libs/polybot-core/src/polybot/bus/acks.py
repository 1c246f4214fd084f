"""Pipelined JetStream publishing with every ack collected on one inbox subscription.

A JetStream publish is a core publish with a reply subject; the server answers each one with a ``PubAck``
(or an error) on that subject. nats-py's ``publish_async`` pays, per message, for a fresh token, a future,
a semaphore and a done-callback; at tens of thousands of book messages a second that bookkeeping costs
more than the publish itself. Here a batch shares one future: each message's reply subject is
``<inbox>.<batch>.<index>``, one wildcard subscription counts the answers, and the batch completes when
every message is answered. Every message still gets its own ack, and an error on any fails the batch.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import NamedTuple

import orjson
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg


class BatchAck(NamedTuple):
    """JetStream's answer to one published message."""

    stream: str
    seq: int
    duplicate: bool


class PublishError(RuntimeError):
    """JetStream refused at least one message of a batch (no stream for the subject, limits, …).

    ``refused`` maps each refused message's index in the batch to JetStream's reason; ``transient`` is true
    for a reason that says nothing about the message itself (no stream listens on the subject: 503)."""

    def __init__(self, message: str, refused: dict[int, Refusal] | None = None) -> None:
        super().__init__(message)
        self.refused = refused or {}


class Refusal(NamedTuple):
    reason: str
    transient: bool


class _Pending:
    __slots__ = ("acks", "done", "errors", "left")

    def __init__(self, size: int, done: asyncio.Future[None]) -> None:
        self.acks: list[BatchAck | None] = [None] * size
        self.errors: dict[int, Refusal] = {}
        self.left = size
        self.done = done


class AckInbox:
    """One connection's ack inbox: ``publish`` a batch, await all of its acks."""

    def __init__(self, nc: NatsClient) -> None:
        self._nc = nc
        self._prefix = ""
        self._ids = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._lock = asyncio.Lock()

    async def _ensure(self) -> None:
        if self._prefix:
            return
        async with self._lock:
            if not self._prefix:
                prefix = self._nc.new_inbox()
                await self._nc.subscribe(f"{prefix}.*.*", cb=self._on_ack)
                self._prefix = prefix

    async def publish(self, items: Sequence[tuple[str, bytes, str]], timeout_s: float) -> list[BatchAck]:
        """Publish ``(subject, payload, msg_id)`` in order; return their acks, or raise ``PublishError`` /
        ``TimeoutError``. A retry with the same msg ids is stored once (``Nats-Msg-Id``)."""
        if not items:
            return []
        await self._ensure()
        batch_id = str(next(self._ids))
        pending = _Pending(len(items), asyncio.get_running_loop().create_future())
        self._pending[batch_id] = pending
        reply = f"{self._prefix}.{batch_id}."
        publish = self._nc.publish
        try:
            for i, (subject, payload, msg_id) in enumerate(items):
                await publish(subject, payload, reply=reply + str(i), headers={"Nats-Msg-Id": msg_id})
            async with asyncio.timeout(timeout_s):
                await pending.done
        finally:
            del self._pending[batch_id]
        if pending.errors:
            first = next(iter(pending.errors.values()))
            raise PublishError(f"{len(pending.errors)} of {len(items)} messages refused: {first.reason}",
                               dict(pending.errors))
        return [a for a in pending.acks if a is not None]

    async def _on_ack(self, msg: Msg) -> None:
        _, batch_id, index = msg.subject.rsplit(".", 2)
        pending = self._pending.get(batch_id)
        if pending is None:
            return  # a batch that already timed out (its retry has other reply subjects)
        i = int(index)
        if pending.acks[i] is not None:
            return
        ack = _parse(msg)
        if isinstance(ack, Refusal):
            pending.errors[i] = ack
            pending.acks[i] = BatchAck("", 0, False)
        else:
            pending.acks[i] = ack
        pending.left -= 1
        if pending.left == 0 and not pending.done.done():
            pending.done.set_result(None)


def _parse(msg: Msg) -> BatchAck | Refusal:
    """An ack, or the reason it is not one."""
    if not msg.data:  # a status message: 503 means no stream listens on the subject
        status = (msg.headers or {}).get("Status", "?")
        return Refusal(f"status {status} (no stream for the subject?)", transient=True)
    try:
        body = orjson.loads(msg.data)
    except orjson.JSONDecodeError:
        return Refusal(f"unreadable ack {msg.data[:100]!r}", transient=True)
    error = body.get("error")
    if error is not None:
        # 503 is the server's "not now" (no responders, cluster not ready); anything else is about the message
        return Refusal(f"{error.get('code')} {error.get('err_code', '')} {error.get('description')}".strip(),
                       transient=error.get("code") == 503)
    return BatchAck(body.get("stream", ""), int(body.get("seq", 0)), bool(body.get("duplicate", False)))
