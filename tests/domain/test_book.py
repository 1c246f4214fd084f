"""L2Book: absolute-size updates, best prices by max/min, wire order and the exact hash fragments."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from polybot.domain.book import L2Book, Level, LevelChange, json_str
from polybot.domain.book_hash import HashInput, HashLayout, canonical_payload
from polybot.domain.book_verify import HashSubject, MarketMeta


def _book() -> L2Book:
    # Deliberately not in wire order: the book sorts by price, never trusts positions.
    return L2Book(
        bids=[Level.of("0.48", "10"), Level.of("0.47", "5"), Level.of("0.49", "1.5")],
        asks=[Level.of("0.52", "7"), Level.of("0.55", "3"), Level.of("0.51", "2")],
    )


def test_best_prices_are_max_bid_and_min_ask() -> None:
    book = _book()
    assert book.best_bid() == Level.of("0.49", "1.5")
    assert book.best_ask() == Level.of("0.51", "2")


def test_wire_order_is_bids_ascending_asks_descending() -> None:
    book = _book()
    assert book.wire_bids() == [("0.47", "5"), ("0.48", "10"), ("0.49", "1.5")]
    assert book.wire_asks() == [("0.55", "3"), ("0.52", "7"), ("0.51", "2")]
    assert [lv.raw_price for lv in book.bids_best_first()] == ["0.49", "0.48", "0.47"]
    assert [lv.raw_price for lv in book.asks_best_first()] == ["0.51", "0.52", "0.55"]


@pytest.mark.parametrize(
    ("change", "best_bid", "best_ask", "levels"),
    [
        (LevelChange.of("BUY", "0.50", "4"), "0.50", "0.51", (4, 3)),  # new best bid
        (LevelChange.of("BUY", "0.49", "0"), "0.48", "0.51", (2, 3)),  # size 0 removes
        (LevelChange.of("SELL", "0.51", "0"), "0.49", "0.52", (3, 2)),
        (LevelChange.of("SELL", "0.6", "0"), "0.49", "0.51", (3, 3)),  # removing an absent level: no-op
        (LevelChange.of("BUY", "0.470", "8"), "0.49", "0.51", (3, 3)),  # same Decimal price: replaces
    ],
)
def test_apply_absolute_sizes(change: LevelChange, best_bid: str, best_ask: str, levels: tuple[int, int]) -> None:
    book = _book()
    book.apply(change)
    bb, ba = book.best_bid(), book.best_ask()
    assert bb is not None and ba is not None
    assert (bb.raw_price, ba.raw_price) == (best_bid, best_ask)
    assert (book.bid_levels, book.ask_levels) == levels


def test_apply_keeps_the_venue_string_of_the_latest_update() -> None:
    book = _book()
    book.apply(LevelChange.of("BUY", "0.470", "8.00"))
    assert ("0.470", "8.00") in book.wire_bids()
    assert book.sizes()[0][Decimal("0.47")] == Decimal(8)


def test_empty_sides() -> None:
    book = L2Book()
    assert book.best_bid() is None and book.best_ask() is None
    assert book.levels_json() == '"bids":[],"asks":[]'


def test_levels_json_matches_the_reference_payload_for_every_layout() -> None:
    book = _book()
    meta = MarketMeta("0.01", "5", False)
    subject = HashSubject("0xabc", "123", "1766481546776", book.levels_json(), meta)
    inp = HashInput("0xabc", "123", "1766481546776", book.wire_bids(), book.wire_asks(), "5", "0.01", False, "0.490")
    for layout in HashLayout:
        assert subject.payload(layout, ltp="0.490") == canonical_payload(inp, layout)


@pytest.mark.parametrize("text", ["0.5", "", 'quo"te', "back\\slash", "ünï", "tab\there"])
def test_json_str_equals_json_dumps(text: str) -> None:
    assert json_str(text) == json.dumps(text, ensure_ascii=False)


def test_diff_to_turns_one_book_into_the_other() -> None:
    book = _book()
    target_bids = [Level.of("0.47", "5"), Level.of("0.485", "1")]
    target_asks = [Level.of("0.51", "2.5"), Level.of("0.52", "7")]
    changes = book.diff_to(target_bids, target_asks)
    for c in changes:
        book.apply(c)
    assert book == L2Book(target_bids, target_asks)
    assert book.diff_to(target_bids, target_asks) == ()


def test_copy_is_independent() -> None:
    book = _book()
    other = book.copy()
    other.apply(LevelChange.of("BUY", "0.49", "0"))
    assert book != other
    assert book.bid_levels == 3


def test_pairs_are_the_levels_best_first_and_one_tuple_until_a_side_changes() -> None:
    book = _book()
    bids, asks = book.bid_pairs(), book.ask_pairs()
    assert bids == tuple((lv.price, lv.size) for lv in book.bids_best_first())
    assert asks == tuple((lv.price, lv.size) for lv in book.asks_best_first())
    assert [str(p) for p, _ in bids] == ["0.49", "0.48", "0.47"]
    assert book.bid_pairs() is bids  # read again unchanged: the same tuple, nothing made
    book.apply(LevelChange.of("SELL", "0.51", "0"))  # an ask removed: the bids stay the bids
    assert book.bid_pairs() is bids
    assert book.ask_pairs() == ((Decimal("0.52"), Decimal(7)), (Decimal("0.55"), Decimal(3)))
    book.apply(LevelChange.of("BUY", "0.48", "4"))
    assert book.bid_pairs() == ((Decimal("0.49"), Decimal("1.5")), (Decimal("0.48"), Decimal(4)),
                                (Decimal("0.47"), Decimal(5)))
    assert bids[1] == (Decimal("0.48"), Decimal(10))  # what was read before stays what it was
    book.replace([Level.of("0.3", "1")], [])
    assert book.bid_pairs() == ((Decimal("0.3"), Decimal(1)),) and book.ask_pairs() == ()
