"""The JetStream streams Polybot uses, declared once and created idempotently at service start."""

from __future__ import annotations

from dataclasses import dataclass

from polybot.bus import subjects

_DUPLICATE_WINDOW_S = 120.0


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    max_age_s: float
    max_msgs_per_subject: int = -1
    max_bytes: int = -1
    duplicate_window_s: float = _DUPLICATE_WINDOW_S


# Deltas only need to outlive the snapshot cadence (30 s by default): a cold consumer loads the last
# snapshot and applies the deltas after it.
BOOK_DELTAS = StreamSpec("PB_BOOK_DELTAS", (subjects.BOOK_DELTA_ALL,), max_age_s=15 * 60, max_bytes=2 << 30)
BOOK_SNAPSHOTS = StreamSpec("PB_BOOK_SNAPSHOTS", (subjects.BOOK_SNAPSHOT_ALL,), 24 * 3600, max_msgs_per_subject=1)
BOOK_STATE = StreamSpec("PB_BOOK_STATE", (subjects.BOOK_STATE_ALL,), 24 * 3600, max_msgs_per_subject=1)
MARKETS = StreamSpec("PB_MARKETS", (subjects.GAMMA_MARKET_ALL,), 30 * 24 * 3600, max_msgs_per_subject=1)
PLANS = StreamSpec("PB_PLANS", (subjects.QUOTE_PLAN_ALL,), 3600)
ORDERS = StreamSpec("PB_ORDERS", (subjects.ORDER_ALL,), 7 * 24 * 3600)
POSITIONS = StreamSpec("PB_POSITIONS", (subjects.POSITION_ALL,), 30 * 24 * 3600, max_msgs_per_subject=1)
CONTROL = StreamSpec("PB_CONTROL", (subjects.CTL_KILL, subjects.CTL_RISK_ALL), 30 * 24 * 3600,
                     max_msgs_per_subject=1)


def book_subjects(asset_id: str) -> tuple[tuple[StreamSpec, str], ...]:
    """Every (stream, subject) that holds one asset's book messages."""
    return ((BOOK_DELTAS, subjects.book_delta(asset_id)), (BOOK_SNAPSHOTS, subjects.book_snapshot(asset_id)),
            (BOOK_STATE, subjects.book_state(asset_id)))


ALL_STREAMS: tuple[StreamSpec, ...] = (BOOK_DELTAS, BOOK_SNAPSHOTS, BOOK_STATE, MARKETS, PLANS, ORDERS, POSITIONS,
                                       CONTROL)
