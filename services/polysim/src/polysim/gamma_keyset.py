"""Keyset pagination as Gamma's ``/markets/keyset`` and ``/events/keyset`` do it: pure logic, no web framework.

A cursor is urlsafe base64 (no padding) of a small JSON object: ``{"v": 1, "k": [last key…], "f": scope
fingerprint}``. The next page is every item whose key sorts strictly after ``k``, so items inserted or removed
while a client pages never shift the pages after its cursor: an insert sorting after the cursor is seen
exactly once, one sorting before it is not seen, nothing is returned twice.

Keys are tuples of ``None``, ``bool``, ``int``, ``str``, ``Decimal`` or nested tuples of those; they must end
with a unique id so the order is total. Floats are refused: a cursor must hold the key exactly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

T = TypeVar("T")

KEYSET_MAX_LIMIT = 100
_VERSION = 1
_FINGERPRINT_CHARS = 16


class BadCursor(ValueError):
    """A cursor that is malformed, or was minted for another endpoint or other filters."""


def fingerprint(scope: str) -> str:
    """The scope's short digest that a cursor carries (changing any filter changes it)."""
    return hashlib.sha256(scope.encode()).hexdigest()[:_FINGERPRINT_CHARS]


def _to_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, Decimal):
        return {"d": str(value)}  # tagged: JSON numbers would come back as float or int
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise TypeError(f"keyset key part of type {type(value).__name__} cannot go in a cursor")


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    if isinstance(value, dict):
        text = value.get("d")
        if len(value) != 1 or not isinstance(text, str):
            raise BadCursor("malformed cursor")
        try:
            return Decimal(text)
        except InvalidOperation:
            raise BadCursor("malformed cursor") from None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise BadCursor("malformed cursor")


def encode_cursor(last_key: tuple[Any, ...], scope: str) -> str:
    """The opaque cursor that resumes after ``last_key`` within ``scope``."""
    payload = {"v": _VERSION, "k": _to_json(last_key), "f": fingerprint(scope)}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, scope: str) -> tuple[Any, ...]:
    """The last key a cursor holds; BadCursor when malformed or minted for another scope."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("malformed cursor") from None
    if not isinstance(payload, dict) or payload.get("v") != _VERSION or not isinstance(payload.get("k"), list):
        raise BadCursor("malformed cursor")
    if payload.get("f") != fingerprint(scope):
        raise BadCursor("cursor was issued for another endpoint or other filters")
    key = _from_json(payload["k"])
    assert isinstance(key, tuple)
    return key


def keyset_page(items: Sequence[T], key: Callable[[T], tuple[Any, ...]], *, after_cursor: str | None,
                limit: int, scope: str, descending: bool = False) -> tuple[list[T], str | None]:
    """Sort `items` by `key` (which must end with a unique id), return the items strictly after the cursor's
    key (at most min(limit, KEYSET_MAX_LIMIT)) and the next cursor (None when no item follows the page).
    `scope` (e.g. endpoint path + canonical filters) is fingerprinted into the cursor; a cursor minted for
    another scope or malformed raises BadCursor. ``descending`` walks the same order backwards."""
    limit = max(1, min(limit, KEYSET_MAX_LIMIT))
    ranked = sorted(((key(item), item) for item in items), key=lambda pair: pair[0])
    start = 0
    if after_cursor is not None:
        last = decode_cursor(after_cursor, scope)
        keys = [k for k, _ in ranked]
        if keys and len(last) != len(keys[0]):
            raise BadCursor("cursor does not fit this listing's order")
        try:
            # Descending: the items before `last` in ascending order, walked from the top.
            start = len(keys) - bisect_left(keys, last) if descending else bisect_right(keys, last)
        except TypeError:  # a forged key whose parts do not compare with ours
            raise BadCursor("cursor does not fit this listing's order") from None
    if descending:
        ranked.reverse()
    page = ranked[start : start + limit]
    more = start + len(page) < len(ranked)
    next_cursor = encode_cursor(page[-1][0], scope) if page and more else None
    return [item for _, item in page], next_cursor
