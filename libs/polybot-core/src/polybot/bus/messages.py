"""Every message that travels on the bus.

Each message is a frozen pydantic model tagged by ``type`` and carrying ``schema_version``. Money (prices,
sizes) is ``Decimal`` and is encoded as a JSON string. Unknown fields are ignored on decode so that a newer
producer does not break an older consumer; a change that alters meaning bumps ``schema_version``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from polybot.domain.book import Side


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = 1


class BookLevel(BaseModel):
    model_config = ConfigDict(frozen=True)

    price: Decimal
    size: Decimal


class LevelUpdate(BaseModel):
    """The new absolute size of one level; ``size == 0`` removes it."""

    model_config = ConfigDict(frozen=True)

    side: Side
    price: Decimal
    size: Decimal


# --- market data -------------------------------------------------------------------------------------------
# The book feed's contract (docs/book-feed.md): per asset, ``(epoch, seq)`` never goes back; within an epoch
# ``seq`` is strictly +1 per message; a new epoch begins with a ``reset`` delta carrying the whole book (and a
# snapshot at the same ``(epoch, seq)``): a consumer replaces its book, it never applies it as a diff.
class BookDelta(_Msg):
    schema_version: int = 2  # 2: epoch and reset
    type: Literal["book.delta"] = "book.delta"
    asset_id: str
    market: str
    seq: int
    ts_ms: int  # venue timestamp
    recv_ts_ms: int  # when the ingestor received the frame
    changes: tuple[LevelUpdate, ...]
    hash: str | None = None
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None
    epoch: int = 0
    reset: bool = False  # the first message of ``epoch``: ``changes`` are the whole book, replacing it


class BookSnapshot(_Msg):
    """A whole book; ``bids`` and ``asks`` are best first. ``(epoch, seq)`` is that of the last delta it
    includes. ``verified`` is false only while the book's hash is pending (not quotable yet); a book known
    to be wrong is never published."""

    schema_version: int = 2  # 2: epoch and verified
    type: Literal["book.snapshot"] = "book.snapshot"
    asset_id: str
    market: str
    seq: int
    ts_ms: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    tick_size: Decimal
    min_order_size: Decimal | None = None
    neg_risk: bool = False
    hash: str | None = None
    reason: str = "periodic"
    epoch: int = 0
    verified: bool = True


class BookStatus(_Msg):
    """The ingestor's view of one book: consumers must not quote unless ``state == "live"`` (``unverified``:
    published, hash pending; ``resyncing``, ``awaiting_snapshot``, ``disconnected``: no book to trust)."""

    schema_version: int = 2  # 2: epoch and seq
    type: Literal["book.state"] = "book.state"
    asset_id: str
    market: str
    state: str
    reason: str | None = None
    ts_ms: int
    epoch: int = 0
    seq: int = 0  # the book's position when the state changed


# --- market set --------------------------------------------------------------------------------------------
class OutcomeToken(BaseModel):
    model_config = ConfigDict(frozen=True)

    token_id: str
    outcome: str
    index: int


class FeeScheduleInfo(BaseModel):
    """A market's fee schedule as Gamma gives it (``feeSchedule``)."""

    model_config = ConfigDict(frozen=True)

    exponent: Decimal
    rate: Decimal
    taker_only: bool
    rebate_rate: Decimal


class MarketInfo(_Msg):
    type: Literal["gamma.market"] = "gamma.market"
    condition_id: str
    question: str
    slug: str | None = None
    event_id: str | None = None
    tokens: tuple[OutcomeToken, ...]
    tick_size: Decimal | None = None
    min_order_size: Decimal | None = None
    neg_risk: bool = False
    active: bool = True
    closed: bool = False
    accepting_orders: bool = True
    enable_order_book: bool = True
    end_date: str | None = None
    selected_for_making: bool = False
    ts_ms: int
    missing: bool = False  # no longer listed by Gamma (the row is kept, marked missing_since)
    info_hash: str | None = None  # digest of the other fields except ts_ms; equal digests mean no change
    version: str = "v1"  # Gamma's protocol version: "v1" CTF markets, "v2" Protocol V2 (not made yet)
    fees_enabled: bool | None = None
    fee_schedule: FeeScheduleInfo | None = None
    # liquidity rewards (Gamma's rewardsMaxSpread is in cents: 3.5 means within 0.035 of the adjusted midpoint)
    rewards_max_spread: Decimal | None = None
    rewards_min_size: Decimal | None = None
    rewards_daily_rate: Decimal | None = None


