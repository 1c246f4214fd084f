"""Which assets the ingestor follows, and the market metadata their hashes need.

Sources, merged: the tokens of markets selected for making on ``PB_MARKETS`` (gamma-sync's last message per
market), the ``assets`` of the ingestor settings (kept whatever gamma says), and ``pb.gamma.market.*``
messages while running (a market becoming selected adds its tokens; closed, missing or deselected removes
them). Hash metadata (``tick_size``, ``min_order_size``, ``neg_risk``) comes from those messages; for an
asset whose market or metadata is unknown, from REST ``/book``, which carries all of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from polybot.bus.messages import MarketInfo
from polybot.domain.book_events import VenueBook
from polybot.domain.book_verify import MarketMeta


@dataclass(frozen=True, slots=True)
class TrackedAsset:
    """An asset to ingest; ``market``/``meta`` are ``None`` until known (then REST ``/book`` tells)."""

    asset_id: str
    market: str | None = None
    meta: MarketMeta | None = None

    @property
    def complete(self) -> bool:
        return self.market is not None and self.meta is not None


def from_config(asset_ids: Iterable[str]) -> list[TrackedAsset]:
    return [TrackedAsset(a) for a in asset_ids]


def merge(*groups: Iterable[TrackedAsset]) -> list[TrackedAsset]:
    """One entry per asset; later groups fill what earlier ones lack but never erase it."""
    merged: dict[str, TrackedAsset] = {}
    for group in groups:
        for a in group:
            have = merged.get(a.asset_id)
            if have is None:
                merged[a.asset_id] = a
            else:
                merged[a.asset_id] = TrackedAsset(a.asset_id, have.market or a.market, have.meta or a.meta)
    return list(merged.values())


def completed(asset: TrackedAsset, rest_book: VenueBook) -> TrackedAsset:
    """Fill the market and any missing metadata from a REST ``/book`` of the asset."""
    base = asset.meta or MarketMeta()
    meta = asset.meta or MarketMeta(rest_book.tick_size or base.tick_size,
                                    rest_book.min_order_size or base.min_order_size,
                                    base.neg_risk if rest_book.neg_risk is None else rest_book.neg_risk)
    return TrackedAsset(asset.asset_id, asset.market or rest_book.market, meta)


def wanted(info: MarketInfo) -> bool:
    """Whether a market's tokens should be ingested, per its gamma-sync message."""
    return info.selected_for_making and not info.closed and not info.missing


def from_market_info(info: MarketInfo) -> list[TrackedAsset]:
    meta = None
    if info.tick_size is not None and info.min_order_size is not None:
        meta = MarketMeta.of(info.tick_size, info.min_order_size, info.neg_risk)
    return [TrackedAsset(t.token_id, info.condition_id, meta) for t in sorted(info.tokens, key=lambda t: t.index)]


def market_change(info: MarketInfo, keep: frozenset[str]) -> tuple[list[TrackedAsset], list[str]]:
    """What one gamma-sync message means for the asset set: (assets to follow, asset ids to drop).

    Tokens in ``keep`` (the configured assets) are never dropped.
    """
    assets = from_market_info(info)
    if wanted(info):
        return assets, []
    return [], [a.asset_id for a in assets if a.asset_id not in keep]
