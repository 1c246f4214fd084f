"""One page of a Gamma listing, parsed item by item, the spool a listing is read into, and the counts a
refresh reports.

A malformed item is skipped with a logged reason and counted in ``skipped_invalid``; it never aborts its
page. The condition id of a skipped market is still remembered (when it has one), so that a market which
merely failed to parse is not mistaken for one that disappeared.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

import orjson

from polybot.domain.market_records import MarketRecord
from polybot.store.gamma_repo import EventWrite
from polybot.venue.gamma_schemas import InvalidItem, parse_event, parse_market

log = logging.getLogger(__name__)


@dataclass
class RefreshCounts:
    """What one refresh did. ``summary()`` is the operator-facing subset (``polybot gamma-refresh``)."""

    kind: str
    events: int = 0
    markets: int = 0
    outcomes: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_invalid: int = 0
    selected_for_making: int = 0
    duration_s: float = 0.0
    published: int = 0
    missing_marked: int = 0
    clob_enriched: int = 0
    clob_overrides: int = 0
    clob_errors: int = 0
    pages: int = 0

    SUMMARY_KEYS = ("events", "markets", "outcomes", "inserted", "updated", "unchanged", "skipped_invalid",
                    "selected_for_making", "duration_s")

    def summary(self) -> dict[str, int | float]:
        return {k: (round(self.duration_s, 3) if k == "duration_s" else getattr(self, k)) for k in self.SUMMARY_KEYS}

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["duration_s"] = round(self.duration_s, 3)
        return d


@dataclass(frozen=True, slots=True)
class ParsedMarket:
    record: MarketRecord
    event_tags: tuple[str, ...] | None  # None: the payload did not say; look the event up
    raw: dict[str, Any]


@dataclass
class PageItems:
    events: list[EventWrite] = field(default_factory=list)
    markets: list[ParsedMarket] = field(default_factory=list)
    invalid: int = 0
    seen_ids: set[str] = field(default_factory=set)  # condition ids of skipped markets


def _skip(page: PageItems, kind: str, exc: InvalidItem, raw: Any) -> None:
    page.invalid += 1
    if kind == "market" and isinstance(raw, dict) and isinstance(raw.get("conditionId"), str):
        page.seen_ids.add(raw["conditionId"])
    log.warning("skipping invalid gamma item", extra={"kind": kind, "reason": exc.reason, "item_id": exc.item_id})


def _add_market(page: PageItems, raw: Any, event_id: str | None, event_tags: tuple[str, ...] | None) -> None:
    try:
        record, own_event_tags = parse_market(raw, event_id=event_id)
    except InvalidItem as exc:
        _skip(page, "market", exc, raw)
        return
    tags = event_tags if event_tags is not None else own_event_tags
    page.markets.append(ParsedMarket(record, tags, raw))


def parse_events_page(items: list[Any]) -> PageItems:
    """Parse ``/events`` items: each event, then each of its nested markets, independently."""
    page = PageItems()
    for raw in items:
        event_id: str | None = None
        tags: tuple[str, ...] | None = None
        try:
            event = parse_event(raw)
        except InvalidItem as exc:
            _skip(page, "event", exc, raw)
            if isinstance(raw, dict) and isinstance(raw.get("id"), str | int):
                event_id = str(raw["id"])
        else:
            event_id, tags = event.event_id, event.tag_ids
            shell = {k: v for k, v in raw.items() if k != "markets"}
            page.events.append(EventWrite(event, orjson.dumps(shell).decode()))
        nested = raw.get("markets") if isinstance(raw, dict) else None
        for m in nested if isinstance(nested, list) else ():
            _add_market(page, m, event_id, tags)
    return page


def parse_markets_page(items: list[Any]) -> PageItems:
    """Parse ``/markets`` items (each names its event in a nested ``events`` list)."""
    page = PageItems()
    for raw in items:
        _add_market(page, raw, None, None)
    return page


class ListingSpool:
    """The pages of one listing, kept until the walk has ended: in memory, on disk past ``max_memory_bytes``.

    A whole listing of today's venue (tens of thousands of markets, kilobytes each) is too much to hold as
    Python objects, but it must be read to its end before any of it is written.
    """

    def __init__(self, max_memory_bytes: int = 64 * 1024 * 1024) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=max_memory_bytes)  # noqa: SIM115 (closed by __exit__)
        self.pages = 0

    def add(self, items: list[Any]) -> None:
        self._file.write(orjson.dumps(items) + b"\n")
        self.pages += 1

    def __iter__(self) -> Iterator[list[Any]]:
        self._file.seek(0)
        for line in self._file:
            yield orjson.loads(line)

    def __enter__(self) -> ListingSpool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._file.close()
