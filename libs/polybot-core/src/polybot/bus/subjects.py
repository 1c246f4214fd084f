"""Every NATS subject Polybot uses. No other module builds a subject string.

Tokens that come from the venue (asset ids, condition ids) are checked so that a stray ``.``, ``*``, ``>`` or
space can never widen a subscription or split a subject.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

PREFIX = "pb"
ALL = f"{PREFIX}.>"

_TOKEN = re.compile(r"[A-Za-z0-9_\-]+")


class InvalidSubjectToken(ValueError):
    """A venue identifier cannot be used as one subject token."""


def _token(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise InvalidSubjectToken(f"not a valid subject token: {value!r}")
    return value


# --- market data (ingestor → quoter, anyone) -------------------------------------------------------------
BOOK_DELTA_ALL = f"{PREFIX}.book.delta.*"
BOOK_SNAPSHOT_ALL = f"{PREFIX}.book.snapshot.*"
BOOK_STATE_ALL = f"{PREFIX}.book.state.*"


def book_delta(asset_id: str) -> str:
    """Normalized book deltas of one asset, ``seq`` strictly +1."""
    return f"{PREFIX}.book.delta.{_token(asset_id)}"


def book_snapshot(asset_id: str) -> str:
    """Full book of one asset; the stream keeps the last one per subject."""
    return f"{PREFIX}.book.snapshot.{_token(asset_id)}"


def book_state(asset_id: str) -> str:
    """State changes of one book (live, resyncing, stale), for consumers that must stop quoting."""
    return f"{PREFIX}.book.state.{_token(asset_id)}"


# --- market set (gamma-sync → ingestor, quoter) ---------------------------------------------------------------
GAMMA_MARKET_ALL = f"{PREFIX}.gamma.market.*"


def gamma_market(condition_id: str) -> str:
    """A new or changed market; published only when something changed."""
    return f"{PREFIX}.gamma.market.{_token(condition_id)}"


# --- quoting and execution ----------------------------------------------------------------------------------
QUOTE_PLAN_ALL = f"{PREFIX}.quote.plan.*"
ORDER_ACK_ALL = f"{PREFIX}.order.ack.*"
ORDER_FILL_ALL = f"{PREFIX}.order.fill.*"
ORDER_ALL = f"{PREFIX}.order.>"
POSITION_ALL = f"{PREFIX}.position.*"


def quote_plan(condition_id: str) -> str:
    return f"{PREFIX}.quote.plan.{_token(condition_id)}"


def order_ack(condition_id: str) -> str:
    return f"{PREFIX}.order.ack.{_token(condition_id)}"


def order_fill(condition_id: str) -> str:
    return f"{PREFIX}.order.fill.{_token(condition_id)}"


def position(condition_id: str) -> str:
    """The executor's ``MarketPosition`` of one market; the stream keeps the last one per subject."""
    return f"{PREFIX}.position.{_token(condition_id)}"


# --- control (core NATS; the kill switch and risk states are kept last per subject in PB_CONTROL) ----------
CTL_ALL = f"{PREFIX}.ctl.>"
CTL_KILL = f"{PREFIX}.ctl.kill"
CTL_CANCEL_ALL = f"{PREFIX}.ctl.cancel_all"  # request/reply: every executor cancels and answers how many
CTL_RESYNC_ALL = f"{PREFIX}.ctl.resync.*"  # the ingestor listens here for ResyncRequest
CTL_RISK_ALL = f"{PREFIX}.ctl.risk.*"
CTL_RISK_REQUEST = f"{PREFIX}.ctl.risk_request"  # request/reply: every executor reports (and clears) its halts


def ctl_risk(backend: str) -> str:
    """An executor's ``RiskState`` (by backend: paper, sim, live); the stream keeps the last per subject."""
    return f"{PREFIX}.ctl.risk.{_token(backend)}"


def ctl_resync(asset_id: str) -> str:
    """Ask the ingestor to re-snapshot one asset."""
    return f"{PREFIX}.ctl.resync.{_token(asset_id)}"


def ctl_heartbeat(service: str) -> str:
    return f"{PREFIX}.ctl.heartbeat.{_token(service)}"


# --- aliases for people (``polybot tap books``) -----------------------------------------------------------------
BOOK_ALL = f"{PREFIX}.book.>"  # deltas, snapshots and states of every asset
TAP_ALIASES: Mapping[str, str] = MappingProxyType({
    "books": BOOK_ALL,
    "plans": QUOTE_PLAN_ALL,
    "orders": ORDER_ALL,  # acks and fills
    "fills": ORDER_FILL_ALL,
    "ctl": CTL_ALL,
})
