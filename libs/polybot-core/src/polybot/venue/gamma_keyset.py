"""Gamma's keyset listings as pure wire logic: reading one page, and proving that a walk advances.

``GET /markets/keyset`` and ``GET /events/keyset`` answer ``{"markets"|"events": [...], "next_cursor": "…"}``;
the next page is asked for with ``after_cursor=<next_cursor>``, and the walk ends only when ``next_cursor``
is absent (or null). A short page proves nothing: the venue clamps ``limit`` to 100 silently.

A venue that ignores the cursor (reported in April 2026: the same first page and the same cursor again)
would make a naive walk loop forever or list every market many times. ``KeysetWalk`` refuses such a walk:
a page whose ``next_cursor`` was already followed, or that starts with the item that started the page
before, or a walk that never ends, raises ``StuckListing``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_PAGE = 100  # the venue's cap on ``limit`` for both keyset endpoints (events allowed 500 until Sep 2026)
MAX_IDS = 100  # ``condition_ids`` values per request


class KeysetError(ValueError):
    """The venue's keyset answer cannot be followed (a malformed page, or a walk that does not advance)."""


class StuckListing(KeysetError):
    """The cursor does not advance: following it again would loop or list items twice."""


@dataclass(frozen=True, slots=True)
class KeysetPage:
    items: list[Any]
    next_cursor: str | None  # None: this was the last page


def parse_keyset_page(body: Any, items_key: str) -> KeysetPage:
    """One keyset answer; ``items_key`` is ``"markets"`` or ``"events"``."""
    if not isinstance(body, dict):
        raise KeysetError(f"expected a JSON object with {items_key!r}, got {type(body).__name__}")
    items = body.get(items_key)
    if not isinstance(items, list):
        raise KeysetError(f"{items_key!r} is missing or not a list")
    cursor = body.get("next_cursor")
    if cursor is not None and (not isinstance(cursor, str) or not cursor):
        # An empty or non-string cursor is neither "more" nor "done": guessing "done" could end a listing
        # early and mark every market after it as gone.
        raise KeysetError(f"next_cursor must be absent or a non-empty string, got {cursor!r}")
    return KeysetPage(items, cursor)


def _first_key(items: list[Any]) -> object:
    first = items[0]
    if isinstance(first, dict):
        return first.get("id", first.get("conditionId"))
    return repr(first)


@dataclass(slots=True)
class KeysetWalk:
    """The state of one walk through a listing; ``advance`` checks each page before it is used."""

    max_pages: int = 10_000
    pages: int = 0
    _followed: set[str] = field(default_factory=set)
    _previous_first: object = None

    def advance(self, sent_cursor: str | None, page: KeysetPage) -> None:
        """Accept ``page`` (fetched with ``sent_cursor``) or raise ``StuckListing``."""
        self.pages += 1
        if sent_cursor is not None:
            self._followed.add(sent_cursor)
        if page.items:
            first = _first_key(page.items)
            if self._previous_first is not None and first == self._previous_first:
                raise StuckListing(f"page {self.pages} starts with the same item ({first}) as the page before")
            self._previous_first = first
        if page.next_cursor is not None:
            if page.next_cursor in self._followed:
                raise StuckListing(f"page {self.pages} hands back a cursor already followed")
            if self.pages >= self.max_pages:
                raise StuckListing(f"the listing did not end after {self.pages} pages")
