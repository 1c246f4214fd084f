"""Market-channel parsing against every recorded frame; bad input is reported, never raised."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from polybot.domain.book_events import (
    BestBidAsk,
    LastTrade,
    MarketResolved,
    NewMarket,
    TickSizeChanged,
    VenueBook,
    VenueDelta,
)
from polybot.venue.market_parse import MarketParseError, decode_market_frame, parse_market_frame, parse_rest_book
from polybot.venue.schemas import MARKET_MESSAGE, BookMsg, PriceChangeV2, RestBook

FIX = Path(os.environ["POLYBOT_FIXTURES"])


def _frames(folder: str) -> list[tuple[str, str]]:
    out = []
    for path in sorted((FIX / folder).iterdir()):
        if path.suffix == ".jsonl":
            out += [(f"{path.name}:{i}", line) for i, line in enumerate(path.read_text().splitlines(), 1)
                    if line.strip()]
        elif path.suffix == ".json":
            out.append((path.name, path.read_text()))
    return out


MARKET_FRAMES = _frames("ws_market")
USER_FRAMES = _frames("ws_user")


@pytest.mark.parametrize(("name", "frame"), MARKET_FRAMES, ids=[n for n, _ in MARKET_FRAMES])
def test_every_recorded_market_frame_parses(name: str, frame: str) -> None:
    parsed = parse_market_frame(frame, recv_ts_ms=123)
    assert parsed.invalid == []
    assert parsed.events
    raw = json.loads(frame)
    assert parsed.messages == (len(raw) if isinstance(raw, list) else 1)
    assert all(ev.recv_ts_ms == 123 for ev in parsed.events)


@pytest.mark.parametrize(("name", "frame"), USER_FRAMES, ids=[n for n, _ in USER_FRAMES])
def test_user_channel_frames_do_not_break_the_market_parser(name: str, frame: str) -> None:
    parsed = parse_market_frame(frame)
    assert parsed.events == []
    assert len(parsed.invalid) == 1
    assert parsed.invalid[0].event_type in (None, "order", "trade")


def test_three_price_change_shapes() -> None:
    v0 = parse_market_frame((FIX / "ws_market/price_change_v0_single_level_2024-08.json").read_text()).events
    v1 = parse_market_frame((FIX / "ws_market/price_change_v1_changes_array_docs_example_2024-10.json")
                            .read_text()).events
    v2 = parse_market_frame((FIX / "ws_market/price_change_v2_price_changes_array_docs_example.json")
                            .read_text()).events
    assert [type(e) for e in v0 + v1 + v2] == [VenueDelta] * 5
    d0, d1 = v0[0], v1[0]
    assert isinstance(d0, VenueDelta) and isinstance(d1, VenueDelta)
    assert d0.shape == "v0" and len(d0.changes) == 1 and d0.changes[0].raw_size == "21574.08"
    assert d1.shape == "v1" and [c.raw_price for c in d1.changes] == ["0.6", "0.5", "0.7"]
    assert d1.hash == "bf32b3746fff40c76c98021b7f3f07261169dd26"
    assert all(isinstance(e, VenueDelta) and e.shape == "v2" and len(e.changes) == 1 for e in v2)
    first = v2[0]
    assert isinstance(first, VenueDelta)
    assert (first.best_bid, first.best_ask, first.ts_ms) == (Decimal("0.6"), Decimal("0.7"), 1729084877448)


def test_other_event_types_map_to_domain_events() -> None:
    def one(name: str) -> object:
        (ev,) = parse_market_frame((FIX / "ws_market" / name).read_text()).events
        return ev

    tick = one("tick_size_change_2025-02.json")
    assert isinstance(tick, TickSizeChanged) and (tick.old_tick_size, tick.new_tick_size) == ("0.01", "0.001")
    ltp = one("last_trade_price_2024-08.json")
    assert isinstance(ltp, LastTrade) and ltp.price == Decimal("0.491") and ltp.side == "SELL"
    bba = one("best_bid_ask_docs_example_2025-12.json")
    assert isinstance(bba, BestBidAsk) and (bba.best_bid, bba.best_ask) == (Decimal("0.73"), Decimal("0.77"))
    new = one("new_market_docs_example_2025-12.json")
    assert isinstance(new, NewMarket) and len(new.asset_ids) == 2 and new.tick_size == "0.01"
    res = one("market_resolved_docs_example_2025-12.json")
    assert isinstance(res, MarketResolved) and res.winning_outcome == "Yes"


def test_books_keep_the_venue_strings_and_metadata() -> None:
    frames = (FIX / "ws_market/hash_chain_2025-10_ws_book_price_changes_rest_book.jsonl").read_text().splitlines()
    ws = parse_market_frame(frames[0]).events[0]
    rest = parse_market_frame(frames[2]).events[0]
    assert isinstance(ws, VenueBook) and isinstance(rest, VenueBook)
    assert ws.source == "ws" and ws.timestamp == "1761179883493"  # a JSON number in this recording
    assert rest.source == "rest" and (rest.min_order_size, rest.tick_size, rest.neg_risk) == ("5", "0.01", False)
    assert ws.bids[0].raw_price == "0.01" and ws.asks[0].raw_price == "0.99"  # wire order kept
    dump = parse_market_frame((FIX / "ws_market/book_initial_dump_array_2026-04.json").read_text()).events
    assert [type(e) for e in dump] == [VenueBook, VenueBook]
    assert all(isinstance(e, VenueBook) and e.last_trade_price == "" and e.tick_size == "0.01" for e in dump)


@pytest.mark.parametrize("frame", ["PONG", b"PONG", "", "  \n", "PING"])
def test_keepalives_are_skipped(frame: str | bytes) -> None:
    assert parse_market_frame(frame) == parse_market_frame("")
    assert parse_market_frame(frame).events == [] and parse_market_frame(frame).invalid == []


def test_one_bad_item_does_not_lose_the_rest_of_the_frame() -> None:
    good = json.loads((FIX / "ws_market/tick_size_change_2025-02.json").read_text())
    bad_side = {**good, "event_type": "price_change", "price": "0.5", "side": "HOLD", "size": "1"}
    unknown = {"event_type": "mystery", "market": "0x1"}
    bad_price = {**json.loads((FIX / "ws_market/last_trade_price_2024-08.json").read_text()), "price": "abc"}
    parsed = parse_market_frame(json.dumps([good, bad_side, unknown, "junk", bad_price, good]).encode())
    assert [type(e) for e in parsed.events] == [TickSizeChanged, TickSizeChanged]
    reasons = [(i.event_type, i.reason.split(" ")[0], i.kind) for i in parsed.invalid]
    assert reasons == [("price_change_v0", "literal_error", "schema"), ("mystery", "unknown", "unknown_event_type"),
                       (None, "unknown", "unknown_event_type"), ("last_trade_price", "value_error", "price")]


def test_not_json_is_one_invalid_item_with_truncated_raw_text() -> None:
    parsed = parse_market_frame("{" + "x" * 2000)
    assert parsed.events == [] and len(parsed.invalid) == 1
    assert parsed.invalid[0].reason.startswith("not JSON") and len(parsed.invalid[0].raw) <= 501


def test_rest_book_parsing() -> None:
    book = parse_rest_book((FIX / "rest_clob/book_2025-10_polypy_a.json").read_bytes(), recv_ts_ms=9)
    assert book.source == "rest" and book.recv_ts_ms == 9 and book.min_order_size == "5"
    assert book.hash == "b9ee8c0d2cc9a436dc6e70692b6882b881434d7b"
    with pytest.raises(MarketParseError):
        parse_rest_book(b'{"market": "0x1"}')
    with pytest.raises(MarketParseError):
        parse_rest_book(b'{"market":"m","asset_id":"1","timestamp":"x","bids":[],"asks":[]}')


def test_schemas_are_frozen_and_the_union_validates_single_messages() -> None:
    raw = (FIX / "ws_market/frames_2025-12_initial_dump_price_change_post_trade_book.jsonl").read_text().splitlines()
    msg = MARKET_MESSAGE.validate_json(raw[1])
    assert isinstance(msg, PriceChangeV2)
    with pytest.raises(ValidationError):
        msg.market = "x"  # type: ignore[misc]
    post_trade = MARKET_MESSAGE.validate_json(raw[2])
    assert isinstance(post_trade, BookMsg) and post_trade.tick_size is None and post_trade.last_trade_price is None
    messages, invalid = decode_market_frame((FIX / "ws_market/book_2024-11_polypy.json").read_text())
    assert [type(m) for m in messages] == [RestBook] and invalid == []


@pytest.mark.parametrize("separators", [(", ", ": "), (", ", ":"), (",", ":")])
def test_a_2026_09_post_trade_book_in_another_key_order_and_spacing_parses_like_any_other(
        separators: tuple[str, str]) -> None:
    """September 2026: post-trade books with event_type first, asks before bids, ``", "`` separators. The hash
    is over the canonical layout, so only the values matter; nothing may depend on the raw text's shape."""
    book = {"event_type": "book", "asset_id": "222", "market": "0x" + "cd" * 32, "timestamp": "1790000000123",
            "hash": "ab" * 20, "asks": [{"size": "12.5", "price": "0.61"}, {"price": "0.6", "size": "3"}],
            "bids": [{"price": "0.39", "size": "7"}, {"price": "0.4", "size": "100"}]}
    single = json.dumps(book, separators=separators)
    array = json.dumps([book, {**book, "asset_id": "333"}], separators=separators)
    for text, assets in ((single, ["222"]), (array, ["222", "333"])):
        parsed = parse_market_frame(text, recv_ts_ms=5)
        assert parsed.invalid == [] and parsed.messages == len(assets)
        for ev, asset in zip(parsed.events, assets, strict=True):
            assert isinstance(ev, VenueBook)
            assert (ev.asset_id, ev.market, ev.ts_ms, ev.timestamp, ev.hash) == (
                asset, "0x" + "cd" * 32, 1790000000123, "1790000000123", "ab" * 20)
            assert [(lv.raw_price, lv.raw_size) for lv in ev.bids] == [("0.39", "7"), ("0.4", "100")]
            assert [(lv.raw_price, lv.raw_size) for lv in ev.asks] == [("0.61", "12.5"), ("0.6", "3")]
            assert (ev.tick_size, ev.last_trade_price, ev.source) == (None, None, "ws")
