"""Messages through a real JetStream: exact round-trip, de-duplication by Nats-Msg-Id, durable consumers."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from nats.js.api import DeliverPolicy

from polybot.bus import subjects
from polybot.bus.client import Bus, Outgoing
from polybot.bus.codec import DecodeError, decode, encode
from polybot.bus.messages import BookDelta, BusMessage, LevelUpdate, QuoteOrder, QuotePlan
from polybot.bus.streams import BOOK_DELTAS


def _delta(asset: str, seq: int) -> BookDelta:
    return BookDelta(
        asset_id=asset,
        market="0xmarket",
        seq=seq,
        ts_ms=1_700_000_000_000 + seq,
        recv_ts_ms=1_700_000_000_001 + seq,
        changes=(LevelUpdate(side="BUY", price=Decimal("0.48"), size=Decimal("120.50")),),
        hash="ab" * 20,
        best_bid=Decimal("0.48"),
    )


def test_codec_round_trip_keeps_decimal_exact() -> None:
    msg = _delta("1", 7)
    raw = encode(msg)
    assert b'"price":"0.48"' in raw and b'"size":"120.50"' in raw  # readable, never a float
    assert decode(raw) == msg


def test_codec_rejects_unknown_type() -> None:
    with pytest.raises(DecodeError):
        decode(b'{"type":"nope","schema_version":1}')


async def test_round_trip_and_dedup_through_jetstream(bus: Bus) -> None:
    asset = uuid.uuid4().hex
    subject = subjects.book_delta(asset)
    first = await bus.publish(subject, _delta(asset, 1), msg_id=f"{asset}:1")
    again = await bus.publish(subject, _delta(asset, 1), msg_id=f"{asset}:1")
    assert first.stream == BOOK_DELTAS.name
    assert not first.duplicate and again.duplicate and again.seq == first.seq
    await bus.publish_batch([Outgoing(subject, _delta(asset, s), f"{asset}:{s}") for s in (2, 3, 2)])

    got: list[BusMessage] = []
    stop = asyncio.Event()

    async def handler(msg: BusMessage, _raw: object) -> None:
        got.append(msg)
        if len(got) >= 3:
            stop.set()

    task = asyncio.create_task(
        bus.consume(subject, f"t_{asset[:10]}", handler, deliver_policy=DeliverPolicy.ALL, stop=stop)
    )
    await asyncio.wait_for(stop.wait(), timeout=10)
    await task
    assert [m.seq for m in got if isinstance(m, BookDelta)] == [1, 2, 3]
    assert got[0] == _delta(asset, 1)
    info = await bus.js.stream_info(BOOK_DELTAS.name, subjects_filter=subject)
    assert info.state.subjects == {subject: 3}


async def test_ensure_streams_is_idempotent(bus: Bus) -> None:
    await asyncio.gather(bus.ensure_streams(), bus.ensure_streams())
    info = await bus.js.stream_info(BOOK_DELTAS.name)
    assert info.config.duplicate_window == BOOK_DELTAS.duplicate_window_s


async def test_plan_message_survives_the_bus(bus: Bus) -> None:
    plan = QuotePlan(plan_id=uuid.uuid4().hex, market="0xm", seq=7, created_ts_ms=1, ttl_ms=3000,
                     tick_size=Decimal("0.01"), keep_ticks=1, keep_size_frac=Decimal("0.2"), reason="quote",
                     orders=(QuoteOrder(asset_id="1", side="BUY", price=Decimal("0.45"), size=Decimal("10")),))
    subject = subjects.quote_plan(f"m{plan.plan_id[:8]}")
    ack = await bus.publish(subject, plan, msg_id=plan.plan_id)
    msg = await bus.js.get_msg(ack.stream, ack.seq)
    assert msg.data is not None and decode(msg.data) == plan
