"""``OrderGateway``: the executor's one door to a venue's orders (the unified SDK, paper, or a fake).

Everything the executor does to orders goes through these six calls, in our own types; a backend maps
them to its venue. The rules every backend keeps:

* ``place`` takes at most ``MAX_PLACE_BATCH`` orders and answers one ``PlaceAnswer`` per order, in order.
  A venue refusal is ``status="rejected"`` with the venue's message; a timeout or transport failure after
  the request may have reached the venue is ``status="unknown"`` with the ``order_id`` computed from the
  signed order (Polymarket's order id is the order's hash), never a rejection: the order may rest.
  A rejection may carry the id the order would have had (the venue never knew it).
* ``order_type`` FAK or FOK is an immediate order (the venue's IOC): it never rests; it answers
  ``matched`` with ``size_matched`` (FAK: what filled, the rest is dropped), or ``rejected`` when nothing
  (FOK: not everything) could be matched at ``price`` or better.
* ``cancel`` takes at most ``MAX_CANCEL_BATCH`` ids; ids the venue did not cancel come back in
  ``not_canceled`` with its reason (already filled, unknown...).
* ``open_orders`` and ``trades`` are the venue's truth for reconciliation.
* ``heartbeat`` keeps the venue's dead-man switch armed: the venue cancels every order of the key if no
  heartbeat arrives for 10 s; the id it answers chains into the next call.
* Errors that are not about one order (auth, the venue down, HTTP 425 while the matching engine restarts)
  raise ``GatewayError`` with ``retry_after_s`` when the venue said when to come back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from polybot.domain.book import Side

MAX_PLACE_BATCH = 15
MAX_CANCEL_BATCH = 1_000

OrderType = Literal["GTC", "GTD", "FAK", "FOK"]
PlaceStatus = Literal["live", "matched", "delayed", "rejected", "unknown"]


class GatewayError(Exception):
    """The venue could not take the call at all (not one order's refusal)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None,
                 paused: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s
        self.paused = paused  # the venue is pausing (425: matching engine restart): not an error rate event


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_id: str  # ours, for the audit; never sent as the venue's id
    market: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal
    tick_size: Decimal
    neg_risk: bool = False
    order_type: OrderType = "GTC"
    post_only: bool = True
    expiration_s: int | None = None  # GTD only: unix seconds, at least now + 60


@dataclass(frozen=True, slots=True)
class PlaceAnswer:
    client_id: str
    status: PlaceStatus
    order_id: str | None = None
    error: str | None = None
    trade_ids: tuple[str, ...] = ()
    size_matched: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class CancelAnswer:
    canceled: tuple[str, ...] = ()
    not_canceled: tuple[tuple[str, str], ...] = ()  # (order id, the venue's reason)


@dataclass(frozen=True, slots=True)
class VenueOrder:
    order_id: str
    market: str
    asset_id: str
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    status: str
    created_s: int | None = None

    @property
    def remaining(self) -> Decimal:
        return self.original_size - self.size_matched


@dataclass(frozen=True, slots=True)
class VenueTrade:
    trade_id: str
    order_id: str  # ours, the maker or taker order it filled
    market: str
    asset_id: str
    side: Side  # our side
    price: Decimal
    size: Decimal
    status: str  # MATCHED, MINED, CONFIRMED, RETRYING, FAILED
    match_time_ms: int
    fee_usdc: Decimal = Decimal(0)


class OrderGateway(Protocol):
    """The executor's view of a venue's orders (see the module docstring for the rules)."""

    name: str

    async def place(self, orders: Sequence[OrderRequest]) -> list[PlaceAnswer]: ...

    async def cancel(self, order_ids: Sequence[str]) -> CancelAnswer: ...

    async def cancel_all(self, market: str | None = None) -> CancelAnswer: ...

    async def open_orders(self, market: str | None = None) -> list[VenueOrder]: ...

    async def trades(self, after_ms: int) -> list[VenueTrade]: ...

    async def heartbeat(self, heartbeat_id: str | None) -> str: ...
