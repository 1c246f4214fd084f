"""polysim.gamma_keyset on its own: cursors are opaque, bound to their scope, and a walk stays exact while
items come and go (true keyset semantics)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polysim.gamma_keyset import KEYSET_MAX_LIMIT, BadCursor, keyset_page


def by_id(x: int) -> tuple[int]:
    return (x,)


def walk(items: list[int], limit: int, scope: str = "s") -> tuple[list[int], list[int]]:
    """Every item a full walk returns, and the page sizes."""
    seen: list[int] = []
    sizes: list[int] = []
    cursor = None
    while True:
        page, cursor = keyset_page(items, by_id, after_cursor=cursor, limit=limit, scope=scope)
        seen += page
        sizes.append(len(page))
        if cursor is None:
            return seen, sizes


def test_pages_are_clamped_and_the_cursor_is_absent_only_after_the_last_item() -> None:
    items = list(range(250, 0, -1))
    seen, sizes = walk(items, limit=500)
    assert seen == sorted(items) and sizes == [KEYSET_MAX_LIMIT, KEYSET_MAX_LIMIT, 50]
    seen, sizes = walk(list(range(200)), limit=100)  # the last page is full: still no cursor on it
    assert seen == list(range(200)) and sizes == [100, 100]
    assert keyset_page([], by_id, after_cursor=None, limit=10, scope="s") == ([], None)


def test_cursors_are_opaque_urlsafe_and_bound_to_their_scope() -> None:
    _, cursor = keyset_page(list(range(30)), by_id, after_cursor=None, limit=10, scope="/markets/keyset?")
    assert cursor is not None and set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    with pytest.raises(BadCursor):
        keyset_page(list(range(30)), by_id, after_cursor=cursor, limit=10, scope="/events/keyset?")
    for bad in ("", "!!!", base64.urlsafe_b64encode(b"[1]").decode(), base64.urlsafe_b64encode(b"\xff").decode(),
                base64.urlsafe_b64encode(json.dumps({"v": 1, "k": [{"x": 1}], "f": "0"}).encode()).decode()):
        with pytest.raises(BadCursor):
            keyset_page(list(range(30)), by_id, after_cursor=bad, limit=10, scope="/markets/keyset?")


def test_a_cursor_whose_key_does_not_fit_the_order_is_refused() -> None:
    _, cursor = keyset_page(list(range(30)), by_id, after_cursor=None, limit=10, scope="s")
    with pytest.raises(BadCursor):
        keyset_page(list(range(30)), lambda x: ("text", x), after_cursor=cursor, limit=10, scope="s")
    with pytest.raises(BadCursor):  # same length, parts that do not compare with ours
        keyset_page(list(range(30)), lambda x: (str(x),), after_cursor=cursor, limit=10, scope="s")


def test_decimal_and_nested_keys_round_trip_exactly_and_descending_walks_backwards() -> None:
    amounts = {i: Decimal("0.1") * (i % 7) + Decimal("1e-30") * i for i in range(40)}

    def key(i: int) -> tuple[object, ...]:
        return ((1, amounts[i]), i)

    for descending in (False, True):
        seen: list[int] = []
        cursor = None
        while True:
            page, cursor = keyset_page(list(amounts), key, after_cursor=cursor, limit=7, scope="s",
                                       descending=descending)
            seen += page
            if cursor is None:
                break
        assert seen == sorted(amounts, key=key, reverse=descending)


@given(st.sets(st.integers(0, 10_000), max_size=120), st.integers(1, 30),
       st.lists(st.tuples(st.booleans(), st.integers(0, 10_000)), max_size=40))
def test_inserts_and_removals_during_a_walk_never_skip_nor_repeat(
        start: set[int], limit: int, changes: list[tuple[bool, int]]) -> None:
    live = set(start)
    ever_removed: set[int] = set()
    seen: list[int] = []
    cursor = None
    last_key = -1
    pending = list(changes)
    inserted_after: set[int] = set()
    while True:
        page, cursor = keyset_page(sorted(live, reverse=True), by_id, after_cursor=cursor, limit=limit, scope="s")
        assert all(x > last_key for x in page) and page == sorted(page)  # strictly after the cursor, in order
        seen += page
        if page:
            last_key = page[-1]
        if cursor is None:
            break
        for insert, value in pending[:3]:  # the catalog changes between two pages
            if insert and value not in live:
                live.add(value)
                if value > last_key:
                    inserted_after.add(value)
            elif not insert and value in live:
                live.discard(value)
                ever_removed.add(value)
        del pending[:3]
    assert len(seen) == len(set(seen))  # nothing twice
    kept_all_along = start - ever_removed
    assert kept_all_along <= set(seen)  # nothing that stayed was skipped
    assert inserted_after - ever_removed <= set(seen)  # what arrived after the cursor was seen
