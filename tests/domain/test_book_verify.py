"""Hash verification against the recorded books, venue number formatting, ltp candidates, pending checks."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from polybot.domain.book import L2Book, Level, LevelChange
from polybot.domain.book_hash import HashLayout
from polybot.domain.book_verify import (
    HashMatch,
    HashSubject,
    HashVerifier,
    MarketMeta,
    PendingCheck,
    implied_ltps,
    ltp_text,
    venue_number,
)

FIX = Path(os.environ["POLYBOT_FIXTURES"])


def _subject(raw: dict, meta: MarketMeta) -> HashSubject:
    book = L2Book([Level.of(x["price"], x["size"]) for x in raw["bids"]],
                  [Level.of(x["price"], x["size"]) for x in raw["asks"]])
    return HashSubject(raw["market"], raw["asset_id"], str(raw.get("timestamp", "")), book.levels_json(), meta)


@pytest.mark.parametrize(
    ("path", "layout"),
    [
        ("ws_market/book_2024-09_nautilus.json", HashLayout.F5B),
        ("ws_market/book_2024-11_polypy.json", HashLayout.F6),
        ("rest_clob/book_2024-09_nautilus.json", HashLayout.F5B),
        ("rest_clob/book_2024-12_polypy_a.json", HashLayout.F6),
        ("rest_clob/book_2024-12_polypy_b.json", HashLayout.F6),
        ("rest_clob/book_2025-10_polypy_a.json", HashLayout.F9),
        ("rest_clob/book_2025-10_polypy_b.json", HashLayout.F9),
    ],
)
def test_recorded_books_verify_and_reveal_their_layout(path: str, layout: HashLayout) -> None:
    raw = json.loads((FIX / path).read_text())
    verifier = HashVerifier()
    result = verifier.verify(_subject(raw, MarketMeta("0.01", "5", False)), raw["hash"], kind="book", seq=0,
                             ts_ms=0, now_ms=0)
    assert result is not None and not isinstance(result, PendingCheck)
    assert result.layout is layout
    assert verifier.layout is layout


def test_f10_initial_dump_books_verify_with_their_own_ltp() -> None:
    books = json.loads((FIX / "ws_market/book_initial_dump_array_2026-04.json").read_text())
    for raw in books:
        verifier = HashVerifier()
        result = verifier.verify(_subject(raw, MarketMeta(raw["tick_size"], "5", False)), raw["hash"], kind="book",
                                 seq=0, ts_ms=0, now_ms=0, own_ltp=raw["last_trade_price"])
        assert result is not None and not isinstance(result, PendingCheck)
        assert (result.layout, result.ltp) == (HashLayout.F10, "")


def test_wrong_metadata_does_not_verify() -> None:
    raw = json.loads((FIX / "rest_clob/book_2025-10_polypy_a.json").read_text())
    verifier = HashVerifier(layouts=(HashLayout.F9,))
    assert verifier.verify(_subject(raw, MarketMeta("0.01", "10", False)), raw["hash"], kind="book", seq=0,
                           ts_ms=0, now_ms=0) is None


@pytest.mark.parametrize(("value", "text"), [(Decimal("5.000000"), "5"), (Decimal("0.0100"), "0.01"),
                                             (Decimal("100"), "100"), (Decimal("0.001"), "0.001"), (15, "15"),
                                             ("5", "5")])
def test_venue_number(value: Decimal | int | str, text: str) -> None:
    assert venue_number(value) == text


def test_ltp_text_and_implied_prices() -> None:
    assert ltp_text(Decimal("0.49")) == "0.490"
    assert ltp_text(Decimal("0.5")) == "0.500"
    assert ltp_text(Decimal("0.1234")) == "0.1234"
    assert implied_ltps([Decimal("0.51")]) == ["0.510", "0.490"]
    assert implied_ltps([Decimal("0"), Decimal("1")]) == []


def _f10_book_hash(book: L2Book, ltp: str, ts: str = "1000") -> str:
    import hashlib

    subject = HashSubject("0xm", "1", ts, book.levels_json(), MarketMeta())
    return hashlib.sha1(subject.payload(HashLayout.F10, ltp=ltp).encode()).hexdigest()


def test_an_unexplained_f10_hash_is_pending_until_a_last_trade_explains_it() -> None:
    book = L2Book([Level.of("0.4", "10")], [Level.of("0.6", "10")])
    verifier = HashVerifier(layouts=(HashLayout.F10,), ltp_window_ms=500)
    verifier.note_ltp("0.500")
    expected = _f10_book_hash(book, "0.420")  # a trade price nobody has seen yet
    subject = HashSubject("0xm", "1", "1000", book.levels_json(), MarketMeta())
    result = verifier.verify(subject, expected, kind="delta", seq=7, ts_ms=1000, now_ms=10_000)
    assert isinstance(result, PendingCheck) and result.deadline_ms == 10_500
    assert verifier.on_last_trade(Decimal("0.41"), "0.41") == []  # another price does not explain it
    solved = verifier.on_last_trade(Decimal("0.42"), "0.42")
    assert [(c.seq, m.ltp) for c, m in solved] == [(7, "0.420")]
    assert verifier.pending == []


def test_quick_f10_hashes_like_the_payload_and_a_missed_ltp_is_not_hashed_again() -> None:
    book = L2Book([Level.of("0.4", "10"), Level.of("0.39", "1.5")], [Level.of("0.6", "10")])
    verifier = HashVerifier(layouts=(HashLayout.F10,))
    head = '{"market":"0xm","asset_id":"1"'
    assert verifier.quick_f10(head, "1000", book.levels_utf8(), MarketMeta(), _f10_book_hash(book, "0.500")) is None
    verifier.note_ltp("0.500")
    verifier.layout = HashLayout.F10
    match = verifier.quick_f10(head, "1000", book.levels_utf8(), MarketMeta(), _f10_book_hash(book, "0.500"))
    assert match is not None and match.ltp == "0.500"
    book.apply(LevelChange.of("SELL", "0.6", "0"))  # the cached side is rebuilt after a change
    assert verifier.quick_f10(head, "1000", book.levels_utf8(), MarketMeta(), _f10_book_hash(book, "0.500"))
    subject = HashSubject("0xm", "1", "1000", book.levels_json(), MarketMeta())
    traded = verifier.verify(subject, _f10_book_hash(book, "0.600"), kind="delta", seq=2, ts_ms=1000, now_ms=0,
                             trade_prices=[Decimal("0.6")], tried_ltp="0.500")
    assert isinstance(traded, HashMatch) and traded.ltp == "0.600"
    # What the caller says it tried is trusted: a hash only that ltp explains stays pending.
    skipped = verifier.verify(subject, _f10_book_hash(book, "0.600"), kind="delta", seq=3, ts_ms=1000, now_ms=0,
                              tried_ltp="0.600")
    assert isinstance(skipped, PendingCheck)


def test_pending_checks_expire_after_the_window() -> None:
    book = L2Book([Level.of("0.4", "10")], [])
    verifier = HashVerifier(layouts=(HashLayout.F10,), ltp_window_ms=500)
    subject = HashSubject("0xm", "1", "1000", book.levels_json(), MarketMeta())
    verifier.verify(subject, "0" * 40, kind="delta", seq=1, ts_ms=1000, now_ms=0)
    assert verifier.expire(500) == []
    assert [c.seq for c in verifier.expire(501)] == [1]
    assert verifier.pending == []


def test_old_layouts_fail_at_once() -> None:
    book = L2Book([Level.of("0.4", "10")], [])
    verifier = HashVerifier(layouts=(HashLayout.F6,))
    subject = HashSubject("0xm", "1", "1000", book.levels_json(), MarketMeta())
    assert verifier.verify(subject, "0" * 40, kind="delta", seq=1, ts_ms=1000, now_ms=0) is None
    assert verifier.pending == []


def test_implied_trade_price_explains_the_2025_12_price_change() -> None:
    frames = (FIX / "ws_market/frames_2025-12_initial_dump_price_change_post_trade_book.jsonl").read_text().splitlines()
    dump, change = json.loads(frames[0]), json.loads(frames[1])
    raw = dump[0]
    entry = change["price_changes"][0]
    assert entry["asset_id"] == raw["asset_id"]
    book = L2Book([Level.of(x["price"], x["size"]) for x in raw["bids"]],
                  [Level.of(x["price"], x["size"]) for x in raw["asks"]])
    verifier = HashVerifier()
    assert verifier.verify(HashSubject(raw["market"], raw["asset_id"], raw["timestamp"], book.levels_json(),
                                       MarketMeta()), raw["hash"], kind="book", seq=1, ts_ms=0, now_ms=0,
                           own_ltp=raw["last_trade_price"]) is not None
    book.apply(LevelChange.of(entry["side"], entry["price"], entry["size"]))
    subject = HashSubject(raw["market"], raw["asset_id"], change["timestamp"], book.levels_json(), MarketMeta())
    # With only the last known ltp ("0.500") this hash does not verify ...
    assert subject.find(entry["hash"], (HashLayout.F10,), (0,), ["0.500"]) is None
    # ... the trade price the delta implies does.
    result = verifier.verify(subject, entry["hash"], kind="delta", seq=2, ts_ms=0, now_ms=0,
                             trade_prices=[Decimal(entry["price"])])
    assert result is not None and not isinstance(result, PendingCheck)
    assert result.ltp == "0.490"
    assert verifier.ltp == "0.490"
