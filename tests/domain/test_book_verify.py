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


# --- 2026-12: layout re-detection, the tick grid, the complement, superseded siblings ---------------------

def _ref_hash(book: L2Book, layout: HashLayout, ltp: str = "", ts: str = "1000", tick: str = "0.01") -> str:
    """The reference hash (``book_hash``), independent of ``HashSubject``."""
    from polybot.domain.book_hash import HashInput, book_hash

    bids = [(lv.raw_price, lv.raw_size) for lv in book.bids_best_first()[::-1]]
    asks = [(lv.raw_price, lv.raw_size) for lv in book.asks_best_first()[::-1]]
    return book_hash(HashInput("0xm", "1", ts, bids, asks, "5", tick, False, ltp), layout)


def _subj(book: L2Book, ts: str = "1000", tick: str = "0.01") -> HashSubject:
    return HashSubject("0xm", "1", ts, book.levels_json(), MarketMeta(tick, "5", False))


def _book() -> L2Book:
    return L2Book([Level.of("0.39", "3"), Level.of("0.4", "10")], [Level.of("0.61", "2"), Level.of("0.6", "10")])


def _pinned_f10(book: L2Book) -> HashVerifier:
    verifier = HashVerifier()
    first = verifier.verify(_subj(book), _ref_hash(book, HashLayout.F10, "0.500"), kind="book", seq=0, ts_ms=1000,
                            now_ms=0, own_ltp="0.500")
    assert isinstance(first, HashMatch) and verifier.layout is HashLayout.F10
    return verifier


def test_a_pinned_layout_is_re_detected_when_the_venue_changes_it() -> None:
    book = _book()
    verifier = _pinned_f10(book)
    assert (verifier.layout_changes, verifier.last_layout_change) == (0, None)  # the first detection is no change
    for n, (old, new) in enumerate([(HashLayout.F10, HashLayout.F9), (HashLayout.F9, HashLayout.F6),
                                    (HashLayout.F6, HashLayout.F5B), (HashLayout.F5B, HashLayout.F10)], start=1):
        result = verifier.verify(_subj(book), _ref_hash(book, new, "0.500"), kind="delta", seq=n, ts_ms=1000,
                                 now_ms=0)
        assert isinstance(result, HashMatch) and result.layout is new
        assert (verifier.layout, verifier.layout_changes, verifier.last_layout_change) == (new, n, (old, new))
        assert verifier.pending == []


def test_a_switch_from_an_old_layout_to_f10_with_an_ltp_never_seen_is_found_on_the_tick_grid() -> None:
    book = _book()
    verifier = HashVerifier()
    assert isinstance(verifier.verify(_subj(book), _ref_hash(book, HashLayout.F9), kind="book", seq=0, ts_ms=1000,
                                      now_ms=0), HashMatch)
    result = verifier.verify(_subj(book), _ref_hash(book, HashLayout.F10, "0.370"), kind="delta", seq=1,
                             ts_ms=1000, now_ms=0)
    assert isinstance(result, HashMatch) and (result.layout, result.ltp) == (HashLayout.F10, "0.370")
    assert (verifier.last_layout_change, verifier.grid_matches, verifier.ltp) == (
        (HashLayout.F9, HashLayout.F10), 1, "0.370")
    # Pinned to an old layout, a hash nothing explains is still final at once.
    assert HashVerifier(grid=False).verify(_subj(book), _ref_hash(book, HashLayout.F9), kind="book", seq=0,
                                           ts_ms=0, now_ms=0) is not None


def test_an_ltp_no_frame_shows_is_found_on_the_grid_at_expiry() -> None:
    book = _book()
    verifier = _pinned_f10(book)
    pending = verifier.verify(_subj(book), _ref_hash(book, HashLayout.F10, "0.730"), kind="delta", seq=3,
                              ts_ms=1000, now_ms=0)
    assert isinstance(pending, PendingCheck)
    assert verifier.expire(10_000) == []  # explained, not a mismatch
    ((check, match),) = verifier.take_settled()
    assert check is pending and match is not None and match.ltp == "0.730"
    assert (verifier.ltp, verifier.grid_matches, verifier.pending) == ("0.730", 1, [])
    # Without the grid (the 2026-05 behaviour) it is a mismatch.
    old = HashVerifier(grid=False)
    old.verify(_subj(book), _ref_hash(book, HashLayout.F10, "0.500"), kind="book", seq=0, ts_ms=0, now_ms=0,
               own_ltp="0.500")
    old.verify(_subj(book), _ref_hash(book, HashLayout.F10, "0.730"), kind="delta", seq=3, ts_ms=1000, now_ms=0)
    assert [c.seq for c in old.expire(10_000)] == [3]


