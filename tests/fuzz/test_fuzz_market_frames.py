"""Fuzzing the market-channel edge with frames built from the recorded ones: type swaps, bad numbers, huge and
tiny values, deep nesting, truncation, unicode. Nothing raises out of the parser or the book state machine,
every hostile item is refused and counted, and books fed junk between the real frames end exactly equal to
books fed the real frames alone. (Derandomized under CI, like every hypothesis test here.)"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polybot.app.replay.run import ReplayRun
from polybot.bus.codec import DecodeError, decode
from polybot.domain.book_verify import MarketMeta

WS = Path(os.environ["POLYBOT_FIXTURES"]) / "ws_market"
RECORDINGS = ("frames_2025-12_initial_dump_price_change_post_trade_book.jsonl",
              "hash_chain_2025-10_ws_book_price_changes_rest_book.jsonl",
              "stream_sequence_2024-12_changes_format_polypy.jsonl")


def _frames(name: str) -> list[str]:
    return [line for line in (WS / name).read_text().splitlines() if line.strip()]


def _market(lines: list[str]) -> str:
    first = json.loads(lines[0])
    item = first[0] if isinstance(first, list) else first
    return str(item["market"])


def _items(line: str) -> list[dict[str, Any]]:
    """The messages of a recorded frame (junk is made from one message at a time)."""
    raw = json.loads(line)
    return [m for m in (raw if isinstance(raw, list) else [raw]) if isinstance(m, dict)]


# Refused wherever a number is expected (a "5" would be a fine size: only what no field accepts is junk).
BAD_NUMBERS = ["NaN", "sNaN", "-nan", "Infinity", "-Infinity", "1e999999", "-0.5", "1e400", "0." + "1" * 40,
               " 0.5", "0x10", "½", "٠.٥", "99999999999999999999", "-1", "1_0", "1.5e3", "+0.5"]
TYPE_SWAPS: list[Any] = [None, [], {}, [1], {"a": 1}, True, 1.5, 10**30, "x" * 10_000]
NUMERIC_KEYS = ("price", "size", "best_bid", "best_ask", "timestamp", "old_tick_size", "new_tick_size")
REQUIRED_KEYS = ("market", "asset_id", "timestamp", "bids", "asks", "price_changes", "changes", "event_type")


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:5]):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


@st.composite
def junk(draw: st.DrawFn, item: dict[str, Any]) -> str:
    """One hostile frame made from ``item``, guaranteed to be refused whole (never a different valid message)."""
    kind = draw(st.sampled_from(["bad_number", "type_swap", "truncate", "unknown_type", "nesting", "unicode_id"]))
    msg = json.loads(json.dumps(item))
    paths = _paths(msg)
    if kind == "bad_number":
        numeric = [p for p in paths if p[-1] in NUMERIC_KEYS and isinstance(_get(msg, p), str | int)]
        if numeric:
            path = draw(st.sampled_from(numeric))
            extra = ["5", "0", "1"] if path[-1] in ("price", "old_tick_size", "new_tick_size") else []
            _set(msg, path, draw(st.sampled_from(BAD_NUMBERS + extra)))
            return json.dumps(msg, ensure_ascii=draw(st.booleans()))
        kind = "type_swap"
    if kind == "type_swap":
        required = [p for p in paths if len(p) == 1 and p[0] in REQUIRED_KEYS]
        if required:
            path = draw(st.sampled_from(required))
            current = _get(msg, path)
            swaps = [v for v in TYPE_SWAPS if type(v) is not type(current)
                     and not (path[0] == "event_type" and v is None)]  # no event_type is a REST book
            _set(msg, path, draw(st.sampled_from(swaps)))
            return json.dumps(msg)
        kind = "truncate"
    if kind == "truncate":
        text = json.dumps(msg)
        return text[:draw(st.integers(1, len(text) - 1))]
    if kind == "unknown_type":
        msg["event_type"] = draw(st.sampled_from(["book ", "BOOK", "price_change\x00", "", "🙂", "tick"]))
        msg.pop("price_changes", None)
        msg.pop("bids", None)
        return json.dumps(msg)
    if kind == "nesting":
        depth = draw(st.integers(2, 3000))
        return "[" * depth + json.dumps(msg) + "]" * depth if depth > 1100 else json.dumps({"x": msg} | {
            "event_type": msg.get("event_type")})
    msg["asset_id" if "asset_id" in msg else "market"] = draw(st.sampled_from(["٣٤٥", "12 3", "١٢٣", "0x" + "g" * 64]))
    return json.dumps(msg)


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def _books(run: ReplayRun) -> dict[str, Any]:
    return {s.asset_id: (s.book.sizes(), s.state.value, s.seq, s.hash) for s in run.books}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_junk_between_real_frames_changes_nothing_and_is_all_counted(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(RECORDINGS))
    lines = _frames(name)
    clean = ReplayRun(_market(lines), MarketMeta())
    for i, line in enumerate(lines):
        clean.feed_line(line, i)
    dirty = ReplayRun(_market(lines), MarketMeta())
    junk_count = 0
    for i, line in enumerate(lines):
        for _ in range(data.draw(st.integers(0, 3))):
            item = data.draw(st.sampled_from(_items(line)))
            dirty.feed_line(data.draw(junk(item)), i)
            junk_count += 1
        dirty.feed_line(line, i)
    clean.finish()
    dirty.finish()
    assert dirty.counts.invalid == clean.counts.invalid + junk_count, "every junk frame refused and counted"
    assert _books(dirty) == _books(clean), "junk left a trace in a book"


@settings(max_examples=200, deadline=None)
@given(payload=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                         st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                                      lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c,
                                                                                          max_size=4),
                                      max_leaves=20).map(lambda v: json.dumps(v).encode())))
def test_the_bus_codec_refuses_any_junk_with_decode_error_only(payload: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode(payload)
