"""Gamma keyset pages and walks as pure logic: what ends a walk, what is refused, what proves it stuck."""

from __future__ import annotations

from typing import Any

import pytest

from polybot.venue.gamma_keyset import KeysetError, KeysetPage, KeysetWalk, StuckListing, parse_keyset_page


def _items(*ids: int) -> list[dict[str, Any]]:
    return [{"id": str(i)} for i in ids]


@pytest.mark.parametrize(("body", "cursor"), [
    ({"markets": _items(1, 2), "next_cursor": "abc"}, "abc"),
    ({"markets": _items(1, 2)}, None),  # absent: the last page
    ({"markets": _items(1, 2), "next_cursor": None}, None),
    ({"markets": [], "next_cursor": "abc"}, "abc"),  # an empty page with a cursor is not the end
])
def test_pages_that_parse(body: dict[str, Any], cursor: str | None) -> None:
    page = parse_keyset_page(body, "markets")
    assert page.next_cursor == cursor and page.items == body["markets"]


@pytest.mark.parametrize(("body", "message"), [
    ([], "expected a JSON object"),
    ({"events": []}, "'markets' is missing"),
    ({"markets": {"a": 1}}, "not a list"),
    ({"markets": [], "next_cursor": ""}, "non-empty string"),
    ({"markets": [], "next_cursor": 7}, "non-empty string"),
])
def test_pages_that_are_refused(body: Any, message: str) -> None:
    with pytest.raises(KeysetError, match=message):
        parse_keyset_page(body, "markets")


def test_a_walk_that_advances_is_accepted_to_its_end() -> None:
    walk = KeysetWalk()
    walk.advance(None, KeysetPage(_items(1, 2), "c1"))
    walk.advance("c1", KeysetPage(_items(3, 4), "c2"))
    walk.advance("c2", KeysetPage([], "c3"))
    walk.advance("c3", KeysetPage(_items(5), None))
    assert walk.pages == 4


def test_the_same_cursor_handed_back_is_stuck() -> None:
    walk = KeysetWalk()
    walk.advance(None, KeysetPage(_items(1, 2), "c1"))
    with pytest.raises(StuckListing, match="cursor already followed"):
        walk.advance("c1", KeysetPage(_items(3, 4), "c1"))


def test_a_cursor_cycle_is_stuck() -> None:
    walk = KeysetWalk()
    walk.advance(None, KeysetPage(_items(1), "c1"))
    walk.advance("c1", KeysetPage(_items(2), "c2"))
    with pytest.raises(StuckListing, match="cursor already followed"):
        walk.advance("c2", KeysetPage(_items(3), "c1"))


def test_page_one_again_with_a_fresh_cursor_is_stuck() -> None:
    walk = KeysetWalk()
    walk.advance(None, KeysetPage(_items(1, 2), "c1"))
    with pytest.raises(StuckListing, match="same item"):
        walk.advance("c1", KeysetPage(_items(1, 2), "c-new"))


def test_a_walk_that_never_ends_is_refused() -> None:
    walk = KeysetWalk(max_pages=3)
    walk.advance(None, KeysetPage(_items(1), "c1"))
    walk.advance("c1", KeysetPage(_items(2), "c2"))
    with pytest.raises(StuckListing, match="did not end after 3 pages"):
        walk.advance("c2", KeysetPage(_items(3), "c3"))
    done = KeysetWalk(max_pages=1)
    done.advance(None, KeysetPage(_items(1), None))  # the last page is fine at the limit
