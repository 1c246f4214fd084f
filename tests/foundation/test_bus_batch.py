"""Pipelined publishing (``Bus.publish_batch`` over ``polybot.bus.acks``) against a real nats-server, and the
ingestor's direct ``BookDelta`` encoder against the pydantic model it must equal byte for byte."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polybot.bus import subjects
from polybot.bus.acks import PublishError
from polybot.bus.client import Bus, Outgoing
from polybot.bus.codec import decode, encode, encode_book_delta
from polybot.bus.messages import BookDelta, LevelUpdate
from polybot.bus.streams import BOOK_DELTAS


def _delta(asset: str, seq: int) -> BookDelta:
    return BookDelta(asset_id=asset, market="0xm", seq=seq, ts_ms=seq, recv_ts_ms=seq,
                     changes=(LevelUpdate(side="SELL", price=Decimal("0.52"), size=Decimal(seq)),))


async def test_every_message_of_a_batch_is_acked_in_order_and_repeats_are_flagged(bus: Bus) -> None:
    asset = uuid.uuid4().hex
    subject = subjects.book_delta(asset)
    batch = [Outgoing(subject, _delta(asset, s), f"{asset}:{s}") for s in range(1, 301)]
    acks = await bus.publish_batch(batch)
    assert [a.stream for a in acks] == [BOOK_DELTAS.name] * 300 and not any(a.duplicate for a in acks)
    assert [a.seq for a in acks] == sorted(a.seq for a in acks) and len({a.seq for a in acks}) == 300
    again = await bus.publish_batch([*batch[:5], Outgoing(subject, encode(_delta(asset, 301)), f"{asset}:301")])
    assert [a.duplicate for a in again] == [True] * 5 + [False]  # a retried batch is stored once
    assert [a.seq for a in again[:5]] == [a.seq for a in acks[:5]]
    info = await bus.js.stream_info(BOOK_DELTAS.name, subjects_filter=subject)
    assert info.state.subjects == {subject: 301}


async def test_a_subject_no_stream_stores_fails_the_batch(bus: Bus) -> None:
    asset = uuid.uuid4().hex
    good = Outgoing(subjects.book_delta(asset), _delta(asset, 1), f"{asset}:1")
    lost = Outgoing(f"pb.nowhere.{asset}", _delta(asset, 2), f"{asset}:2")
    with pytest.raises(PublishError, match="1 of 2"):
        await bus.publish_batch([good, lost], timeout_s=2.0)


async def test_unanswered_acks_time_out(bus: Bus) -> None:
    asset = uuid.uuid4().hex
    await bus.nc.subscribe(f"pb.test.silent.{asset}", cb=_ignore)  # a responder that never answers
    batch = [Outgoing(f"pb.test.silent.{asset}", _delta(asset, 1), f"{asset}:1")]
    with pytest.raises(TimeoutError):
        await bus.publish_batch(batch, timeout_s=0.3)
    acks = await bus.publish_batch([Outgoing(subjects.book_delta(asset), _delta(asset, 1), f"{asset}:1")])
    assert len(acks) == 1 and not acks[0].duplicate  # the inbox still works after a timeout


async def test_concurrent_batches_get_their_own_acks(bus: Bus) -> None:
    assets = [uuid.uuid4().hex for _ in range(4)]
    results = await asyncio.gather(*(
        bus.publish_batch([Outgoing(subjects.book_delta(a), _delta(a, s), f"{a}:{s}") for s in range(1, 51)])
        for a in assets))
    assert [len(r) for r in results] == [50] * 4
    assert len({ack.seq for r in results for ack in r}) == 200


async def _ignore(_msg: object) -> None:
    return None


money = st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=4, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(changes=st.lists(st.tuples(st.sampled_from(("BUY", "SELL")), money, money), max_size=5),
       hash_=st.none() | st.text(max_size=40), best=st.tuples(st.none() | money, st.none() | money),
       asset=st.text(min_size=1, max_size=20), seq=st.integers(0, 2**53))
def test_direct_delta_encoding_is_the_models_encoding(changes: list[tuple[str, Decimal, Decimal]], hash_: str | None,
                                                      best: tuple[Decimal | None, Decimal | None], asset: str,
                                                      seq: int) -> None:
    model = BookDelta(asset_id=asset, market="0xm", seq=seq, ts_ms=seq + 1, recv_ts_ms=seq + 2,
                      changes=tuple(LevelUpdate(side=s, price=p, size=z) for s, p, z in changes),  # type: ignore[arg-type]
                      hash=hash_, best_bid=best[0], best_ask=best[1])
    raw = encode_book_delta(asset, "0xm", seq, seq + 1, seq + 2, changes, hash_, best[0], best[1])
    assert raw == encode(model)
    assert decode(raw) == model
