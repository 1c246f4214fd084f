"""Which assets to follow: merging sources, gamma-sync messages (pure)."""

from __future__ import annotations

from decimal import Decimal

from polybot.app.ingest.markets import TrackedAsset, completed, from_market_info, market_change, merge
from polybot.bus.messages import MarketInfo, OutcomeToken
from polybot.domain.book_events import VenueBook
from polybot.domain.book_verify import MarketMeta


def _info(**kw: object) -> MarketInfo:
    base: dict[str, object] = {"condition_id": "0xc", "question": "q", "ts_ms": 1, "selected_for_making": True,
                               "tokens": (OutcomeToken(token_id="n", outcome="No", index=1),
                                          OutcomeToken(token_id="y", outcome="Yes", index=0)),
                               "tick_size": Decimal("0.010"), "min_order_size": Decimal("5.0")}
    base.update(kw)
    return MarketInfo(**base)  # type: ignore[arg-type]


def test_market_tokens_carry_venue_formatted_metadata_only_when_complete() -> None:
    yes, no = from_market_info(_info(neg_risk=True))
    assert (yes.asset_id, no.asset_id) == ("y", "n")  # outcome order
    assert yes.meta == MarketMeta("0.01", "5", True) and yes.complete
    (partial, _) = from_market_info(_info(tick_size=None))
    assert partial.meta is None and not partial.complete


def test_merge_keeps_one_entry_per_asset_and_fills_gaps() -> None:
    merged = merge([TrackedAsset("a", "0xc", None)], [TrackedAsset("a", None, MarketMeta()), TrackedAsset("b")])
    assert merged == [TrackedAsset("a", "0xc", MarketMeta()), TrackedAsset("b")]


def test_rest_book_completes_market_and_metadata() -> None:
    book = VenueBook("a", "0xc", 1, "1", (), (), None, "rest", tick_size="0.001", min_order_size="15", neg_risk=True)
    assert completed(TrackedAsset("a"), book) == TrackedAsset("a", "0xc", MarketMeta("0.001", "15", True))


def test_market_messages_add_or_drop_tokens_but_never_configured_ones() -> None:
    add, drop = market_change(_info(), frozenset())
    assert [a.asset_id for a in add] == ["y", "n"] and drop == []
    assert add[0].meta == MarketMeta("0.01", "5", False)
    for change in ({"selected_for_making": False}, {"closed": True}, {"missing": True}):
        add, drop = market_change(_info(**change), frozenset({"n"}))
        assert add == [] and drop == ["y"]
