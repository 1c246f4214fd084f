"""The ingestor's ``/status`` view of its books, grouped by market."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from polybot.domain.book_sync import BookSync


def books_by_market(books: Iterable[BookSync], now_ms: int) -> dict[str, dict[str, Any]]:
    """``{market: {asset_id: {state, last_seq, last_update_ts_ms, freshness_ms, …}}}``."""
    markets: dict[str, dict[str, Any]] = {}
    for sync in books:
        st = sync.stats
        bb, ba = sync.book.best_bid(), sync.book.best_ask()
        markets.setdefault(sync.market, {})[sync.asset_id] = {
            "state": sync.state.value,
            "last_seq": sync.seq,
            "last_update_ts_ms": st.last_update_ts_ms,
            "freshness_ms": now_ms - st.last_update_ts_ms if st.last_update_ts_ms else None,
            "snapshots": st.snapshots,
            "deltas": st.deltas,
            "resyncs": dict(st.resyncs),
            "buffered": sync.buffered,
            "best_bid": bb.raw_price if bb else None,
            "best_ask": ba.raw_price if ba else None,
            "tick_size": sync.meta.tick_size,
        }
    return markets
