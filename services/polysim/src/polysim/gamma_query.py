"""Gamma's listing filters and orders, shared by the legacy (offset) and keyset listings. No web framework:
a query is anything with ``get`` and ``getlist`` (Starlette's ``QueryParams``).

* ``closed`` defaults to false (since 2026-04-09); ``version`` defaults to v1 only (the venue's default), a
  repeated ``version`` selects several.
* ``condition_ids`` takes at most 100 values (422 past that); ids may be repeated or comma-separated.
* ``order`` is comma-separated field names of the item's JSON, ``ascending`` its direction; the gamma id
  always breaks ties so the order is total (keyset pagination needs that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

MAX_CONDITION_IDS = 100
VERSIONS = ("v1", "v2")


class Query(Protocol):
    def get(self, key: str, /) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...


class BadParam(ValueError):
    """A malformed parameter: 400 ``{"error": …}``."""


class Unprocessable(ValueError):
    """A well-formed request the venue refuses: 422 ``{"type": "validation error", "error": …}``."""


def parse_bool(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise BadParam(f"invalid {name}: {value!r}")


def parse_int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise BadParam(f"invalid {name}: {value!r}") from None
    if n < 0:
        raise BadParam(f"invalid {name}: {value!r}")
    return n


def _decimal(q: Query, name: str) -> Decimal | None:
    value = q.get(name)
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise BadParam(f"invalid {name}: {value!r}") from None


def parse_time(value: str) -> datetime:
    """An ISO date or date-time as Gamma takes and sends them (naive means UTC)."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadParam(f"invalid date: {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _time(q: Query, name: str) -> datetime | None:
    value = q.get(name)
    return parse_time(value) if value else None


def multi(q: Query, name: str) -> list[str]:
    """Every value of a list parameter, repeated (``id=1&id=2``) or comma-separated (``id=1,2``)."""
    return [part.strip() for value in q.getlist(name) for part in value.split(",") if part.strip()]


@dataclass(frozen=True, slots=True)
class Filters:
    """What a listing request asks for (markets or events; the event-only and market-only fields stay empty)."""

    closed: bool
    active: bool | None
    archived: bool | None
    ids: frozenset[str]
    slugs: frozenset[str]
    tag_ids: frozenset[str]
    condition_ids: frozenset[str]
    token_ids: frozenset[str]
    versions: frozenset[str]
    liquidity_min: Decimal | None
    liquidity_max: Decimal | None
    volume_min: Decimal | None
    volume_max: Decimal | None
    end_min: datetime | None
    end_max: datetime | None


def parse_filters(q: Query, events: bool) -> Filters:
    """The filters of a ``/markets`` (``events`` False) or ``/events`` listing."""
    cids = multi(q, "condition_ids")
    if len(cids) > MAX_CONDITION_IDS:
        raise Unprocessable(f"condition_ids: at most {MAX_CONDITION_IDS} values")
    versions = multi(q, "version") or ["v1"]
    unknown = [v for v in versions if v not in VERSIONS]
    if unknown:
        raise BadParam(f"invalid version: {unknown[0]!r}")
    closed = parse_bool(q.get("closed"), "closed")
    # Events name their amount bounds liquidity_min/volume_min, markets liquidity_num_min/volume_num_min.
    amount = "" if events else "_num"
    return Filters(
        closed=False if closed is None else closed,
        active=parse_bool(q.get("active"), "active"), archived=parse_bool(q.get("archived"), "archived"),
        ids=frozenset(multi(q, "id")), slugs=frozenset(multi(q, "slug")), tag_ids=frozenset(multi(q, "tag_id")),
        condition_ids=frozenset(c.lower() for c in cids), token_ids=frozenset(multi(q, "clob_token_ids")),
        versions=frozenset(versions),
        liquidity_min=_decimal(q, f"liquidity{amount}_min"), liquidity_max=_decimal(q, f"liquidity{amount}_max"),
        volume_min=_decimal(q, f"volume{amount}_min"), volume_max=_decimal(q, f"volume{amount}_max"),
        end_min=_time(q, "end_date_min"), end_max=_time(q, "end_date_max"),
    )


def in_range(value: Decimal, low: Decimal | None, high: Decimal | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def end_in_range(end_date: str, f: Filters) -> bool:
    if f.end_min is None and f.end_max is None:
        return True
    try:
        end = parse_time(end_date)
    except BadParam:
        return False
    return (f.end_min is None or end >= f.end_min) and (f.end_max is None or end <= f.end_max)


def sort_value(value: Any) -> tuple[Any, ...]:
    """A JSON field as a sort key part: missing first, then numbers (exactly, as Decimal), then text."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, Decimal(int(value)))
    if isinstance(value, (int, float, str)):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return (2, str(value))
        if number.is_finite():  # "NaN" and "Infinity" are text here: a NaN would not compare
            return (1, number)
    return (2, str(value))


def order_key(q: Query, render: Callable[[Any], dict[str, Any]]) -> tuple[Callable[[Any], tuple[Any, ...]], bool]:
    """The sort key (ending with the numeric gamma id) and whether it runs descending."""
    descending = parse_bool(q.get("ascending"), "ascending") is False
    fields = [f.strip() for f in (q.get("order") or "").split(",") if f.strip()]
    if not fields or fields == ["id"]:
        return (lambda x: (int(x.gamma_id),)), descending

    def key(x: Any) -> tuple[Any, ...]:
        body = render(x)
        return (*(sort_value(body.get(f)) for f in fields), int(x.gamma_id))

    return key, descending


def canonical_scope(path: str, q: Query, keys: list[str]) -> str:
    """The endpoint and its filters in one order-independent text (what a keyset cursor is bound to)."""
    skip = {"limit", "after_cursor", "cursor"}
    parts = [f"{k}={sorted(q.getlist(k))}" for k in sorted(set(keys) - skip) if any(q.getlist(k))]
    return path + "?" + "&".join(parts)