# --- quoting and execution ---------------------------------------------------------------------------------
class PlaceIntent(BaseModel):
    """One order the executor decided to place (its audit and acks; plans carry targets, not intents)."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal
    post_only: bool = True
    order_type: Literal["GTC", "GTD", "FOK", "FAK"] = "GTC"


class CancelIntent(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    asset_id: str
    reason: str


class QuoteOrder(BaseModel):
    """One order the quoter wants resting: on ``asset_id``, ``side`` at ``price`` for ``size`` shares."""

    model_config = ConfigDict(frozen=True)

    asset_id: str
    side: Side
    price: Decimal
    size: Decimal


class QuotePlan(_Msg):
    """A target: exactly the orders Polybot wants resting in ``market`` now (``orders`` empty: pull every quote).

    The executor reconciles the newest unexpired plan of a market (highest ``seq``; older or expired ones
    are ignored) against its live orders: a live order within ``keep_ticks`` ticks of a target's price (on
    the same asset and side) and whose size is within ``keep_size_frac`` of the target's is kept; everything
    else is cancelled or placed. A lost, repeated or late plan therefore leaves nothing behind.
    """

    schema_version: int = 3  # 3: a target (orders + tolerances), no longer cancels and places
    type: Literal["quote.plan"] = "quote.plan"
    plan_id: str
    market: str
    seq: int  # per market, strictly increasing (the quoter's clock epoch + counter survives restarts)
    created_ts_ms: int
    ttl_ms: int
    orders: tuple[QuoteOrder, ...] = ()
    tick_size: Decimal
    keep_ticks: int = 0  # 0: the price must match exactly
    keep_size_frac: Decimal = Decimal(0)
    post_only: bool = True
    reason: str = ""  # "quote", "refresh", or why quotes are pulled ("stale_book", "kill_switch", ...)

    @property
    def expires_ts_ms(self) -> int:
        return self.created_ts_ms + self.ttl_ms


class TokenPosition(BaseModel):
    model_config = ConfigDict(frozen=True)

    asset_id: str
    size: Decimal  # shares held (never negative on Polymarket: selling what you lack is buying the other side)
    avg_price: Decimal | None = None


class RestingOrder(BaseModel):
    """One of our orders resting on the venue, as the executor knows it."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal  # remaining (unfilled) size


class MarketPosition(_Msg):
    """The executor's truth for one market: what we hold and what rests. Published on every change on
    ``pb.position.<condition_id>`` (the stream keeps the last per subject: a quoter's cold start)."""

    type: Literal["position"] = "position"
    market: str
    seq: int  # per market, strictly increasing
    positions: tuple[TokenPosition, ...] = ()
    open_orders: tuple[RestingOrder, ...] = ()
    ts_ms: int


class OrderAck(_Msg):
    """What became of one order action of a plan. ``unknown``: the venue's answer was lost (the order may
    rest; ``order_id`` is its hash, resolved later); ``refused``: our risk limits kept it from being sent."""

    schema_version: int = 2  # 2: unknown and refused
    type: Literal["order.ack"] = "order.ack"
    plan_id: str
    market: str
    asset_id: str
    action: Literal["place", "cancel"]
    status: Literal["accepted", "rejected", "canceled", "not_canceled", "unknown", "refused"]
    client_id: str | None = None
    order_id: str | None = None
    side: Side | None = None
    price: Decimal | None = None
    size: Decimal | None = None
    error: str | None = None
    ts_ms: int


class OrderFill(_Msg):
    type: Literal["order.fill"] = "order.fill"
    fill_id: str
    order_id: str
    market: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal
    status: str = "MATCHED"
    ts_ms: int


# --- control -----------------------------------------------------------------------------------------------
class KillSwitch(_Msg):
    type: Literal["ctl.kill"] = "ctl.kill"
    engaged: bool
    reason: str
    ts_ms: int


class CancelAllRequest(_Msg):
    """Ask every executor to cancel its orders now (of ``market``, or all); each answers ``CancelAllDone``."""

    type: Literal["ctl.cancel_all"] = "ctl.cancel_all"
    market: str | None = None
    reason: str = "operator"
    ts_ms: int


class CancelAllDone(_Msg):
    type: Literal["ctl.cancel_all.done"] = "ctl.cancel_all.done"
    executor: str
    canceled: int
    open_orders: int  # what still rests after it (0 unless the venue refused some)
    error: str | None = None


class RiskBreachInfo(BaseModel):
    """One risk breach in force (``polybot.domain.risk.Breach``)."""

    model_config = ConfigDict(frozen=True)

    scope: str  # a condition id, or "*" (every market)
    limit: str  # position, daily_loss, error_rate
    value: Decimal
    threshold: Decimal
    ts_ms: int
    detail: str = ""


class RiskState(_Msg):
    """An executor's risk halts and the day's PnL, published on ``pb.ctl.risk.<backend>`` whenever a breach
    trips or is cleared (the stream keeps the last per subject)."""

    type: Literal["ctl.risk"] = "ctl.risk"
    executor: str
    breaches: tuple[RiskBreachInfo, ...] = ()
    day_pnl_usdc: Decimal | None = None
    ts_ms: int


class RiskRequest(_Msg):
    """Ask every executor for its risk halts and, with ``clear``, to clear them (of ``scope``, or every one);
    each answers ``RiskAnswer``."""

    type: Literal["ctl.risk_request"] = "ctl.risk_request"
    clear: bool = False
    scope: str | None = None
    reason: str = "operator"
    ts_ms: int


class RiskAnswer(_Msg):
    type: Literal["ctl.risk_answer"] = "ctl.risk_answer"
    executor: str
    cleared: tuple[RiskBreachInfo, ...] = ()
    breaches: tuple[RiskBreachInfo, ...] = ()  # in force after the request
    day_pnl_usdc: Decimal | None = None
    error: str | None = None


class ResyncRequest(_Msg):
    type: Literal["ctl.resync"] = "ctl.resync"
    asset_id: str
    reason: str


class Heartbeat(_Msg):
    type: Literal["ctl.heartbeat"] = "ctl.heartbeat"
    service: str
    instance: str
    ts_ms: int


BusMessage = Annotated[
    BookDelta
    | BookSnapshot
    | BookStatus
    | MarketInfo
    | QuotePlan
    | MarketPosition
    | OrderAck
    | OrderFill
    | KillSwitch
    | CancelAllRequest
    | CancelAllDone
    | RiskState
    | RiskRequest
    | RiskAnswer
    | ResyncRequest
    | Heartbeat,
    Field(discriminator="type"),
]
