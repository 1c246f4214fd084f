"""What Gamma shows of the catalog: listed (not delisted) markets and events, the listing filters applied
to them, and their JSON. Shared by the legacy, keyset and single-item routes so they never disagree.

An event is shown while it has a listed market; in a listing it matches when one of its markets has a
requested ``version``, and nests only those markets.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from polysim.gamma_query import Filters, end_in_range, in_range
from polysim.gamma_wire import gamma_event, gamma_market, listed_markets, market_amounts

if TYPE_CHECKING:
    from polysim.catalog import SimEvent, SimMarket
    from polysim.context import SimContext


class GammaViews:
    """Gamma's view of one simulator's catalog (read live: run-time additions and delistings show at once)."""

    def __init__(self, ctx: SimContext) -> None:
        self.catalog = ctx.catalog
        self.books = ctx.engine.books
        self.config = ctx.config

    def market_json(self, m: SimMarket) -> dict[str, Any]:
        return gamma_market(m, self.books.get(m.condition_id), fee_rate_bps=self.config.fee_rate_bps)

    def event_json(self, e: SimEvent, markets: list[SimMarket] | None = None) -> dict[str, Any]:
        return gamma_event(e, self.books, markets, fee_rate_bps=self.config.fee_rate_bps)

    @staticmethod
    def event_closed(e: SimEvent) -> bool:
        markets = listed_markets(e)
        return e.closed or (bool(markets) and all(m.closed for m in markets))

    def market(self, gamma_id: str) -> SimMarket | None:
        m = self.catalog.by_gamma_id.get(gamma_id)
        return m if m is not None and not m.delisted else None

    def market_by_slug(self, slug: str) -> SimMarket | None:
        return next((m for m in self.catalog.markets if m.slug == slug and not m.delisted), None)

    def event(self, gamma_id: str) -> SimEvent | None:
        e = self.catalog.events_by_id.get(gamma_id)
        return e if e is not None and listed_markets(e) else None

    def event_by_slug(self, slug: str) -> SimEvent | None:
        return next((e for e in self.catalog.events if e.slug == slug and listed_markets(e)), None)

    def shown_events(self) -> list[SimEvent]:
        return [e for e in self.catalog.events if listed_markets(e)]

    def markets(self, f: Filters) -> list[SimMarket]:
        """The listed markets matching ``f``, in catalog order."""
        return [m for m in self.catalog.markets if _market_matches(m, f)]

    def events(self, f: Filters) -> list[SimEvent]:
        """The shown events matching ``f``, in catalog order (nest ``nested(e, f)`` in their JSON)."""
        return [e for e in self.catalog.events if self._event_matches(e, f)]

    @staticmethod
    def nested(e: SimEvent, f: Filters) -> list[SimMarket]:
        return [m for m in listed_markets(e) if m.version in f.versions]

    def _event_matches(self, e: SimEvent, f: Filters) -> bool:
        markets = self.nested(e, f)
        if not markets or self.event_closed(e) != f.closed:
            return False
        if (f.active is not None and e.active != f.active) or f.archived:  # events are never archived here
            return False
        if (f.ids and e.gamma_id not in f.ids) or (f.slugs and e.slug not in f.slugs):
            return False
        if f.tag_ids and not f.tag_ids.intersection(t[0] for t in e.tags):
            return False
        listed = listed_markets(e)
        if _bounds_amounts(f):
            amounts = [market_amounts(m) for m in listed]
            liquidity = sum((a[0] for a in amounts), Decimal(0))
            volume = sum((a[1] for a in amounts), Decimal(0))
            if not _amounts_ok(liquidity, volume, f):
                return False
        return end_in_range(listed[0].end_date, f)


def _bounds_amounts(f: Filters) -> bool:
    return any(b is not None for b in (f.liquidity_min, f.liquidity_max, f.volume_min, f.volume_max))


def _amounts_ok(liquidity: Decimal, volume: Decimal, f: Filters) -> bool:
    return in_range(liquidity, f.liquidity_min, f.liquidity_max) and in_range(volume, f.volume_min, f.volume_max)


def _market_matches(m: SimMarket, f: Filters) -> bool:
    if m.delisted or m.closed != f.closed or m.version not in f.versions:
        return False
    if (f.active is not None and m.active != f.active) or (f.archived is not None and m.archived != f.archived):
        return False
    if (f.ids and m.gamma_id not in f.ids) or (f.slugs and m.slug not in f.slugs):
        return False
    if f.condition_ids and m.condition_id.lower() not in f.condition_ids:
        return False
    if f.token_ids and not f.token_ids.intersection(m.token_ids):
        return False
    if f.tag_ids and not f.tag_ids.intersection(t[0] for t in m.event.tags):
        return False
    if _bounds_amounts(f) and not _amounts_ok(*market_amounts(m), f):
        return False
    return end_in_range(m.end_date, f)
