"""Which markets Polybot makes markets in: a pure rule set over a market record and the time.

A market must first be *makeable*: of a protocol version the executor signs for (``SUPPORTED_VERSIONS``:
v1 CTF markets; v2 Protocol V2 markets are not, until the executor supports them), active, not closed, order
book enabled, at least two outcome tokens and (unless disabled) accepting orders. A makeable market is
then selected when

- it is listed explicitly (by condition id or slug), regardless of the filters below; or
- ``auto`` is on and it passes every configured filter: one of ``tag_ids`` (market or event tags),
  ``min_liquidity``, ``min_volume``, ends more than ``min_time_to_end_ms`` after now, and rewards-eligible
  when ``require_rewards``.

The result carries a reason, so an operator can ask why a market is (not) selected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from polybot.domain.market_records import V1, MarketRecord

SUPPORTED_VERSIONS = frozenset({V1})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SelectionRules:
    condition_ids: frozenset[str] = frozenset()
    slugs: frozenset[str] = frozenset()
    auto: bool = False
    tag_ids: frozenset[str] = frozenset()
    min_liquidity: Decimal | None = None
    min_volume: Decimal | None = None
    require_accepting_orders: bool = True
    min_time_to_end_ms: int = 0
    require_rewards: bool = False


@dataclass(frozen=True, slots=True)
class Selection:
    selected: bool
    reason: str


def _end_ms(market: MarketRecord) -> int | None:
    if market.end_date is None:
        return None
    if market.end_date.tzinfo is None:
        raise ValueError(f"end date of {market.condition_id} has no time zone")
    delta = market.end_date - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _unmakeable(market: MarketRecord, rules: SelectionRules) -> str | None:
    if market.version not in SUPPORTED_VERSIONS:
        return f"protocol version {market.version} is not supported by the executor yet"
    if market.closed:
        return "closed"
    if not market.active:
        return "inactive"
    if not market.enable_order_book:
        return "order book disabled"
    if len(market.outcomes) < 2:
        return "fewer than two outcome tokens"
    if rules.require_accepting_orders and not market.accepting_orders:
        return "not accepting orders"
    return None


def _filtered_out(market: MarketRecord, tag_ids: frozenset[str], rules: SelectionRules, now_ms: int) -> str | None:
    if rules.tag_ids and not rules.tag_ids & tag_ids:
        return "no selected tag"
    if rules.min_liquidity is not None and (market.liquidity is None or market.liquidity < rules.min_liquidity):
        return "liquidity below minimum"
    if rules.min_volume is not None and (market.volume is None or market.volume < rules.min_volume):
        return "volume below minimum"
    if rules.min_time_to_end_ms > 0:
        end = _end_ms(market)
        if end is None:
            return "no end date"
        if end - now_ms <= rules.min_time_to_end_ms:
            return "ends too soon"
    if rules.require_rewards and not market.rewards_eligible:
        return "not rewards-eligible"
    return None


def select_for_making(
    market: MarketRecord, rules: SelectionRules, now_ms: int, event_tag_ids: Iterable[str] = ()
) -> Selection:
    """Decide whether ``market`` is selected for making at ``now_ms`` (unix milliseconds)."""
    blocked = _unmakeable(market, rules)
    if blocked is not None:
        return Selection(False, blocked)
    if market.condition_id in rules.condition_ids:
        return Selection(True, "explicit condition id")
    if market.slug is not None and market.slug in rules.slugs:
        return Selection(True, "explicit slug")
    if not rules.auto:
        return Selection(False, "not listed and auto selection is off")
    failed = _filtered_out(market, frozenset(market.tag_ids) | frozenset(event_tag_ids), rules, now_ms)
    if failed is not None:
        return Selection(False, failed)
    return Selection(True, "rules")