def test_the_grid_follows_the_tick_and_a_real_mismatch_still_expires() -> None:
    fine = _book()
    verifier = HashVerifier()
    verifier.verify(_subj(fine, tick="0.0025"), _ref_hash(fine, HashLayout.F10, "", tick="0.0025"), kind="book",
                    seq=0, ts_ms=0, now_ms=0, own_ltp="")
    verifier.verify(_subj(fine, tick="0.0025"), _ref_hash(fine, HashLayout.F10, "0.4975", tick="0.0025"),
                    kind="delta", seq=1, ts_ms=1000, now_ms=0)
    assert verifier.expire(10_000) == [] and verifier.ltp == "0.4975"
    verifier.verify(_subj(fine, tick="0.0025"), "ab" * 20, kind="delta", seq=2, ts_ms=2000, now_ms=10_000)
    assert [c.seq for c in verifier.expire(20_000)] == [2]


def test_the_grid_waits_until_the_timestamp_of_a_pending_check_is_over() -> None:
    book = _book()
    verifier = _pinned_f10(book)
    after = _book()
    after.apply(LevelChange.of("BUY", "0.38", "1"))
    final = _ref_hash(after, HashLayout.F10, "0.440")  # the book after the last frame of 1000, an ltp never shown
    assert isinstance(verifier.verify(_subj(book), final, kind="delta", seq=4, ts_ms=1000, now_ms=0), PendingCheck)
    # The last frame of the millisecond is unexplained too, but nothing says it is the last: no grid yet.
    assert isinstance(verifier.verify(_subj(after), final, kind="delta", seq=5, ts_ms=1000, now_ms=0), PendingCheck)
    assert verifier.grid_matches == 0
    # The next millisecond's frame, hashed with the same ltp: the grid runs for the newest pending check, what
    # it learns explains this frame, and the older check is superseded.
    after.apply(LevelChange.of("BUY", "0.37", "1"))
    result = verifier.verify(_subj(after, ts="1001"), _ref_hash(after, HashLayout.F10, "0.440", ts="1001"),
                             kind="delta", seq=6, ts_ms=1001, now_ms=5)
    assert isinstance(result, HashMatch) and result.ltp == "0.440"
    assert verifier.pending == [] and verifier.grid_matches == 1
    assert [(c.seq, m.ltp if m else None) for c, m in verifier.take_settled()] == [(5, "0.440"), (4, None)]


def test_a_last_trade_explains_a_hash_carrying_its_complement_and_supersedes_older_siblings() -> None:
    book = _book()
    verifier = _pinned_f10(book)
    after = _book()
    after.apply(LevelChange.of("SELL", "0.61", "0"))
    final = _ref_hash(after, HashLayout.F10, "0.350")  # both frames of 1000 carry the hash after the last one
    early = verifier.verify(_subj(book), final, kind="delta", seq=7, ts_ms=1000, now_ms=0)
    last = verifier.verify(_subj(after), final, kind="delta", seq=8, ts_ms=1000, now_ms=0)
    assert isinstance(early, PendingCheck) and isinstance(last, PendingCheck)
    assert verifier.on_last_trade(Decimal("0.36"), "0.36") == []  # another price explains nothing
    solved = verifier.on_last_trade(Decimal("0.65"), "0.65")  # the other token's trade: 1 − 0.65
    assert [(c.seq, m.ltp) for c, m in solved] == [(8, "0.350")]
    assert verifier.pending == [] and [(c.seq, m) for c, m in verifier.take_settled()] == [(7, None)]
    assert verifier.ltp == "0.350"


def test_tick_grid() -> None:
    from polybot.domain.book_hash_search import tick_grid

    cents = [text for text, _ in tick_grid("0.01")]
    assert (len(cents), cents[0], cents[49], cents[-1]) == (99, "0.010", "0.500", "0.990")
    quarter = [text for text, _ in tick_grid("0.0025")]
    assert len(quarter) == 399 and quarter[:3] == ["0.0025", "0.005", "0.0075"]
    assert len(tick_grid("0.0001")) == 9999
    assert tick_grid("") == tick_grid("1") == tick_grid("0.00001") == tick_grid("x") == ()
