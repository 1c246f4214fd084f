"""What ``polybot tap --last N`` and ``--since DURATION`` read from JetStream before going live.

A tapped subject may lie on several streams (``books``: deltas, snapshots and states), on part of one
(``ctl``: only ``pb.ctl.kill`` is kept) or on none (heartbeats): each stream it meets is read through an
ordered consumer filtered to exactly the subjects both share (``polybot.bus.subject_patterns``), up to
what the stream held when the read began; the streams' messages are merged by the time JetStream stored them.
``--last N`` keeps the last N of them all: the start of each stream's read is found by bisecting on the
number of its messages a consumer starting there would deliver, so that no stream is read from its start.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from polybot.bus.streams import ALL_STREAMS
from polybot.bus.subject_patterns import intersect

_READ_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Source:
    stream: str
    filter: str  # the tapped subject's part that this stream holds


@dataclass(frozen=True, slots=True)
class Stored:
    subject: str
    data: bytes
    ts_ns: int
    stream_seq: int


def sources(pattern: str) -> list[Source]:
    out: list[Source] = []
    for spec in ALL_STREAMS:
        for subject in spec.subjects:
            met = intersect(pattern, subject)
            if met is not None:
                out.append(Source(spec.name, met))
    return out


def coverage_note(pattern: str, found: list[Source]) -> str:
    """What the history of ``pattern`` comes from, for stderr."""
    if not found:
        return f"tap: {pattern} is not kept on JetStream: live only"
    held = ", ".join(f"{s.stream} ({s.filter})" for s in found)
    whole = any(s.filter == pattern for s in found)
    return f"tap: history of {pattern} from {held}" + ("" if whole else "; its other subjects: live only")


async def _pending_from(js: JetStreamContext, src: Source, seq: int) -> int:
    cfg = ConsumerConfig(filter_subject=src.filter, deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=seq,
                         ack_policy=AckPolicy.NONE, inactive_threshold=30.0, mem_storage=True)
    info = await js.add_consumer(src.stream, cfg)
    try:
        return int(info.num_pending or 0)
    finally:
        with contextlib.suppress(NotFoundError):  # the server dropped it already
            await js.delete_consumer(src.stream, str(info.name))


async def _start_for_last(js: JetStreamContext, src: Source, n: int, first: int, last: int) -> int:
    """The largest sequence from which ``src`` still delivers ``n`` messages (its first when it holds fewer)."""
    if await _pending_from(js, src, first) <= n:
        return first
    lo, hi = first, last
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if await _pending_from(js, src, mid) >= n:
            lo = mid
        else:
            hi = mid - 1
    return lo


async def _read(js: JetStreamContext, src: Source, last: int | None, since_s: float | None) -> list[Stored]:
    try:
        state = (await js.stream_info(src.stream)).state
    except NotFoundError:
        return []
    if not state.messages:
        return []
    if last is not None:
        start = await _start_for_last(js, src, last, state.first_seq, state.last_seq)
        cfg = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start)
    else:
        begin = datetime.now(UTC) - timedelta(seconds=since_s or 0.0)
        cfg = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=begin)
    sub = await js.subscribe(src.filter, stream=src.stream, ordered_consumer=True, config=cfg)
    out: list[Stored] = []
    try:
        info = await sub.consumer_info()
        remaining = int(info.num_pending or 0)
        while remaining > 0:
            try:
                msg = await sub.next_msg(timeout=_READ_TIMEOUT_S)
            except (TimeoutError, NatsTimeoutError):
                break  # the stream lost them meanwhile (age, limits): what arrived is the history
            meta = msg.metadata
            out.append(Stored(msg.subject, msg.data, _ns(meta.timestamp), meta.sequence.stream))
            remaining = int(meta.num_pending or 0)
            if meta.sequence.stream >= state.last_seq:
                break  # what the stream held when the read began: the rest arrives live
    finally:
        await sub.unsubscribe()
    return out


def _ns(ts: datetime) -> int:
    return int(ts.timestamp() * 1_000_000) * 1000


async def read_history(js: JetStreamContext, found: list[Source], *, last: int | None = None,
                       since_s: float | None = None) -> list[Stored]:
    """The stored messages of every source, oldest first; the last ``last`` of them, or those of ``since_s``."""
    merged: list[Stored] = []
    for src in found:
        merged.extend(await _read(js, src, last, since_s))
    merged.sort(key=lambda m: (m.ts_ns, m.stream_seq))
    return merged[-last:] if last is not None else merged
