"""A thin wrapper over nats-py: connect, declare streams, publish with de-duplication, consume durably."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, PubAck, StreamConfig
from nats.js.errors import NotFoundError

from polybot.bus.acks import AckInbox, BatchAck
from polybot.bus.codec import decode, encode
from polybot.bus.connection_log import ConnectionLog
from polybot.bus.messages import BusMessage
from polybot.bus.streams import ALL_STREAMS, StreamSpec, book_subjects

log = logging.getLogger(__name__)

Handler = Callable[[BusMessage, Msg], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish; ``message`` may already be encoded (``polybot.bus.codec``)."""

    subject: str
    message: BusMessage | bytes
    msg_id: str

    def payload(self) -> bytes:
        return self.message if isinstance(self.message, bytes) else encode(self.message)


def _stream_config(spec: StreamSpec) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        max_age=spec.max_age_s,
        max_msgs_per_subject=spec.max_msgs_per_subject,
        max_bytes=spec.max_bytes,
        duplicate_window=spec.duplicate_window_s,
    )


class Bus:
    """One NATS connection with its JetStream context."""

    def __init__(self, nc: NatsClient, name: str) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.name = name
        self._acks = AckInbox(nc)

    @classmethod
    async def connect(cls, url: str, name: str, *, connect_timeout_s: float = 5.0) -> Bus:
        """Connect with unbounded reconnects: a restarted nats-server must not take the service down."""
        trouble = ConnectionLog(name)
        nc = await nats.connect(
            servers=[url],
            name=name,
            connect_timeout=connect_timeout_s,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            allow_reconnect=True,
            error_cb=trouble.error,
            disconnected_cb=trouble.disconnected,
            reconnected_cb=trouble.reconnected,
        )
        return cls(nc, name)

    @property
    def is_connected(self) -> bool:
        return bool(self.nc.is_connected)

    async def ping(self, timeout_s: float = 1.0) -> bool:
        """Round-trip to the server; False when unreachable."""
        if not self.nc.is_connected:
            return False
        try:
            await self.nc.flush(timeout=max(1, round(timeout_s)))
        except (TimeoutError, NatsTimeoutError, nats.errors.ConnectionClosedError):
            return False
        return True

    async def ensure_streams(self, specs: Iterable[StreamSpec] = ALL_STREAMS) -> None:
        """Create each stream, or update it to the declared config; safe to run from every service at once."""
        for spec in specs:
            cfg = _stream_config(spec)
            try:
                await self.js.stream_info(spec.name)
            except NotFoundError:
                try:
                    await self.js.add_stream(cfg)
                    continue
                except nats.js.errors.BadRequestError:
                    pass  # another service created it between our two calls
            await self.js.update_stream(cfg)

    async def publish(self, subject: str, message: BusMessage, msg_id: str, timeout_s: float = 5.0) -> PubAck:
        """Publish to JetStream and wait for the ack; a repeated ``msg_id`` is stored once."""
        return await self.js.publish(
            subject, encode(message), timeout=timeout_s, headers={"Nats-Msg-Id": msg_id}
        )

    async def publish_batch(self, batch: Sequence[Outgoing], timeout_s: float = 5.0) -> list[BatchAck]:
        """Publish many messages pipelined, then await every ack (one per message, in order).

        Raises ``polybot.bus.acks.PublishError`` when JetStream refuses any of them and ``TimeoutError`` when
        not all are answered in time; retrying the same batch is safe (``Nats-Msg-Id``)."""
        return await self._acks.publish([(o.subject, o.payload(), o.msg_id) for o in batch], timeout_s)

    async def purge_book(self, asset_id: str) -> None:
        """Delete every stored book message of one asset (deltas, snapshot, state)."""
        for stream, subject in book_subjects(asset_id):
            await self.js.purge_stream(stream.name, subject=subject)

    async def publish_core(self, subject: str, message: BusMessage) -> None:
        """Fire-and-forget publish on core NATS (control traffic that need not be stored)."""
        await self.nc.publish(subject, encode(message))

    async def consume(
        self,
        subject: str,
        durable: str,
        handler: Handler,
        *,
        stream: str | None = None,
        deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
        batch: int = 256,
        stop: asyncio.Event,
    ) -> None:
        """Pull from a durable consumer until ``stop`` is set; ack each message after ``handler`` returns.

        A message that fails to decode is terminated (never redelivered) and logged; a handler error leaves
        the message un-acked so JetStream redelivers it.
        """
        cfg = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=deliver_policy)
        sub = await self.js.pull_subscribe(subject, durable=durable, stream=stream, config=cfg)
        try:
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(batch, timeout=0.5)
                except (TimeoutError, NatsTimeoutError):
                    continue
                for m in msgs:
                    try:
                        decoded = decode(m.data)
                    except ValueError:
                        log.warning("undecodable bus message", extra={"subject": m.subject})
                        await m.term()
                        continue
                    await handler(decoded, m)
                    await m.ack()
        finally:
            await sub.unsubscribe()

    async def close(self) -> None:
        """Drain subscriptions and flush pending publishes, then close."""
        if self.nc.is_closed:
            return
        try:
            await asyncio.wait_for(self.nc.drain(), timeout=5.0)
        except (TimeoutError, nats.errors.ConnectionClosedError):
            await self.nc.close()
